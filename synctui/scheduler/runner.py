"""One run of one job: spawn it, capture its output, hold it to its timeout, record its result.

Every run that `Runner.start` accepts ends with a recorded result, whatever the
job does: exits, crashes, hangs, floods its output, or leaves children behind.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Callable

from synctui.config.model import JobConfig
from synctui.scheduler.clock import seconds_text, utc_now
from synctui.scheduler.events import EventBus, OutputLines, RunFinished, RunStarted
from synctui.scheduler.processes import (
    TOKEN_VARIABLE,
    boot_id,
    end_carriers,
    end_leftovers,
    group_alive,
    is_alive,
    new_token,
    read_stat,
    signal_group,
)
from synctui.scheduler.records import Result, RunRecord, Scope, Trigger
from synctui.scheduler.run_log import RunLog
from synctui.scheduler.store import Store, StoreFull

log = logging.getLogger("synctui.scheduler")

READ_SIZE = 1 << 16
LONGEST_LINE = 1 << 16
"""A line longer than this (no newline in sight) is passed on in pieces, bounding memory."""
BUSY_RUNS = 4
"""How many runs at once take the steps of starting and of being recorded."""
RECORD_RETRY_S = 1.0
"""How often a result that found the disk full is tried again."""
STRAY_PIPE_WAIT = 1.0
"""After the job's group is killed, how long to wait for a pipe held by a process outside it."""

_STOP_REASONS = {
    Result.TIMEOUT: "timed out after {timeout}",
    Result.CANCELLED: "cancelled by the operator",
    Result.REPLACED: "replaced by a newer run (overlap = replace)",
    Result.INTERRUPTED: "the scheduler stopped while it ran",
}


@dataclass(frozen=True)
class RunRequest:
    """A run asked for: which job, why, and for which fire time."""

    job: JobConfig
    trigger: Trigger
    scheduled_at: datetime
    attempt: int = 1
    scope: Scope = Scope()


class Runner:
    """Starts runs and records them in `store`, publishing their events on `bus`."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        zone: tzinfo = timezone.utc,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.bus = bus
        self.zone = zone
        self.clock = clock
        # PR_SET_PDEATHSIG without preexec_fn (which would force subprocess's slow
        # fork path): util-linux's setpriv sets it, then execs the job.
        self._setpriv = shutil.which("setpriv")
        host = os.getpid()
        stat = read_stat(host)
        self._host = (host, stat.start_ticks if stat else None)
        self._boot_id = boot_id()
        self._log_dirs: set[tuple[str, int | None]] = set()
        self._busy = threading.BoundedSemaphore(BUSY_RUNS)
        self.log_group: int | None = None
        """A group that may read the run logs: the `[control] group` while its members
        may steer (they already see every line live; the history stays private)."""

    def start(
        self, request: RunRequest, on_finish: Callable[[RunHandle], None] | None = None, *,
        warn_after_s: float | None = None, on_overdue: Callable[[RunHandle], None] | None = None,
        on_record: Callable[[RunHandle], None] | None = None,
    ) -> RunHandle:
        """Record the run as `running` and start it in its own thread; returns at once.

        `on_record` is called here once the run is recorded, before its thread starts (so
        before `on_finish` can be); `on_finish` from the run's thread once the result is
        recorded; `on_overdue` from there too, once, if the run goes on past `warn_after_s`.
        """
        job, scope = request.job, request.scope
        watermark = self.store.job_state(job.name).watermark
        if scope.window is not None:
            last_success = scope.window[0]
        elif scope.full:
            last_success = None
        else:
            last_success = scope.since or watermark
        started_at = self.clock()
        token = new_token()
        record = self.store.begin_run(
            job.name, request.trigger, request.scheduled_at, started_at,
            attempt=request.attempt, host=self._host, token=token,
            covers=scope.covers(watermark), window=scope.window,
        )
        handle = RunHandle(self, request, record, last_success, token, on_finish,
                           warn_after_s=warn_after_s, on_overdue=on_overdue)
        if on_record is not None:
            on_record(handle)
        handle._thread.start()
        return handle

    def run(self, request: RunRequest) -> RunRecord:
        """Start a run and wait for its result."""
        return self.start(request).wait()

    def recover(self) -> list[RunRecord]:
        """Mark `interrupted` the runs whose host died, ending what is left of their jobs.

        A run whose host process is still alive is left alone: it is still running.
        """
        recovered = []
        for orphan in self.store.orphans():
            if orphan.host_pid is not None and is_alive(orphan.host_pid, orphan.host_start):
                continue
            ended = end_leftovers(
                orphan.token, orphan.session, orphan.leader_start, orphan.boot_id
            )
            error = f"the scheduler (pid {orphan.host_pid}) died while it ran"
            if ended:
                error += f"; ended {ended} process{'es' if ended > 1 else ''} it left behind"
            recovered.append(
                self.store.finish_run(
                    orphan.run.id, Result.INTERRUPTED, self.clock(), None, error=error,
                    log_bytes=_file_size(orphan.run.log_path),
                )
            )
        return recovered

    def _argv(self, job: JobConfig, env: dict[str, str]) -> list[str]:
        if job.callable is not None:
            argv = [sys.executable, "-m", "synctui.scheduler.callable_child", job.callable]
        elif isinstance(job.command, str):
            argv = ["/bin/sh", "-c", job.command]
        else:
            argv = list(job.command or ())
            program = argv[0]
            if "/" in program:
                found = os.access(Path(job.cwd or ".") / program, os.X_OK)
            else:
                found = shutil.which(program, path=env.get("PATH", os.defpath)) is not None
            if not found:
                raise _CannotStart(f"command not found: {program}")
        if self._setpriv:
            argv = [self._setpriv, "--pdeathsig", "KILL", "--", *argv]
        return argv

    def _log_file(self, path: Path) -> int:
        group = self.log_group
        folder = path.parent
        if (str(folder), group) not in self._log_dirs:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for place in (folder.parent, folder):  # logs/ and logs/<job>/
                if group is not None:
                    os.chown(place, -1, group)
                os.chmod(place, 0o750 if group is not None else 0o700)
            self._log_dirs.add((str(folder), group))
        log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        if group is not None:  # set after the open: a umask (UMask=0077) would narrow it
            os.fchown(log, -1, group)
            os.fchmod(log, 0o640)
        return log


class _CannotStart(Exception):
    """The job cannot be spawned; the message is the run's error."""


@dataclass(frozen=True)
class _Ending:
    """How a run ended, before it is recorded."""

    result: Result
    exit_code: int | None = None
    signal: str | None = None
    error: str | None = None


def _file_size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path else 0
    except OSError:
        return 0


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
        except (_CannotStart, OSError) as failure:
            error = str(failure) if isinstance(failure, _CannotStart) else (
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
        except Exception as bug:
            if not isinstance(bug, StoreFull):
                log.exception("run %s of %s: internal error", self.run.id, self.run.job)
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
            return None, _Ending(Result.FAILURE, error=str(bug) if isinstance(bug, StoreFull)
                                 else f"synctui internal error: {bug!r}")
        return process, None

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
        killed_at: float | None = None
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
                    killed_at = now
                    signal_group(self._pgid, signal.SIGKILL)
                    self._log.note("SIGKILL sent to the job's processes")
                if exited and killed_at is not None and now - killed_at > STRAY_PIPE_WAIT:
                    # Something outside the job's group still holds its output open.
                    break
                deadlines = [
                    t for t in (timeout_at, warn_at, self._term_at, self._kill_at) if t is not None
                ]
                if exited and killed_at is not None:
                    deadlines.append(killed_at + STRAY_PIPE_WAIT)
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
                        if group_alive(self._pgid):
                            # The job's main process is done; like systemd, end the rest.
                            self._terminate(
                                time.monotonic(), job.kill_grace_s,
                                "the job exited; SIGTERM sent to processes it left behind",
                            )
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
