"""A job's hook commands (`on_failure`, `on_recovery`, `on_overdue`, `on_success`), never in its runs' way.

Which hook follows what is `alerts`' choice. A hook runs on a thread of its own, in a session of its own, with the run's
context in its environment; past its timeout its process group is ended. It
cannot delay or stop a run or the scheduler: whatever it does is only logged.

`on_failure` follows a run that ended `failure`, `timeout` or `interrupted` (the
results that make a job `down`) once no retry follows it and `notify_after_failures`
runs in a row failed (see `notices`); `on_recovery` follows the first success after
that; `on_overdue` a run that went past `warn_after`; `on_success` follows every
`success`. `cancelled`, `skipped` and `replaced` runs have no hook.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from datetime import datetime, tzinfo

from synctui.config.model import JobConfig
from synctui.scheduler.processes import signal_group
from synctui.scheduler.records import RunRecord

log = logging.getLogger("synctui.hooks")

_LAST_WORDS = 4096
"""How much of a failed hook's output is read back for the log line."""


class Hooks:
    """Starts the hooks of one scheduler's runs; a job's hook runs one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._going: set[tuple[str, str]] = set()
        """(job, hook) pairs with a hook process still going."""

    def start(
        self, job: JobConfig, record: RunRecord, zone: tzinfo, hook: str,
        command: tuple[str, ...] | str | None,
    ) -> None:
        """Start the job's `hook` (its `command`, if set) for `record`; returns at once."""
        if command is None:
            return
        extra = {"event": "hook_failed", "job": job.name, "run_id": record.id}
        with self._lock:
            if (job.name, hook) in self._going:
                # A job failing faster than its hook ends must not pile up processes.
                log.warning("%s: %s hook for run %s skipped: the previous one is still going",
                            job.name, hook, record.id, extra=extra)
                return
            self._going.add((job.name, hook))
        # Not a daemon (the run's thread is one, and would pass it on): at exit, a hook
        # still going gets its timeout to finish.
        thread = threading.Thread(
            target=self._run, args=(job, hook, command, _environment(hook, record, zone), record.id),
            name=f"hook-{job.name}-{record.id}", daemon=False,
        )
        try:
            thread.start()
        except RuntimeError as refusal:  # the interpreter is exiting
            self._done(job.name, hook)
            log.warning("%s: %s hook for run %s not started: %s", job.name, hook, record.id,
                        refusal, extra=extra)

    def _done(self, name: str, hook: str) -> None:
        with self._lock:
            self._going.discard((name, hook))

    def _run(
        self, job: JobConfig, hook: str, command: tuple[str, ...] | str, env: dict[str, str],
        run_id: int,
    ) -> None:
        try:
            _run_hook(job, hook, command, env, run_id)
        except Exception:
            # A fault of synctui's own in a hook's thread is logged, and ends only the hook.
            log.exception("%s: %s hook for run %s: internal error", job.name, hook, run_id,
                          extra={"event": "hook_failed", "job": job.name, "run_id": run_id})
        finally:
            self._done(job.name, hook)


def _run_hook(
    job: JobConfig, hook: str, command: tuple[str, ...] | str, env: dict[str, str], run_id: int
) -> None:
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    about = f"{job.name}: {hook} hook for run {run_id}"
    extra = {"event": "hook_failed", "job": job.name, "run_id": run_id}
    begun = time.monotonic()
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                cwd=job.cwd, env=env, start_new_session=True,
            )
        except OSError as error:
            log.warning("%s could not start: %s%s", about, error.strerror,
                        f": {error.filename}" if error.filename else "", extra=extra)
            return
        try:
            # Only the hook itself is waited for: what it leaves in the background may go on.
            process.wait(job.hook_timeout_s)
        except subprocess.TimeoutExpired:
            signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(job.kill_grace_s)
            except subprocess.TimeoutExpired:
                signal_group(process.pid, signal.SIGKILL)
                process.wait()
            signal_group(process.pid, signal.SIGKILL)  # what it started, if still there
            log.warning("%s timed out after %gs: its processes were ended", about,
                        job.hook_timeout_s, extra=extra)
            return
        took = time.monotonic() - begun
        if process.returncode == 0:
            log.info("%s done in %.1fs", about, took,
                     extra={"event": "hook_finished", "job": job.name, "run_id": run_id})
            return
        how = (f"killed by {signal.Signals(-process.returncode).name}" if process.returncode < 0
               else f"exit status {process.returncode}")
        said = _last_line(output)
        log.warning("%s failed: %s%s", about, how, f": {said}" if said else "", extra=extra)


def _last_line(output) -> str:
    """The last non-empty line the hook printed, for the log line."""
    size = output.seek(0, os.SEEK_END)
    output.seek(max(size - _LAST_WORDS, 0))
    lines = output.read().decode("utf-8", "replace").splitlines()
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def _environment(hook: str, record: RunRecord, zone: tzinfo) -> dict[str, str]:
    """synctui's own environment plus the run's context (not the job's `env`: hooks
    are for notifying, and the job's secrets stay with the job)."""

    def moment(value: datetime | None) -> str:
        return value.astimezone(zone).isoformat(timespec="microseconds") if value else ""

    return {
        **os.environ,
        "SYNCTUI_HOOK": hook,
        "SYNCTUI_JOB": record.job,
        "SYNCTUI_RUN_ID": str(record.id),
        "SYNCTUI_TRIGGER": record.trigger.value,
        "SYNCTUI_ATTEMPT": str(record.attempt),
        "SYNCTUI_RESULT": record.result.value,
        "SYNCTUI_EXIT_CODE": "" if record.exit_code is None else str(record.exit_code),
        "SYNCTUI_SIGNAL": record.signal or "",
        "SYNCTUI_ERROR": record.error or "",
        "SYNCTUI_DURATION_S": "" if record.duration_s is None else f"{record.duration_s:.3f}",
        "SYNCTUI_SCHEDULED_AT": moment(record.scheduled_at),
        "SYNCTUI_STARTED_AT": moment(record.started_at),
        "SYNCTUI_FINISHED_AT": moment(record.finished_at),
        "SYNCTUI_LOG_FILE": str(record.log_path) if record.log_path else "",
    }
