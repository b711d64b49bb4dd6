"""The wall clock stepped under a running host, for real: the installed headless runs under
libfaketime (Debian's `faketime`, which `make tools` installs), whose offset file the test
rewrites. Its monotonic clock is left alone, as a real step leaves it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from commandline import write_config
from factories import wait_until

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
HOUR_BACK = "-3600\n"
TICKING = """
    [jobs.tick]
    command = "true"
    interval = "300ms"
"""

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def stepped_env(env, tmp_path):
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    assert LIBFAKETIME.exists(), "make tools installs faketime"
    return offset, {**env, "LD_PRELOAD": str(LIBFAKETIME), "FAKETIME_TIMESTAMP_FILE": str(offset),
                    "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}


def _starts(host) -> int:
    return len(re.findall(r"tick: run \d+ started", host.stderr()))


def test_an_interval_job_goes_on_when_the_clock_steps_back_under_its_host(
        tmp_path, stepped_env, hosts):
    offset, env = stepped_env
    config = write_config(tmp_path, TICKING)
    host = hosts.with_env(config, env)
    assert wait_until(lambda: _starts(host) >= 2)
    offset.write_text(HOUR_BACK)
    host.wait_for(r"the clock went back 3600s: interval jobs count their interval from now")
    before = _starts(host)
    # Without it the job would wait out the hour: its next fire time is in wall time.
    assert wait_until(lambda: _starts(host) >= before + 3, timeout=5)


def test_a_host_started_after_the_clock_went_back_runs_interval_jobs_at_once(
        tmp_path, stepped_env, hosts):
    offset, env = stepped_env
    config = write_config(tmp_path, TICKING)
    first = hosts.with_env(config, env)
    assert wait_until(lambda: _starts(first) >= 2)
    first.end()
    offset.write_text(HOUR_BACK)  # its last start is now an hour ahead of the clock
    second = hosts.with_env(config, env)
    second.wait_ready()
    assert wait_until(lambda: _starts(second) >= 2, timeout=5)
