"""`on_recovery` and `notify_after_failures`: one notice per change of a job's state, run
by the installed `synctui --headless` in real processes."""

from __future__ import annotations

import signal
from pathlib import Path

from commandline import runs_of, synctui, write_config
from factories import wait_until
from synctui.config import load_config
from synctui.scheduler.notices import failed_runs_in_a_row
from synctui.scheduler.records import Result, RunRecord, Trigger


def _job(tmp_path: Path, fails: str, extra: str = "") -> str:
    """A job whose runs fail while their number (1, 2, ...) matches the shell pattern
    `fails`, or while the file `broken` exists, and whose hooks note what they were."""
    count, told = tmp_path / "count", tmp_path / "told"
    command = (f"n=$(( $(cat {count} 2>/dev/null || echo 0) + 1 )); echo $n > {count};"
               f" test -e {tmp_path / 'broken'} && exit 1;"
               f" case $n in {fails}) exit 1;; esac")
    hook = f'"echo $SYNCTUI_HOOK $SYNCTUI_RUN_ID >> {told}"'
    return f"""
        [jobs.orders]
        command = "{command}"
        interval = "300ms"
        on_failure = {hook}
        on_recovery = {hook}
        {extra}
    """


def _told(tmp_path: Path) -> list[str]:
    path = tmp_path / "told"
    return path.read_text().splitlines() if path.exists() else []


def _ids(config: Path, env: dict[str, str]) -> list[int]:
    """The ids of the job's runs that ran (not its skipped or missed fire times), oldest first."""
    return sorted(run["id"] for run in runs_of(config, env, "orders")
                  if run["result"] not in ("skipped", "missed"))


def test_fail_fail_success_tells_one_failure_and_one_recovery(tmp_path, env, hosts):
    config = write_config(tmp_path, _job(tmp_path, "1|2", "notify_after_failures = 1"))
    host = hosts(config, "--no-passthrough")
    assert wait_until(lambda: any(line.startswith("on_recovery") for line in _told(tmp_path)))
    assert wait_until(lambda: len(_ids(config, env)) >= 5)  # runs go on; no more notices
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    ids = _ids(config, env)
    assert _told(tmp_path) == [f"on_failure {ids[0]}", f"on_recovery {ids[2]}"]


def test_without_a_threshold_every_failure_is_told_and_the_success_after_is_a_recovery(
    tmp_path, env, hosts
):
    config = write_config(tmp_path, _job(tmp_path, "1|2"))
    host = hosts(config, "--no-passthrough")
    assert wait_until(lambda: any(line.startswith("on_recovery") for line in _told(tmp_path)))
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    ids = _ids(config, env)
    assert _told(tmp_path) == [f"on_failure {ids[0]}", f"on_failure {ids[1]}",
                               f"on_recovery {ids[2]}"]


def test_notify_after_failures_stays_quiet_until_that_many_runs_failed(tmp_path, env, hosts):
    config = write_config(tmp_path, _job(tmp_path, "1|2|4|5|6", "notify_after_failures = 3"))
    host = hosts(config, "--no-passthrough")
    # Runs 1 and 2 fail, 3 succeeds (no recovery: nothing was told), 4 to 6 fail, 7 succeeds.
    assert wait_until(lambda: any(line.startswith("on_recovery") for line in _told(tmp_path)))
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    ids = _ids(config, env)
    assert _told(tmp_path) == [f"on_failure {ids[5]}", f"on_recovery {ids[6]}"]


def test_a_restart_between_a_failure_and_its_recovery_neither_repeats_nor_drops_a_notice(
    tmp_path, env, hosts
):
    broken = tmp_path / "broken"
    broken.touch()
    config = write_config(tmp_path, _job(tmp_path, "0", "notify_after_failures = 1"))
    first = hosts(config, "--no-passthrough")
    assert wait_until(lambda: _told(tmp_path) != [])
    assert wait_until(lambda: len(_ids(config, env)) >= 3)
    first.send(signal.SIGTERM)
    assert first.exit_status() == 0
    failed = _ids(config, env)

    broken.unlink()
    second = hosts(config, "--no-passthrough")
    assert wait_until(lambda: len(_told(tmp_path)) >= 2)
    assert wait_until(lambda: len(_ids(config, env)) >= len(failed) + 2)
    second.send(signal.SIGTERM)
    assert second.exit_status() == 0
    recovered = _ids(config, env)[len(failed)]
    assert _told(tmp_path) == [f"on_failure {failed[0]}", f"on_recovery {recovered}"]


def _record(number: int, result: Result, trigger: Trigger = Trigger.SCHEDULED) -> RunRecord:
    return RunRecord(id=number, job="orders", trigger=trigger, result=result)


def test_a_runs_retries_and_the_operators_cancels_do_not_count_as_failed_runs():
    newest_first = [
        _record(6, Result.FAILURE, Trigger.RETRY),
        _record(5, Result.FAILURE),
        _record(4, Result.CANCELLED),
        _record(3, Result.TIMEOUT, Trigger.RETRY),
        _record(2, Result.INTERRUPTED),
        _record(1, Result.SUCCESS),
        _record(0, Result.FAILURE),
    ]
    assert failed_runs_in_a_row(newest_first) == 2


def test_the_notice_keys_are_scheduler_defaults_and_checked(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.orders]
        command = "true"

        [jobs.billing]
        command = "true"
        notify_after_failures = 5
        on_recovery = ["logger", "billing works again"]
    """)
    text = config.read_text().replace(
        "[scheduler]\n", '[scheduler]\nnotify_after_failures = 2\non_recovery = "true"\n')
    config.write_text(text)
    config.chmod(0o600)
    jobs = load_config(config, environ=env).jobs
    assert (jobs["orders"].notify_after_failures, jobs["orders"].on_recovery) == (2, "true")
    assert jobs["billing"].notify_after_failures == 5
    assert jobs["billing"].on_recovery == ("logger", "billing works again")

    config.write_text(text.replace("notify_after_failures = 5", "notify_after_failures = 0"))
    done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert f"{config}: jobs.billing.notify_after_failures: " in done.stderr
    assert "Traceback" not in done.stderr
