"""`on_failure` and `on_success` hooks, run by the installed `synctui --headless` in real processes."""

from __future__ import annotations

import re
import signal
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

from commandline import runs_of, synctui, write_config
from factories import pid_alive, wait_until
from synctui.config import load_config
from synctui.scheduler.records import Trigger
from synctui.scheduler.store import Store
from synctui.scheduler.sync_scheduler import SyncScheduler


def _environment(path: Path) -> dict[str, str]:
    """The SYNCTUI_* variables a hook wrote with `env`."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if line.startswith("SYNCTUI_"))


def test_on_failure_gets_the_run_context_once_the_retries_are_used_up(tmp_path, env, hosts):
    seen = tmp_path / "failure.env"
    config = write_config(tmp_path, f"""
        [jobs.orders]
        command = "echo upstream is down; exit 3"
        interval = "1h"
        run_on_start = true
        retries = 1
        retry_backoff_seconds = 0
        on_failure = "env > {seen}.part && mv {seen}.part {seen}"
        on_success = "touch {tmp_path / 'success-hook-ran'}"
    """)
    host = hosts(config, "--no-passthrough")
    ran = host.wait_for(r"orders: on_failure hook for run (\d+) done in [\d.]+s")

    first, retry = sorted(runs_of(config, env, "orders"), key=lambda run: run["id"])
    assert int(ran.group(1)) == retry["id"]  # not after the first attempt: a retry followed
    assert len(re.findall(r"on_failure hook", host.stderr())) == 1
    seen_env = _environment(seen)
    assert seen_env["SYNCTUI_HOOK"] == "on_failure"
    assert seen_env["SYNCTUI_JOB"] == "orders"
    assert seen_env["SYNCTUI_RUN_ID"] == str(retry["id"])
    assert seen_env["SYNCTUI_RESULT"] == "failure"
    assert seen_env["SYNCTUI_EXIT_CODE"] == "3"
    assert seen_env["SYNCTUI_TRIGGER"] == "retry"
    assert seen_env["SYNCTUI_ATTEMPT"] == "2"
    assert seen_env["SYNCTUI_ERROR"] == "exit status 3: upstream is down"
    assert float(seen_env["SYNCTUI_DURATION_S"]) == round(retry["duration_s"], 3)
    assert seen_env["SYNCTUI_SCHEDULED_AT"] and seen_env["SYNCTUI_STARTED_AT"]
    assert Path(seen_env["SYNCTUI_LOG_FILE"]).read_text() == "upstream is down\n"
    assert not (tmp_path / "success-hook-ran").exists()


def test_on_success_runs_after_every_success_with_the_global_default(tmp_path, env, hosts):
    seen = tmp_path / "success.env"
    config = write_config(tmp_path, """
        [jobs.orders]
        command = "echo synced"
        interval = "1h"
        run_on_start = true
    """)
    # The [scheduler] table's hook applies to jobs with none of their own.
    hook = f'on_success = "env > {seen}.part && mv {seen}.part {seen}"'
    text = config.read_text().replace("[scheduler]\n", f"[scheduler]\n{hook}\n")
    config.write_text(text)
    host = hosts(config, "--no-passthrough")
    host.wait_for(r"orders: on_success hook for run \d+ done")
    seen_env = _environment(seen)
    assert seen_env["SYNCTUI_RESULT"] == "success"
    assert seen_env["SYNCTUI_EXIT_CODE"] == "0"
    assert seen_env["SYNCTUI_TRIGGER"] == "start"
    assert seen_env["SYNCTUI_SIGNAL"] == ""


def test_a_failing_hook_is_logged_and_changes_nothing_else(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.shaky]
        command = "exit 1"
        interval = "200ms"
        on_failure = "echo the pager is down >&2; exit 7"

        [jobs.lost]
        command = "exit 1"
        interval = "200ms"
        on_failure = ["/nonexistent/notify", "lost failed"]
    """)
    host = hosts(config, "--no-passthrough")
    host.wait_for(r"shaky: on_failure hook for run \d+ failed: exit status 7: the pager is down$")
    host.wait_for(r"lost: on_failure hook for run \d+ could not start: No such file or directory:"
                  r" /nonexistent/notify$")
    later = len(runs_of(config, env, "shaky"))
    assert wait_until(lambda: len(runs_of(config, env, "shaky")) >= later + 2)  # still scheduled
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    assert "Traceback" not in host.stderr()


def test_a_hanging_hook_is_ended_at_its_timeout_and_never_delays_the_job(tmp_path, env, hosts):
    pids = tmp_path / "hook.pids"
    config = write_config(tmp_path, f"""
        [jobs.flaky]
        command = "exit 1"
        interval = "200ms"
        on_failure = "sleep 30 & echo $! >> {pids}; wait"
        hook_timeout_seconds = "800ms"
        kill_grace_seconds = 0.2
    """)
    host = hosts(config, "--no-passthrough")
    first = int(host.wait_for(r"flaky: run (\d+) failure").group(1))
    # While the first hook hangs, the job keeps its schedule and hooks do not pile up.
    assert wait_until(lambda: host.stderr().count(
        "on_failure hook for run ") - host.stderr().count(f"hook for run {first} ") >= 2)
    log = host.stderr()
    assert "timed out" not in log  # the first hook still hangs
    assert len(re.findall(r"flaky: on_failure hook for run \d+ skipped: the previous one is"
                          r" still going", log)) >= 2
    assert len([run for run in runs_of(config, env, "flaky") if run["id"] > first]) >= 2

    host.wait_for(rf"flaky: on_failure hook for run {first} timed out after 0.8s:"
                  r" its processes were ended")
    sleeper = int(pids.read_text().split()[0])
    assert wait_until(lambda: not pid_alive(sleeper))
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0


def test_a_run_interrupted_at_stop_gets_its_hook_before_synctui_exits(tmp_path, env, hosts):
    seen = tmp_path / "interrupted.env"
    config = write_config(tmp_path, f"""
        [jobs.long]
        command = "echo started; sleep 30"
        interval = "1h"
        run_on_start = true
        on_failure = "sleep 0.3; env > {seen}.part && mv {seen}.part {seen}"
    """, grace=0.2)
    host = hosts(config)
    host.wait_for(r"^long\| started$", stdout=True)
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    assert _environment(seen)["SYNCTUI_RESULT"] == "interrupted"


def test_cancelled_skipped_and_replaced_runs_have_no_hook(tmp_path, env, hosts):
    config = write_config(tmp_path, f"""
        [jobs.slow]
        command = "sleep 0.6"
        interval = "200ms"
        on_failure = "touch {tmp_path / 'slow-hook'}"

        [jobs.newest]
        command = "sleep 30"
        interval = "300ms"
        overlap = "replace"
        kill_grace_seconds = 0
        on_failure = "touch {tmp_path / 'newest-hook'}"

        [jobs.stuck]
        command = "sleep 30"
        interval = "1h"
        run_on_start = true
        kill_grace_seconds = 0
        on_failure = "touch {tmp_path / 'stuck-hook'}"
    """)
    host = hosts(config, "--no-passthrough")
    host.wait_for(r"stuck: run \d+ started")
    cancel = synctui("cancel", "stuck", "--config", str(config), env=env, cwd=tmp_path)
    assert cancel.returncode == 0, cancel.stderr
    host.wait_for(r"stuck: run \d+ cancelled")
    host.wait_for(r"slow: fire time .* skipped")
    host.wait_for(r"newest: run \d+ replaced")
    host.wait_for(r"slow: run \d+ success")
    assert "hook" not in host.stderr()
    assert not [path for path in tmp_path.iterdir() if path.name.endswith("-hook")]


def test_hook_timeout_is_a_scheduler_default_that_a_job_may_override(tmp_path):
    path = tmp_path / "synctui.toml"
    path.write_text(textwrap.dedent(f"""
        [scheduler]
        timezone = "UTC"
        state_dir = "{tmp_path / 'state'}"
        on_failure = "notify-all"
        hook_timeout_seconds = "5s"

        [jobs.inherits]
        command = "true"

        [jobs.own]
        command = "true"
        on_failure = ["notify", "own"]
        hook_timeout_seconds = 2
    """))
    path.chmod(0o600)
    jobs = load_config(path, environ={"HOME": str(tmp_path)}).jobs
    assert (jobs["inherits"].on_failure, jobs["inherits"].hook_timeout_s) == ("notify-all", 5)
    assert (jobs["own"].on_failure, jobs["own"].hook_timeout_s) == (("notify", "own"), 2)
    path.write_text(path.read_text().replace('hook_timeout_seconds = "5s"', ""))
    assert load_config(path, environ={"HOME": str(tmp_path)}).jobs["inherits"].hook_timeout_s == 60


def test_a_run_found_interrupted_at_start_gets_its_on_failure_hook(tmp_path):
    seen = tmp_path / "recovered.env"
    path = tmp_path / "synctui.toml"
    path.write_text(textwrap.dedent(f"""
        [scheduler]
        timezone = "UTC"
        state_dir = "{tmp_path / 'state'}"
        on_failure = "env > {seen}.part && mv {seen}.part {seen}"

        [jobs.orders]
        command = "true"
        interval = "1h"
        retries = 2
    """))
    path.chmod(0o600)
    config = load_config(path, environ={"HOME": str(tmp_path)})
    store = Store(tmp_path / "state")
    started = datetime.now(timezone.utc) - timedelta(seconds=5)
    # Its host was killed outright: a pid above any pid_max is never alive.
    orphan = store.begin_run("orders", Trigger.SCHEDULED, started, started, host=(2**22 + 1, 0))
    store.close()

    scheduler = SyncScheduler(config, serve=False, tick_s=0.1)
    try:
        scheduler.start()
        assert wait_until(seen.exists)
    finally:
        scheduler.shutdown(grace=0)
        scheduler.store.close()
    seen_env = _environment(seen)
    assert seen_env["SYNCTUI_HOOK"] == "on_failure"
    assert seen_env["SYNCTUI_JOB"] == "orders"
    assert seen_env["SYNCTUI_RUN_ID"] == str(orphan.id)
    assert seen_env["SYNCTUI_RESULT"] == "interrupted"
    assert seen_env["SYNCTUI_ATTEMPT"] == "1"  # no retry follows a recovered run
    assert seen_env["SYNCTUI_ERROR"] == f"the scheduler (pid {2**22 + 1}) died while it ran"


def test_a_fallback_run_fires_its_hooks(tmp_path):
    """The fallback's runs go through the same lifecycle as a scheduler's: hooks included."""
    from synctui.scheduler.fallback import FallbackControl

    failed, succeeded = tmp_path / "failure.env", tmp_path / "success.env"
    config = load_config(write_config(tmp_path, f"""
        [jobs.broken]
        command = "echo nope; exit 4"
        interval = "1h"
        on_failure = "env > {failed}.part && mv {failed}.part {failed}"

        [jobs.fine]
        command = "true"
        interval = "1h"
        on_success = "env > {succeeded}.part && mv {succeeded}.part {succeeded}"
    """))
    fallback = FallbackControl(config, reason="the store is locked", refresh_s=0.1)
    fallback.begin()
    try:
        fallback.run_now("broken")
        fallback.run_now("fine")
        assert wait_until(lambda: failed.exists() and succeeded.exists(), timeout=10)
    finally:
        fallback.shutdown(grace=0)
    assert _environment(failed)["SYNCTUI_RESULT"] == "failure"
    assert _environment(failed)["SYNCTUI_ERROR"] == "exit status 4: nope"
    assert _environment(succeeded)["SYNCTUI_JOB"] == "fine"


def test_run_with_no_host_records_a_dead_hosts_runs_interrupted_with_their_hook(
    tmp_path, env, hosts
):
    seen = tmp_path / "failure.env"
    config = write_config(tmp_path, f"""
        [jobs.long]
        command = "echo started; sleep 60"
        interval = "1h"
        run_on_start = true
        on_failure = "env > {seen}.part && mv {seen}.part {seen}"

        [jobs.quick]
        command = "true"
        interval = "1h"
    """)
    host = hosts(config)
    host.wait_for(r"long: run 1 started")
    host.send(signal.SIGKILL)
    host.exit_status()
    assert [run["result"] for run in runs_of(config, env, "long")] == ["running"]

    ran = synctui("run", "quick", "--wait", "--config", str(config), env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    [long] = runs_of(config, env, "long")
    assert long["result"] == "interrupted"
    assert long["error"].startswith(f"the scheduler (pid {host.pid}) died while it ran")
    assert wait_until(seen.exists) and _environment(seen)["SYNCTUI_RESULT"] == "interrupted"
