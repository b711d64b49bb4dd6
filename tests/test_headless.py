"""`synctui --headless`, driven as the installed command in real processes.

Signals, reloads, log formats and `--once`, with real config files, real jobs
and a state directory in a temporary directory. The helpers are
in commandline.py and conftest.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from commandline import SYNCTUI, history, runs_of, synctui, write_config
from factories import pid_alive, wait_until
from synctui.log_format import setup_logging

# --- stopping -----------------------------------------------------------------------


def _sleeper(tmp_path: Path, grace: float) -> tuple[Path, Path]:
    """A config whose job starts `sleep 30` as a child, noting its pid, then says so."""
    pid_file = tmp_path / "sleep.pid"
    config = write_config(tmp_path, f"""
        [jobs.job]
        command = "sleep 30 & echo $! > {pid_file}; echo started; wait"
        interval = "200ms"
    """, grace=grace)
    return config, pid_file


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_gives_the_running_job_its_grace_then_records_it_interrupted(
    tmp_path, env, hosts, signum
):
    config, pid_file = _sleeper(tmp_path, grace=0.5)
    host = hosts(config)
    host.wait_for(r"^job\| started$", stdout=True)
    sleeper = int(pid_file.read_text())
    assert pid_alive(sleeper)

    asked = time.monotonic()
    host.send(signum)
    assert host.exit_status(timeout=10) == 0
    took = time.monotonic() - asked

    assert 0.5 <= took < 8  # the job got its grace, and no more than a few seconds beyond
    assert f"{signum.name} received: stopping (running jobs get up to 0.5s)" in host.stderr()
    assert not pid_alive(sleeper)  # the job's child went with it
    [run] = runs_of(config, env, "job")  # `sleep 30` held the only run the whole time
    assert run["result"] == "interrupted"
    assert run["error"] == "the scheduler stopped while it ran"
    log = synctui("logs", "job", "--config", str(config), env=env, cwd=tmp_path).stdout
    assert log.splitlines()[0] == "started"
    assert "[synctui] SIGTERM sent to the job's processes" in log


def test_a_second_sigterm_during_the_grace_ends_the_job_at_once(tmp_path, env, hosts):
    config, pid_file = _sleeper(tmp_path, grace=30)
    host = hosts(config)
    host.wait_for(r"^job\| started$", stdout=True)
    sleeper = int(pid_file.read_text())

    host.send(signal.SIGINT)
    host.wait_for(r"SIGINT received: stopping \(running jobs get up to 30s\)")
    asked = time.monotonic()
    host.send(signal.SIGTERM)
    assert host.exit_status(timeout=15) == 0
    assert time.monotonic() - asked < 8  # far short of the 30 s grace

    assert "SIGTERM again: ending running jobs now" in host.stderr()
    assert not pid_alive(sleeper)
    [run] = runs_of(config, env, "job")
    assert run["result"] == "interrupted"


# --- reloading ----------------------------------------------------------------------

_A = """
    [jobs.A]
    command = "sleep 1; echo A-done"
    interval = "300ms"
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_while_the_host_is_still_starting_stops_it_cleanly_once_started(
    tmp_path, env, hosts, signum
):
    """A service manager may stop synctui at any moment, its first ones too. The config is
    a FIFO here, so the host is held at a known point of its start: reading its config."""
    config = write_config(tmp_path, """
        [jobs.job]
        command = "true"
        interval = "1h"
    """)
    text = config.read_text()
    config.unlink()
    os.mkfifo(config, 0o600)
    host = hosts(config)
    # Blocked opening the FIFO (the kernel's wait for a writer): past the interpreter's
    # start, before the config is read, the heavy imports done and the scheduler started.
    assert wait_until(lambda: Path(f"/proc/{host.pid}/wchan").read_text() == "wait_for_partner")
    host.send(signum)
    # The start goes on. The host's open is retried after the signal's handler, so a writer
    # may find no reader for a moment (ENXIO); none for good if the host died of it.
    writers: list[int] = []

    def open_writer() -> bool:
        try:
            writers.append(os.open(config, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            return host.process.poll() is not None
        return True

    assert wait_until(open_writer)
    if not writers:
        pytest.fail(f"the host died of {signum.name} ({host.exit_status()})")
    [writer] = writers
    os.write(writer, text.encode())
    os.close(writer)

    assert host.exit_status() == 0
    host.wait_for(rf"{signum.name} received: stopping")
    assert "running headless" in host.stderr()  # it started before it stopped
    assert host.stderr().rstrip().endswith("INFO stopped")
    assert "Traceback" not in host.stderr()


def _newest_id(config: Path, env: dict[str, str], job: str) -> int:
    return max((run["id"] for run in runs_of(config, env, job)), default=0)


def test_sighup_adds_removes_and_changes_jobs_without_touching_a_run_in_progress(
    tmp_path, env, hosts
):
    config = write_config(tmp_path, _A + """
        [jobs.B]
        command = "echo B"
        interval = "300ms"
    """)
    host = hosts(config)
    in_flight = int(host.wait_for(r"A: run (\d+) started").group(1))

    write_config(tmp_path, _A.replace('"300ms"', '"1h"') + """
        [jobs.C]
        command = "echo C-ran"
        interval = "300ms"
    """)
    host.send(signal.SIGHUP)
    reloaded = host.wait_for(r"^.*config reloaded.*$").group(0)
    assert "config reloaded: 2 jobs (added: C; removed: B)" in reloaded

    def result_of_in_flight():
        [run] = [run for run in runs_of(config, env, "A") if run["id"] == in_flight]
        return run["result"]

    assert wait_until(lambda: any(r["result"] == "success" for r in runs_of(config, env, "C")))
    assert wait_until(lambda: result_of_in_flight() != "running")
    assert result_of_in_flight() == "success"  # the reload did not touch it
    log = host.stderr()
    after = log[log.index("config reloaded"):]
    assert f"A: run {in_flight} success" in after  # it was still going at the reload
    assert not re.search(r"B: run \d+ started", after)  # B never started again
    assert not re.search(r"A: run \d+ started", after)  # A now fires hourly
    assert "C| C-ran" in host.stdout()


@pytest.mark.parametrize("break_it, problem", [
    (lambda text: text + "[scheduler\n", "invalid TOML"),
    (lambda text: text.replace('interval = "300ms"', "interval = 15"),
     "jobs.A.interval: expected a duration"),
], ids=["bad-toml", "bare-number-interval"])
def test_sighup_with_an_invalid_config_is_refused_and_the_old_one_keeps_running(
    tmp_path, env, hosts, break_it, problem
):
    quick_a = _A.replace("sleep 1; ", "")
    config = write_config(tmp_path, quick_a)
    reader = write_config(tmp_path, quick_a, name="reader.toml")  # the same state, still readable
    host = hosts(config)
    host.wait_for(r"A: run \d+ started")

    config.write_text(break_it(config.read_text(encoding="utf-8")), encoding="utf-8")
    host.send(signal.SIGHUP)
    refused = host.wait_for(r"^.*reload refused.*$").group(0)
    assert "ERROR reload refused (still running the previous config): " in refused
    assert str(config) in refused and problem in refused
    assert host.stderr().count("reload refused") == 1  # one line a problem, and only that

    newest = _newest_id(reader, env, "A")
    assert wait_until(lambda: _newest_id(reader, env, "A") > newest)  # A still fires
    assert host.process.poll() is None
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0


# --- output ---------------------------------------------------------------------------


def test_json_log_format_gives_one_json_object_per_stderr_line(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.quick]
        command = "echo hi"
        interval = "200ms"
        env = { TOKEN = "s3cret-value" }

        [jobs.slow]
        command = "sleep 0.5"
        interval = "200ms"
    """, grace=5)  # every run in progress at the end finishes: all succeed
    config.chmod(0o644)  # readable by others while it holds env: a warning at start
    host = hosts(config, "--log-format", "json")
    host.wait_for(r'"event": "run_finished", "job": "slow"')
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0

    entries = [json.loads(line) for line in host.stderr().splitlines()]
    for entry in entries:
        assert {"time", "level", "message"} <= entry.keys()
        datetime.fromisoformat(entry["time"])
    events = {entry.get("event") for entry in entries}
    assert {"started", "host", "run_started", "run_finished", "run_skipped", "stopping",
            "stopped"} <= events
    for entry in entries:
        if entry.get("event") in ("run_started", "run_finished"):
            assert isinstance(entry["run_id"], int) and entry["job"] in ("quick", "slow")
            assert entry["trigger"] == "scheduled"
        if entry.get("event") == "run_finished":
            assert entry["result"] == "success" and isinstance(entry["duration"], float)
    [warning] = [entry for entry in entries if "readable by other users" in entry["message"]]
    assert warning["level"] == "warning"
    assert "s3cret-value" not in host.stderr() + host.stdout()


def test_json_log_format_passes_output_through_as_json_and_the_run_log_keeps_its_bytes(
    tmp_path, env, hosts
):
    config = write_config(tmp_path, r"""
        [jobs.bytes]
        command = "printf 'caf\\303\\251 ok\\nraw \\377\\376 end\\n| not a pipe'"
        interval = "1h"
        run_on_start = true
    """)
    host = hosts(config, "--log-format", "json")
    host.wait_for(r'"event": "run_finished", "job": "bytes"')
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0

    lines = [json.loads(line) for line in host.stdout().splitlines()]
    shown = [(entry["event"], entry["job"], entry["line"], entry.get("escaped")) for entry in lines]
    assert shown == [
        ("output", "bytes", "caf\u00e9 ok", None),
        ("output", "bytes", "raw \\xff\\xfe end", True),
        ("output", "bytes", "| not a pipe", None),
    ]
    [run] = runs_of(config, env, "bytes")
    assert {entry["run_id"] for entry in lines} == {run["id"]}
    assert Path(run["log_path"]).read_bytes() == b"caf\xc3\xa9 ok\nraw \xff\xfe end\n| not a pipe"
    for line in host.stderr().splitlines():
        json.loads(line)


def test_text_passthrough_shows_bytes_that_are_not_utf8_escaped(tmp_path, env, hosts):
    config = write_config(tmp_path, r"""
        [jobs.bytes]
        command = "printf 'raw \\377 end\\n'"
        interval = "1h"
        run_on_start = true
    """)
    host = hosts(config)
    host.wait_for(r"^bytes\| raw \\xff end$", stdout=True)


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("apscheduler").level
    yield
    root.handlers[:], level, aps_level = saved
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(aps_level)


def test_apscheduler_warnings_go_through_the_json_formatter(capfd, restore_logging):
    setup_logging("json")
    logging.getLogger("apscheduler.scheduler").info("Added job %r", "x")  # repeats synctui: hidden
    logging.getLogger("apscheduler.scheduler").warning("Run time of job %r was missed", "x")
    [line] = capfd.readouterr().err.splitlines()
    entry = json.loads(line)
    datetime.fromisoformat(entry.pop("time"))
    assert entry == {"level": "warning", "logger": "apscheduler.scheduler",
                     "message": "Run time of job 'x' was missed"}


def test_no_passthrough_keeps_job_output_off_stdout_but_in_the_logs(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.job]
        command = "echo only-in-the-log"
        interval = "200ms"
    """)
    host = hosts(config, "--no-passthrough")
    host.wait_for(r"job: run \d+ success")
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    assert host.stdout() == ""
    logs = synctui("logs", "job", "--config", str(config), env=env, cwd=tmp_path)
    assert logs.stdout == "only-in-the-log\n"


def test_a_closed_stdout_stops_the_passthrough_not_the_scheduler(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.job]
        command = "echo line"
        interval = "100ms"
    """)
    err = tmp_path / "host.err"
    with err.open("wb") as stderr:
        host = subprocess.Popen(  # like `synctui --headless | head -1`
            [SYNCTUI, "--headless", "--config", str(config)], stdout=subprocess.PIPE,
            stderr=stderr, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path,
        )
    try:
        assert host.stdout.readline() == b"job| line\n"
        host.stdout.close()
        assert wait_until(lambda: "no longer passed through" in err.read_text())
        closed = _newest_id(config, env, "job")
        assert wait_until(lambda: _newest_id(config, env, "job") > closed)  # still scheduling
        host.send_signal(signal.SIGTERM)
        assert host.wait(10) == 0
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    assert "Traceback" not in err.read_text()
    assert "Exception" not in err.read_text()


# --- refusing to start ----------------------------------------------------------------


def test_a_second_headless_waits_as_standby_says_so_once_and_stops_on_sigterm(
    tmp_path, env, hosts
):
    config = write_config(tmp_path, """
        [jobs.job]
        command = "true"
        interval = "1h"
    """)
    first = hosts(config)
    first.wait_ready()

    second = hosts(config)
    second.wait_for(rf"another synctui \(pid {first.pid}, headless\) already hosts"
                    rf" {tmp_path / 'state'}; waiting as its standby")
    status = json.loads(synctui("status", "--json", "--config", str(config),
                                env=env, cwd=tmp_path).stdout)
    assert status["host"]["pid"] == first.pid  # the standby left the host record alone
    second.send(signal.SIGTERM)
    assert second.exit_status() == 0
    assert second.stderr().count("waiting as its standby") == 1
    assert "stopped while waiting to host" in second.stderr()
    assert first.process.poll() is None


def test_headless_with_no_config_anywhere_is_a_one_line_usage_error(tmp_path, env):
    if Path("/etc/synctui/config.toml").exists():
        pytest.skip("this machine has /etc/synctui/config.toml")
    empty = tmp_path / "empty"
    empty.mkdir()
    done = synctui("--headless", env=env, cwd=empty)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("synctui: no config found (looked at --config, $SYNCTUI_CONFIG,")
    assert done.stdout == ""
    assert list(empty.iterdir()) == []


# --- --once ---------------------------------------------------------------------------


_TWO_GOOD = """
    [jobs.first]
    command = "echo first ran"
    interval = "1h"

    [jobs.second]
    command = ["echo", "second ran"]
    interval = "1h"
"""


def test_once_runs_every_job_once_and_exits_0_when_all_succeed(tmp_path, env):
    config = write_config(tmp_path, _TWO_GOOD)
    done = synctui("--headless", "--once", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == ["first| first ran", "second| second ran"]
    runs = history(config, env)
    assert sorted((r["job"], r["trigger"], r["result"]) for r in runs) == [
        ("first", "once", "success"), ("second", "once", "success"),
    ]


def test_once_exits_1_when_a_job_fails(tmp_path, env):
    config = write_config(tmp_path, _TWO_GOOD + """
        [jobs.broken]
        command = "echo no luck; exit 3"
        interval = "1h"
    """)
    done = synctui("--headless", "--once", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 1
    results = {run["job"]: run["result"] for run in history(config, env)}
    assert results == {"first": "success", "second": "success", "broken": "failure"}
    assert re.search(r"broken: run \d+ failure in [\d.]+s: exit status 3: no luck", done.stderr)


def test_once_with_job_runs_only_that_job(tmp_path, env):
    config = write_config(tmp_path, _TWO_GOOD)
    done = synctui("--headless", "--once", "--job", "second", "--config", str(config),
                   env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "second| second ran\n"
    assert [(r["job"], r["trigger"]) for r in history(config, env)] == [("second", "once")]


def test_once_with_an_unknown_job_is_a_one_line_usage_error(tmp_path, env):
    config = write_config(tmp_path, _TWO_GOOD)
    done = synctui("--headless", "--once", "--job", "nope", "--config", str(config),
                   env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"synctui: no job named 'nope' in {config} (jobs: first, second)\n"
    )
    assert history(config, env) == []


def test_once_refuses_while_a_headless_host_runs_the_same_jobs(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.job]
        command = "echo hosted; sleep 0.5"
        interval = "200ms"
    """)
    host = hosts(config)
    host.wait_for(r"job: run \d+ started")

    done = synctui("--headless", "--once", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert f"a scheduler already runs these jobs (pid {host.pid}, headless)" in line
    assert all(run["trigger"] != "once" for run in history(config, env))



def test_once_leaves_a_paused_job_out_says_so_and_exits_by_the_jobs_that_ran(tmp_path, env):
    config = write_config(tmp_path, _TWO_GOOD + """
        [jobs.broken]
        command = "echo no luck; exit 3"
        interval = "1h"
    """)
    paused = synctui("pause", "broken", "--config", str(config), env=env, cwd=tmp_path)
    assert paused.returncode == 0, paused.stderr

    done = synctui("--headless", "--once", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr  # the failing job was switched off
    assert sorted(done.stdout.splitlines()) == ["first| first ran", "second| second ran"]
    [said] = [line for line in done.stderr.splitlines() if "broken" in line]
    assert said.endswith(" INFO broken: paused, not run (synctui resume broken)")
    assert sorted(run["job"] for run in history(config, env)) == ["first", "second"]


def test_once_naming_a_paused_job_runs_nothing_and_exits_0(tmp_path, env):
    config = write_config(tmp_path, _TWO_GOOD)
    synctui("pause", "second", "--config", str(config), env=env, cwd=tmp_path)

    done = synctui("--headless", "--once", "--job", "second", "--config", str(config),
                   env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.endswith(" INFO second: paused, not run (synctui resume second)")
    assert history(config, env) == []


@pytest.mark.parametrize("job", [(), ("--job", "job")], ids=["every-job", "one-job"])
def test_once_beside_another_once_is_refused_with_exit_2_and_one_line(tmp_path, env, hosts, job):
    config = write_config(tmp_path, """
        [jobs.job]
        command = "echo started; sleep 30"
        interval = "1h"
    """)
    first = hosts(config, "--once")  # holds the hosting lock, serves no control socket
    first.wait_for(r"^job\| started$", stdout=True)

    done = synctui("--headless", "--once", *job, "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 2  # nothing ran, so no job failed
    [line] = done.stderr.splitlines()
    assert line.endswith(
        f" ERROR cannot run --once: another synctui already hosts {tmp_path / 'state'} (a `run`"
        " or another `--once`, or a scheduler starting): try again when it ends"
    )
    assert done.stdout == ""
    assert [run["id"] for run in history(config, env)] == [1]  # only the first one's run
    assert first.process.poll() is None
