"""One run of one job on its own thread: spawn it, capture its output, hold it to its
timeout, record its result (`RunHandle`, made by `Runner.start`)."""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from synctui.scheduler.clock import seconds_text
from synctui.scheduler.events import OutputLines, RunFinished, RunStarted
from synctui.scheduler.processes import (
    TOKEN_VARIABLE,
    end_carriers,
    group_alive,
    read_stat,
    signal_group,
)
from synctui.scheduler.records import Result, RunRecord
from synctui.scheduler.run_log import RunLog
from synctui.scheduler.store import StoreFull

if TYPE_CHECKING:
    from synctui.scheduler.runner import Runner, RunRequest

log = logging.getLogger("synctui.scheduler")

READ_SIZE = 1 << 16
LONGEST_LINE = 1 << 16
"""A line longer than this (no newline in sight) is passed on in pieces, bounding memory."""
RECORD_RETRY_S = 1.0
"""How often a result that found the disk full is tried again."""
STRAY_PIPE_WAIT = 1.0
"""Once the job's process group is gone, how long to wait for the end of its output that a
process outside the group (a daemon that left the session) may still hold open."""
GROUP_POLL_S = 0.1
"""How often, once the job's main process has exited, its group is looked at (for a stop
in which nothing closes the output)."""

_STOP_REASONS = {
    Result.TIMEOUT: "timed out after {timeout}",
    Result.CANCELLED: "cancelled by the operator",
    Result.REPLACED: "replaced by a newer run (overlap = replace)",
    Result.INTERRUPTED: "the scheduler stopped while it ran",
}


class CannotStart(Exception):
    """The job cannot be spawned; the message is the run's error."""


@dataclass(frozen=True)
class _Ending:
    """How a run ended, before it is recorded."""

    result: Result
    exit_code: int | None = None
    signal: str | None = None
    error: str | None = None


class RunHandle:
    """A run in progress: cancel it, interrupt it, or wait for its record."""

    def __init__(
        self, runner: Runner, request: RunRequest, record: RunRecord,
        last_success: datetime | None, token: str,
        on_finish: Callable[[RunHandle], None] | None = None, *,
        warn_after_s: float | None = None, on_overdue: Callable[[RunHandle], None] | None = None,
    ) -> None:
        self.request = request
        self.run = record
        """The run's record: `running` until `done`, then its final record."""
        self._runner = runner
        self._last_success = last_success
        self._token = token
        self._on_finish = on_finish
        self.warn_after_s = warn_after_s
        """How long the run may go before it is overdue (None: as long as it takes)."""
        self._on_overdue = on_overdue
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._stop_result: Result | None = None
        self._term_at: float | None = None
        self._kill_at: float | None = None
        self._pgid: int | None = None
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._log = RunLog(None, request.job.log_max_bytes)
        self._partial = b""
        self._last_line = ""
        self._interrupting = threading.Event()
        self._waiting_for_room = False
        self._thread = threading.Thread(
            target=self._execute, name=f"run-{record.job}-{record.id}", daemon=True
        )

    @property
    def done(self) -> bool:
        """Whether the run has its result."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> RunRecord:
        """Block until the run ends (or `timeout` passes) and return its record."""
        self._done.wait(timeout)
        return self.run

    def cancel(self) -> None:
        """End the run now (SIGTERM, SIGKILL after the job's grace); result `cancelled`."""
        self._stop(Result.CANCELLED, 0.0)

    def replace(self) -> None:
        """End the run now because a newer one takes its place; result `replaced`."""
        self._stop(Result.REPLACED, 0.0)

    def interrupt(self, after: float) -> None:
        """Let the run finish for `after` seconds, then end it; result `interrupted` if ended.
        A result waiting for room on the disk stops waiting (the next start records it)."""
        self._interrupting.set()
        self._stop(Result.INTERRUPTED, after)

    def _stop(self, result: Result, after: float) -> None:
        with self._lock:
            if self._stop_result is not None or self.done:
                return
            if after <= 0:
                self._stop_result = result
            self._term_at = time.monotonic() + max(after, 0.0)
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:
                pass  # Already woken: the pipe is full of wake-ups.

    # --- the run's own thread -----------------------------------------------------

    def _execute(self) -> None:
        self._runner.bus.publish(RunStarted(self.run))
        # A burst's runs would all compete for the interpreter at once as they start and
        # as they are recorded, and the dispatcher and the control socket with them: those
        # steps are taken BUSY_RUNS at a time. Watching a job takes no turn.
        with self._runner._busy:
            begun = time.monotonic()
            process, ending = self._spawn()
        if process is not None:
            ending = self._supervise(process)
        with self._runner._busy:
            self._record(ending, time.monotonic() - begun)
        if self._on_finish is not None:
            self._on_finish(self)

    def _spawn(self) -> tuple[subprocess.Popen | None, _Ending | None]:
        """The job's process, or why it could not start."""
        job = self.request.job
        try:
            self._log = RunLog(self._runner._log_file(self.run.log_path),
                               job.log_max_bytes)
            env = self._environment()
            scope = self.request.scope.describe(self._runner.zone)
            if scope:  # what this run syncs, first in its log and its live output
                self._log.note(scope)
                self._runner.bus.publish(
                    OutputLines(self.run.job, self.run.id, (f"[synctui] {scope}",)))
            argv = self._runner._argv(job, env)
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, cwd=job.cwd, env=env, start_new_session=True,
                bufsize=0,
            )
        except (CannotStart, OSError) as failure:
            error = str(failure) if isinstance(failure, CannotStart) else (
                f"cannot start: {failure.strerror}"
                + (f": {failure.filename}" if failure.filename else "")
            )
            self._log.note(error)
            return None, _Ending(Result.FAILURE, error=error)
        except Exception as bug:
            log.exception("run %s of %s: internal error before its start", self.run.id, self.run.job)
            return None, _Ending(Result.FAILURE, error=f"synctui internal error: {bug!r}")
        self._pgid = process.pid
        with self._lock:
            self.run = replace(self.run, started_at=self._runner.clock())
        try:
            stat = read_stat(process.pid)
            self._runner.store.set_process(
                self.run.id, process.pid, stat.start_ticks if stat else None,
                self._runner._boot_id, self.run.started_at,
            )
        except StoreFull as full:
            ending = _Ending(Result.FAILURE, error=str(full))
        except Exception as bug:
            log.exception("run %s of %s: internal error", self.run.id, self.run.job)
            ending = _Ending(Result.FAILURE, error=f"synctui internal error: {bug!r}")
        else:
            return process, None
        signal_group(process.pid, signal.SIGKILL)  # nothing of a run it cannot hold goes on
        process.wait()
        return None, ending

    def _supervise(self, process: subprocess.Popen) -> _Ending:
        """Watch the job to its end and judge it."""
        try:
            self._watch(process)
            returncode = process.returncode
            if returncode < 0:
                signal_name, exit_code = signal.Signals(-returncode).name, None
            else:
                signal_name, exit_code = None, returncode
            result, error = self._judge(exit_code, signal_name)
            return _Ending(result, exit_code, signal_name, error)
        except Exception as bug:
            # A fault of synctui's own still ends the run with a result, and leaves no
            # process behind (here and once its process is started).
            log.exception("run %s of %s: internal error", self.run.id, self.run.job)
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
            return _Ending(Result.FAILURE, error=f"synctui internal error: {bug!r}")

    def _record(self, ending: _Ending, duration: float) -> None:
        """Record the run's result, release its waiters and announce it (`on_finish`
        follows, out of the turn: it may start the runs that were waiting)."""
        error = ending.error
        log_problem = self._log.close()
        if log_problem:
            error = f"{error}; {log_problem}" if error else log_problem
        finished_at = self._runner.clock()
        try:
            while True:
                try:
                    record = self._runner.store.finish_run(
                        self.run.id, ending.result, finished_at, duration,
                        exit_code=ending.exit_code, signal=ending.signal, error=error,
                        log_bytes=self._log.size,
                    )
                    break
                except StoreFull as full:
                    if self._interrupting.is_set():  # the host stops: its next start records it
                        raise
                    if not self._waiting_for_room:
                        log.warning("run %s of %s: its result (%s) waits for room: %s",
                                    self.run.id, self.run.job, ending.result.value, full,
                                    extra={"event": "store_full", "job": self.run.job})
                    self._waiting_for_room = True
                    self._interrupting.wait(RECORD_RETRY_S)
            if self._waiting_for_room:
                log.info("run %s of %s: its result recorded, the disk has room again",
                         self.run.id, self.run.job, extra={"event": "store_full", "job": self.run.job})
        except Exception:
            # The store failed (disk, a closed store): the record stays `running` and
            # the next start marks it interrupted. Waiters must still be released.
            log.exception("run %s of %s: its result (%s) could not be recorded",
                          self.run.id, self.run.job, ending.result.value)
            record = replace(self.run, result=ending.result, finished_at=self._runner.clock(),
                             duration_s=duration, exit_code=ending.exit_code,
                             signal=ending.signal, error=error, log_bytes=self._log.size)
        with self._lock:
            # Under the lock `_stop` checks `done`, so no wake-up is ever written to
            # these descriptors once closed (their numbers get reused).
            self.run = record
            self._done.set()
            os.close(self._wake_r)
            os.close(self._wake_w)
        # Announced once done: whoever acts on the news finds the run ended (not busy).
        self._runner.bus.publish(RunFinished(record))

    def _environment(self) -> dict[str, str]:
        zone = self._runner.zone
        last = self._last_success
        window = self.request.scope.window or ()
        start, end = (moment.astimezone(zone).isoformat(timespec="microseconds")
                      for moment in window) if window else ("", "")
        return {
            **os.environ,
            **self.request.job.env,
            "PYTHONUNBUFFERED": "1",
            "SYNCTUI_JOB": self.run.job,
            "SYNCTUI_RUN_ID": str(self.run.id),
            TOKEN_VARIABLE: self._token,
            "SYNCTUI_TRIGGER": self.run.trigger.value,
            "SYNCTUI_ATTEMPT": str(self.run.attempt),
            "SYNCTUI_SCHEDULED_AT": self.request.scheduled_at.astimezone(zone).isoformat(
                timespec="microseconds"
            ),
            "SYNCTUI_LAST_SUCCESS_AT": (
                last.astimezone(zone).isoformat(timespec="microseconds") if last else ""
            ),
            "SYNCTUI_FULL": "1" if self.request.scope.full else "",
            "SYNCTUI_WINDOW_START": start,
            "SYNCTUI_WINDOW_END": end,
        }

    def _judge(self, exit_code: int | None, signal_name: str | None) -> tuple[Result, str | None]:
        if self._stop_result is not None:
            timeout = self.request.job.timeout_s or 0
            return self._stop_result, _STOP_REASONS[self._stop_result].format(
                timeout=seconds_text(timeout)
            )
        if exit_code == 0:
            return Result.SUCCESS, None
        how = f"exit status {exit_code}" if exit_code is not None else f"killed by {signal_name}"
        return Result.FAILURE, f"{how}: {self._last_line}" if self._last_line else how

    def _watch(self, process: subprocess.Popen) -> None:
        """Read output until the job and its group are done, enforcing every deadline."""
        job = self.request.job
        out = process.stdout.fileno()
        pidfd = os.pidfd_open(process.pid)
        poller = select.poll()
        poller.register(out, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        begun = time.monotonic()
        timeout_at = begun + job.timeout_s if job.timeout_s else None
        warn_at = begun + self.warn_after_s if self.warn_after_s is not None else None
        exited = eof = False
        # Once the main process exited: when its group was found gone (the output maybe
        # still held open by a daemon), and when to look at the group next.
        group_gone_at: float | None = None
        group_check_at = 0.0
        try:
            while not (exited and eof):
                now = time.monotonic()
                if timeout_at is not None and now >= timeout_at and not exited:
                    timeout_at = None
                    with self._lock:
                        if self._stop_result is None:
                            self._stop_result = Result.TIMEOUT
                            self._term_at = now
                    self._log.note(f"timed out after {seconds_text(job.timeout_s)}")
                if warn_at is not None and now >= warn_at and not exited:
                    warn_at = None
                    if self._on_overdue is not None:
                        self._on_overdue(self)
                if self._term_at is not None and now >= self._term_at:
                    with self._lock:
                        self._term_at = None
                        if self._stop_result is None:
                            self._stop_result = Result.INTERRUPTED
                    self._terminate(now, job.kill_grace_s, "SIGTERM sent to the job's processes")
                if self._kill_at is not None and now >= self._kill_at:
                    self._kill_at = None
                    signal_group(self._pgid, signal.SIGKILL)
                    self._log.note("SIGKILL sent to the job's processes")
                if exited and group_gone_at is None and now >= group_check_at:
                    if group_alive(self._pgid):
                        group_check_at = now + GROUP_POLL_S
                    else:
                        group_gone_at = now
                if group_gone_at is not None and now - group_gone_at > STRAY_PIPE_WAIT:
                    # The group is gone; something outside it (a daemon that left the
                    # session) holds the output open: the run does not wait for it.
                    break
                deadlines = [
                    t for t in (timeout_at, warn_at, self._term_at, self._kill_at) if t is not None
                ]
                if exited:
                    deadlines.append(group_check_at if group_gone_at is None
                                     else group_gone_at + STRAY_PIPE_WAIT)
                wait_ms = -1 if not deadlines else max(0, int((min(deadlines) - now) * 1000) + 1)
                for fd, _ in poller.poll(wait_ms):
                    if fd == out:
                        chunk = os.read(out, READ_SIZE)
                        if chunk:
                            self._take(chunk)
                        else:
                            eof = True
                            poller.unregister(out)
                    elif fd == pidfd:
                        exited = True
                        poller.unregister(pidfd)
                        process.wait()
                        now = time.monotonic()
                        if group_alive(self._pgid):
                            # The job's main process is done; like systemd, end the rest.
                            self._terminate(
                                now, job.kill_grace_s,
                                "the job exited; SIGTERM sent to processes it left behind",
                            )
                            group_check_at = now + GROUP_POLL_S
                        else:
                            group_gone_at = now
                    else:
                        os.read(self._wake_r, 512)
            self._finish_leftovers()
            if not job.keep_daemons:
                # What left the job's session (a double fork, setsid) still carries
                # its token; nothing of a run outlives it.
                ended = end_carriers(self._token)
                if ended:
                    self._log.note(
                        f"SIGKILL sent to {ended} process{'es' if ended > 1 else ''}"
                        " that left the job's session"
                    )
        finally:
            os.close(pidfd)
            process.stdout.close()
        if self._partial:
            self._publish([self._partial])
            self._partial = b""

    def _terminate(self, now: float, grace: float, note: str) -> None:
        if signal_group(self._pgid, signal.SIGTERM):
            self._log.note(note)
            if self._kill_at is None:
                self._kill_at = now + grace

    def _finish_leftovers(self) -> None:
        """Leftovers that closed their output but ignore SIGTERM get SIGKILL at the deadline."""
        while self._kill_at is not None and group_alive(self._pgid):
            remaining = self._kill_at - time.monotonic()
            if remaining <= 0:
                signal_group(self._pgid, signal.SIGKILL)
                self._log.note("SIGKILL sent to the processes the job left behind")
                break
            # Not time.sleep: under libfaketime 0.9 (the soak's clock steps) it fails, EINVAL.
            self._interrupting.wait(min(remaining, 0.02))
        self._kill_at = None

    # --- output -----------------------------------------------------------------

    def _take(self, chunk: bytes) -> None:
        self._log.write(chunk)
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) < LONGEST_LINE:
                self._partial = data
                return
            block, self._partial = data, b""
        else:
            block, self._partial = data[:cut], data[cut + 1 :]
        self._publish(block.replace(b"\r\n", b"\n").split(b"\n"))

    def _publish(self, raw: list[bytes]) -> None:
        # Decoding whole lines: a newline never splits a UTF-8 character. Bytes that are
        # not UTF-8 are shown escaped, and the run log has them as they were.
        lines, escaped = [], set()
        for number, data in enumerate(raw):
            try:
                lines.append(data.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(data.decode("utf-8", "backslashreplace"))
                escaped.add(number)
        for line in reversed(lines):
            if line.strip():
                self._last_line = line.strip()
                break
        self._runner.bus.publish(
            OutputLines(self.run.job, self.run.id, tuple(lines), frozenset(escaped))
        )
