"""`synctui` (the console) as a process: errors before the screen, the demo, and its signals.

The console runs in a pseudo-terminal of its own, as it does over SSH; closing
that terminal is an SSH link dropping (the kernel sends SIGHUP).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from dataclasses import replace
from pathlib import Path

import pytest

import factories
from installed import PYTHON
from synctui.scheduler.records import Result
from synctui.scheduler.store import Store
from synctui.scheduler.sync_scheduler import SyncScheduler

CONFIG = """\
[scheduler]
timezone = "UTC"
state_dir = "{state_dir}"
shutdown_grace_seconds = {grace}

[jobs.long]
command = "echo started; sleep 30"
interval = "1h"
run_on_start = true
kill_grace_seconds = 1
"""


class Console:
    """`python -m synctui ARGS` in a 100x30 pseudo-terminal."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: its own session, the terminal its controlling one
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
                os.execve(PYTHON, [PYTHON, "-m", "synctui", *args], env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = b""
        self.status: int | None = None

    def read_until(self, text: str, timeout: float = 15.0) -> None:
        """Read the screen's bytes until `text` was drawn."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            assert time.monotonic() < deadline, f"never drawn: {text!r}"
            self._read(0.1)

    def hang_up(self) -> None:
        """Close the terminal, as a dropped SSH link does."""
        os.close(self.fd)
        self.fd = None

    def wait(self, timeout: float = 15.0) -> int:
        """The exit status, reading the screen meanwhile (a full terminal would block it)."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                raise AssertionError("the console did not exit")
            if self.fd is not None:
                self._read(0.05)
            else:
                time.sleep(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def _read(self, timeout: float) -> None:
        if select.select([self.fd], [], [], timeout)[0]:
            try:
                self.output += os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed its side
                time.sleep(0.05)

    def close(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self.fd is not None:
            os.close(self.fd)


@pytest.fixture
def environment(tmp_path) -> dict[str, str]:
    """An environment with no config anywhere, and the state under `tmp_path`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SYNCTUI")}
    env.update(TERM="xterm-256color", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_STATE_HOME=str(tmp_path / "xdg-state"), NO_COLOR="1", PYTHONSAFEPATH="1")
    return env


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "shop.toml"
    path.write_text(CONFIG.format(state_dir=tmp_path / "state", grace=1))
    return path


@pytest.fixture
def consoles():
    started: list[Console] = []
    yield lambda *args, **kwargs: started.append(Console(*args, **kwargs)) or started[-1]
    for console in started:
        console.close()


def run_record(tmp_path: Path):
    store = Store(tmp_path / "state")
    try:
        return store.runs("long", limit=1)[0]
    finally:
        store.close()


def test_a_config_error_exits_2_before_the_screen_opens(tmp_path, environment):
    bad = tmp_path / "bad.toml"
    bad.write_text('[jobs.x]\ncomand = "echo hi"\n')
    done = subprocess.run([PYTHON, "-m", "synctui", "--config", str(bad)], env=environment,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stdout == ""  # no screen was drawn
    assert done.stderr.startswith("synctui: ") and "comand" in done.stderr
    assert "Traceback" not in done.stderr


def test_with_a_live_host_the_console_attaches_and_says_it_runs_another_config(
    tmp_path, environment, config_file, consoles
):
    jobs = {"theirs": {"command": "true", "interval_s": 3600}}
    other = replace(factories.config(tmp_path, jobs), path=tmp_path / "other.toml")
    host = SyncScheduler(other, mode="headless")
    host.start()
    try:
        console = consoles(["--config", str(config_file)], environment)
        console.read_until("⇄ attached")
        console.read_until("theirs")  # the host's jobs, not the console's config's
        console.read_until("other.toml")  # said plainly
        console.read_until(f"pid {os.getpid()} · headless")  # in the status panel
        assert host.attached_consoles == 1
        os.kill(console.pid, signal.SIGTERM)
        assert console.wait() == 0
        assert host.status().running  # quitting an attached console leaves the host be
    finally:
        host.shutdown(grace=0)


def test_with_no_config_the_demo_starts_and_says_so(environment, consoles):
    console = consoles([], environment)
    console.read_until("◇ demo")
    console.read_until("orders")
    os.kill(console.pid, signal.SIGTERM)
    assert console.wait() == 0


def test_sigterm_stops_the_running_job_gracefully_and_restores_the_terminal(
    tmp_path, environment, config_file, consoles
):
    console = consoles(["--config", str(config_file)], environment)
    console.read_until("started")  # the job's first line, in the log tail
    os.kill(console.pid, signal.SIGTERM)
    assert console.wait() == 0
    assert b"\x1b[?1049l" in console.output  # the alternate screen was left
    assert b"Traceback" not in console.output
    record = run_record(tmp_path)
    assert record.result is Result.INTERRUPTED and record.duration_s >= 1.0


def test_a_dropped_terminal_stops_the_running_job_gracefully(
    tmp_path, environment, config_file, consoles
):
    console = consoles(["--config", str(config_file)], environment)
    console.read_until("started")
    console.hang_up()
    assert console.wait() == 0
    record = run_record(tmp_path)
    assert record.result is Result.INTERRUPTED and record.duration_s >= 1.0
    log = (tmp_path / "state" / "console.log").read_text()
    assert "SIGHUP received" in log and "Traceback" not in log
