"""Starting runs: each recorded `running` with its token before its job is spawned (by its
`RunHandle`, on a thread of its own), and the runs whose host died recovered.

Every run that `Runner.start` accepts ends with a recorded result, whatever the
job does: exits, crashes, hangs, floods its output, or leaves children behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Callable

from synctui.config.model import JobConfig
from synctui.scheduler.clock import utc_now
from synctui.scheduler.events import EventBus
from synctui.scheduler.processes import boot_id, end_leftovers, is_alive, new_token, read_stat
from synctui.scheduler.records import Result, RunRecord, Scope, Trigger
from synctui.scheduler.run_handle import CannotStart, RunHandle
from synctui.scheduler.store import Store

BUSY_RUNS = 4
"""How many runs at once take the steps of starting and of being recorded."""


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
                raise CannotStart(f"command not found: {program}")
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


def _file_size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path else 0
    except OSError:
        return 0
