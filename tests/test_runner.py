"""The runner with real processes: results, output, timeouts, cancels, leftovers, callables."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from factories import job, pid_alive, request, wait_until
from synctui.scheduler.processes import TOKEN_VARIABLE, end_carriers, new_token, read_stat
from synctui.scheduler.events import EventsMissed, OutputLines, RunFinished, RunStarted
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.run_handle import READ_SIZE

PY = sys.executable


def test_success_records_output_context_and_events(runner, bus, store):
    subscription = bus.subscribe()
    record = runner.run(request(job(command=[
        PY, "-c",
        "import os; [print(k, os.environ[k]) for k in sorted(os.environ)"
        " if k.startswith(('SYNCTUI_', 'PYTHONUNBUFFERED'))]",
    ])))
    assert record.result is Result.SUCCESS
    assert record.exit_code == 0 and record.signal is None and record.error is None
    assert record.duration_s > 0 and record.finished_at >= record.started_at
    output = record.log_path.read_text()
    assert f"SYNCTUI_RUN_ID {record.id}\n" in output
    assert "SYNCTUI_JOB job\n" in output
    assert "SYNCTUI_TRIGGER manual\n" in output
    assert "SYNCTUI_LAST_SUCCESS_AT \n" in output  # empty on the first run
    assert "PYTHONUNBUFFERED 1\n" in output
    scheduled = next(line for line in output.splitlines() if "SCHEDULED_AT" in line).split()[1]
    assert datetime.fromisoformat(scheduled).utcoffset() is not None
    assert len(scheduled.split(".")[1]) >= 6  # microseconds

    events = []  # RunFinished is published just after `run()` returns
    while not (events and isinstance(events[-1], RunFinished)):
        events += subscription.get(timeout=5)
    assert isinstance(events[0], RunStarted) and events[0].run.id == record.id
    assert isinstance(events[-1], RunFinished) and events[-1].run == record
    lines = [line for e in events if isinstance(e, OutputLines) for line in e.lines]
    assert f"SYNCTUI_RUN_ID {record.id}" in lines
    assert store.run(record.id) == record


def test_last_success_is_the_start_of_the_previous_success(runner):
    first = runner.run(request(job(command=["true"])))
    failed = runner.run(request(job(command=["false"])))
    assert failed.result is Result.FAILURE
    second = runner.run(request(job(command=["sh", "-c", "echo $SYNCTUI_LAST_SUCCESS_AT"])))
    reported = datetime.fromisoformat(second.log_path.read_text().strip())
    assert reported == first.started_at


def test_failure_keeps_exit_code_and_last_line(runner):
    record = runner.run(request(job(command="echo working; echo 'upstream said no' >&2; exit 3")))
    assert record.result is Result.FAILURE
    assert record.exit_code == 3 and record.signal is None
    assert record.error == "exit status 3: upstream said no"


def test_death_by_signal_names_the_signal(runner):
    record = runner.run(request(job(command="kill -KILL $$")))
    assert record.result is Result.FAILURE
    assert record.exit_code is None and record.signal == "SIGKILL"
    assert record.error == "killed by SIGKILL"


def test_stdin_is_at_end_of_file(runner):
    record = runner.run(request(job(command=[PY, "-c", "import sys; print(repr(sys.stdin.read()))"])))
    assert record.result is Result.SUCCESS
    assert record.log_path.read_text() == "''\n"


def test_missing_command_and_missing_cwd_are_recorded_failures(runner, tmp_path):
    missing = runner.run(request(job(command=["no-such-command-here", "x"])))
    assert missing.result is Result.FAILURE
    assert missing.error == "command not found: no-such-command-here"
    nowhere = runner.run(request(job(command=["true"], cwd=tmp_path / "gone")))
    assert nowhere.result is Result.FAILURE
    assert nowhere.error.startswith("cannot start: No such file or directory")


HANGS_WITH_GRANDCHILD = (
    "sleep 300 & echo $! > {pidfile}; trap '' TERM; echo started; sleep 300"
)


@pytest.mark.parametrize("ignores_term", [False, True])
def test_timeout_ends_the_whole_group(runner, tmp_path, ignores_term):
    pidfile = tmp_path / "grandchild"
    command = HANGS_WITH_GRANDCHILD.format(pidfile=pidfile)
    if not ignores_term:
        command = command.replace("trap '' TERM; ", "")
    record = runner.run(request(job(command=command, timeout_s=0.5)))
    assert record.result is Result.TIMEOUT
    assert record.error == "timed out after 0.5s"
    grandchild = int(pidfile.read_text())
    assert wait_until(lambda: not pid_alive(grandchild), timeout=3)
    log = record.log_path.read_text()
    assert "started\n" in log and "[synctui] timed out after 0.5s" in log
    if ignores_term:
        assert record.signal == "SIGKILL"
        assert "[synctui] SIGKILL sent" in log


def test_cancel_ends_the_whole_group(runner, bus, tmp_path):
    pidfile = tmp_path / "grandchild"
    subscription = bus.subscribe()
    handle = runner.start(request(job(command=HANGS_WITH_GRANDCHILD.format(pidfile=pidfile))))
    assert wait_until(lambda: any(
        isinstance(e, OutputLines) and "started" in e.lines for e in subscription.drain()
    ))
    handle.cancel()
    record = handle.wait(timeout=10)
    assert record.result is Result.CANCELLED
    assert record.error == "cancelled by the operator"
    grandchild = int(pidfile.read_text())
    assert wait_until(lambda: not pid_alive(grandchild), timeout=3)


def test_interrupt_lets_the_run_finish_within_the_grace(runner):
    handle = runner.start(request(job(command="sleep 0.2; echo finished")))
    handle.interrupt(after=5)
    record = handle.wait(timeout=10)
    assert record.result is Result.SUCCESS


def test_interrupt_ends_the_run_after_the_grace(runner):
    handle = runner.start(request(job(command="sleep 300")))
    handle.interrupt(after=0.2)
    record = handle.wait(timeout=10)
    assert record.result is Result.INTERRUPTED


def test_processes_left_behind_by_a_finished_job_are_ended(runner, tmp_path):
    pidfile = tmp_path / "leftover"
    record = runner.run(request(job(command=f"sleep 300 > /dev/null 2>&1 & echo $! > {pidfile}")))
    assert record.result is Result.SUCCESS
    leftover = int(pidfile.read_text())
    assert wait_until(lambda: not pid_alive(leftover), timeout=3)


def write_module(tmp_path, source: str) -> None:
    (tmp_path / "shopsync.py").write_text(textwrap.dedent(source))


def test_seed_style_zero_argument_callable(runner, tmp_path):
    write_module(tmp_path, """
        def run_incremental_sync():
            print("synced 3 rows")
    """)
    record = runner.run(request(job(callable="shopsync:run_incremental_sync", cwd=tmp_path)))
    assert record.result is Result.SUCCESS
    assert record.log_path.read_text() == "synced 3 rows\n"


def test_callable_with_an_argument_gets_the_context(runner, tmp_path):
    write_module(tmp_path, """
        def sync(context):
            print(context["SYNCTUI_JOB"], context["SYNCTUI_TRIGGER"], sorted(context)[0])
    """)
    record = runner.run(request(job("orders", callable="shopsync:sync", cwd=tmp_path),
                                Trigger.SCHEDULED))
    assert record.result is Result.SUCCESS
    assert record.log_path.read_text() == "orders scheduled SYNCTUI_ATTEMPT\n"


def test_callable_that_raises_fails_with_the_exception_as_error(runner, tmp_path):
    write_module(tmp_path, """
        def sync():
            raise ValueError("upstream returned 502")
    """)
    record = runner.run(request(job(callable="shopsync:sync", cwd=tmp_path)))
    assert record.result is Result.FAILURE and record.exit_code == 1
    assert record.error == "exit status 1: ValueError: upstream returned 502"
    assert "Traceback" in record.log_path.read_text()


def test_callable_that_calls_os_exit(runner, tmp_path):
    write_module(tmp_path, """
        import os
        def sync():
            print("bailing out")
            os._exit(7)
    """)
    record = runner.run(request(job(callable="shopsync:sync", cwd=tmp_path)))
    assert record.result is Result.FAILURE
    assert record.exit_code == 7 and record.error == "exit status 7: bailing out"


def test_callable_that_hangs_is_timed_out(runner, tmp_path):
    write_module(tmp_path, """
        import time
        def sync():
            print("waiting forever")
            time.sleep(300)
    """)
    record = runner.run(request(job(callable="shopsync:sync", cwd=tmp_path, timeout_s=1.0)))
    assert record.result is Result.TIMEOUT
    assert "waiting forever" in record.log_path.read_text()


def test_million_lines_are_all_logged_with_bounded_memory(runner, bus):
    slow = bus.subscribe(maxsize=10)  # never read during the run: a stalled console
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = runner.run(request(job(command=[
        PY, "-c", "import sys; sys.stdout.writelines(f'line {i}\\n' for i in range(1_000_000))",
    ])))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert record.result is Result.SUCCESS
    with record.log_path.open() as log:
        count = sum(1 for _ in log)
    assert count == 1_000_000
    assert record.log_bytes == record.log_path.stat().st_size
    assert grown_kb < 50_000
    events = slow.drain()
    # Held: the run's start and at most one read's worth of lines past the bound of
    # 10; the rest is only counted.
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], EventsMissed)
    held = sum(len(e.lines) for e in events if isinstance(e, OutputLines))
    assert 0 < held < 10 + READ_SIZE // len("line 0\n") and events[-1].count > 10


def test_output_past_the_cap_is_cut_with_a_marker(runner, bus):
    subscription = bus.subscribe(maxsize=2_000_000)
    record = runner.run(request(job(log_max_bytes=100_000, command=[
        PY, "-c", "import sys; sys.stdout.writelines(f'line {i}\\n' for i in range(1_000_000))",
    ])))
    assert record.result is Result.SUCCESS
    *kept, marker, summary = record.log_path.read_text().splitlines()
    assert kept == [f"line {i}" for i in range(len(kept))]  # whole lines only
    assert 99_000 < sum(len(line) + 1 for line in kept) <= 100_000
    assert marker == "[synctui] output cut here: log_max_bytes (100000 bytes) reached"
    assert summary.startswith("[synctui] ") and summary.endswith("more bytes of output were not kept")
    # The live tail still saw every line.
    lines = sum(len(e.lines) for e in subscription.drain() if isinstance(e, OutputLines))
    assert lines == 1_000_000


def test_a_partial_last_line_and_invalid_utf8_are_kept(runner, bus):
    subscription = bus.subscribe()
    record = runner.run(request(job(command="printf 'caf\\303\\251\\nbad \\377 byte'")))
    assert record.result is Result.SUCCESS
    batches = [e for e in subscription.drain() if isinstance(e, OutputLines)]
    shown = [(line, number in e.escaped) for e in batches for number, line in enumerate(e.lines)]
    assert shown == [("café", False), ("bad \\xff byte", True)]
    assert record.log_path.read_bytes() == b"caf\xc3\xa9\nbad \xff byte"


def test_a_fault_inside_synctui_still_records_a_result_and_ends_the_job(runner, store, monkeypatch):
    sessions = []

    def broken(run_id, session, *rest):
        sessions.append(session)
        raise RuntimeError("disk went away")

    monkeypatch.setattr(store, "set_process", broken)
    record = runner.run(request(job(command="sleep 300")))
    assert record.result is Result.FAILURE
    assert record.error == "synctui internal error: RuntimeError('disk went away')"
    assert not pid_alive(sessions[0])


def test_a_fault_before_the_spawn_still_records_a_result(runner, monkeypatch):
    def broken(job, env):
        raise ValueError("argv went wrong")

    monkeypatch.setattr(runner, "_argv", broken)
    record = runner.run(request(job(command=["true"])))
    assert record.result is Result.FAILURE
    assert record.error == "synctui internal error: ValueError('argv went wrong')"


def test_runs_ending_together_each_end_their_own_carriers_only():
    # Twenty ends at once share passes over /proc; each ends the two processes that
    # carry its token, and a process carrying a token nobody asked for lives.
    tokens = [new_token() for _ in range(21)]
    carriers = {token: [subprocess.Popen(["sleep", "300"], env={**os.environ, TOKEN_VARIABLE: token},
                                         start_new_session=True) for _ in range(2)]
                for token in tokens}
    try:
        with ThreadPoolExecutor(20) as pool:
            ended = list(pool.map(end_carriers, tokens[:20]))
        assert ended == [2] * 20
        for token in tokens[:20]:
            # Children of this process, as adopted orphans are of a host: reaped as well.
            assert all(read_stat(process.pid) is None for process in carriers[token])
        assert all(process.poll() is None for process in carriers[tokens[20]])
    finally:
        for processes in carriers.values():
            for process in processes:
                process.kill()
                process.wait()


@pytest.mark.parametrize("keep_daemons", [False, True])
def test_a_daemon_that_left_the_jobs_session_ends_with_the_run(runner, tmp_path, keep_daemons):
    # A double fork: the daemon's parent exits at once, so the daemon is no child of the
    # job's, in a session of its own; only the run's token it inherited names it.
    marker = tmp_path / "marker"
    command = (f"setsid sh -c 'sleep 300 >/dev/null 2>&1 & echo $! > {marker}' "
               "</dev/null >/dev/null 2>&1; sleep 0.3")
    record = runner.run(request(job(command=command, keep_daemons=keep_daemons)))
    assert record.result is Result.SUCCESS
    daemon = int(marker.read_text())
    try:
        if keep_daemons:
            assert pid_alive(daemon)
        else:
            assert wait_until(lambda: not pid_alive(daemon), timeout=3)
            assert "SIGKILL sent to 1 process that left the job's session" in (
                record.log_path.read_text()
            )
    finally:
        if pid_alive(daemon):
            os.kill(daemon, 9)


@pytest.mark.parametrize("keep_daemons", [False, True])
def test_a_daemon_still_holding_the_jobs_output_does_not_hold_its_run(
    runner, tmp_path, keep_daemons
):
    # The daemon left the session with the job's stdout: no EOF comes while it lives.
    marker = tmp_path / "marker"
    command = f"setsid sh -c 'echo $$ > {marker}; exec sleep 30' & echo forked"
    record = runner.run(request(job(command=command, keep_daemons=keep_daemons)))
    daemon = int(marker.read_text())
    try:
        assert record.result is Result.SUCCESS
        assert record.duration_s < 5  # not the daemon's 30 s
        assert pid_alive(daemon) is keep_daemons
    finally:
        if pid_alive(daemon):
            os.kill(daemon, 9)


def test_a_run_whose_leftovers_died_of_sigterm_does_not_wait_out_the_kill_grace(
    runner, tmp_path
):
    # A child in the group (ended by the SIGTERM at the job's exit) and a daemon outside it
    # holding the output: once the group is gone, the kill grace has nothing left to wait for.
    marker = tmp_path / "marker"
    command = (f"setsid sh -c 'echo $$ > {marker}; exec sleep 30' & (sleep 30 &);"
               " echo forked")
    record = runner.run(request(job(command=command, kill_grace_s=20)))
    daemon = int(marker.read_text())
    try:
        assert record.result is Result.SUCCESS
        assert record.duration_s < 10  # not the 20 s kill grace
        assert wait_until(lambda: not pid_alive(daemon), timeout=3)
    finally:
        if pid_alive(daemon):
            os.kill(daemon, 9)


SUBREAPER_HOST = """
import os, sys, time
from datetime import datetime, timezone
from pathlib import Path
from synctui.config.model import JobConfig
from synctui.scheduler.events import EventBus
from synctui.scheduler.processes import become_subreaper, read_stat
from synctui.scheduler.runner import Runner, RunRequest
from synctui.scheduler.records import Trigger
from synctui.scheduler.store import Store
assert become_subreaper()
pidfile = Path(sys.argv[1])
command = f"setsid sh -c 'sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}' </dev/null >/dev/null 2>&1; sleep 0.3"
job = JobConfig(name="job", command=command)
runner = Runner(Store(pidfile.parent / "state"), EventBus())
handle = runner.start(RunRequest(job, Trigger.MANUAL, datetime.now(timezone.utc)))
while not pidfile.exists() or not pidfile.read_text():
    pass
daemon = int(pidfile.read_text())
# Its parent is the `sh` that started it until that exits; then the daemon is adopted.
deadline = time.monotonic() + 10
while read_stat(daemon).ppid != os.getpid() and time.monotonic() < deadline:
    time.sleep(0.01)
print(read_stat(daemon).ppid == os.getpid(), flush=True)
handle.wait(10)
print(read_stat(daemon), flush=True)
"""


def test_a_subreaper_host_adopts_what_its_jobs_double_forked_and_reaps_it(tmp_path):
    # The headless and the console are subreapers: a daemon whose parent exited
    # becomes theirs, not init's; the run's end kills it and reaps it (no zombie left).
    host = subprocess.run([PY, "-c", SUBREAPER_HOST, str(tmp_path / "daemon")],
                          capture_output=True, text=True, timeout=30)
    assert host.stdout == "True\nNone\n", host.stderr
