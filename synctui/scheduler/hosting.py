"""Who hosts a state directory's scheduler: this process's seat, and one-shot hosting.

`LocalSeat` is the `HostSeat` of one machine: a file lock in the state directory
says who hosts, the store's host record says who it is and when it last beat, and
a Unix socket is the control endpoint. `OneShot` holds the seat (no endpoint) while
`run` or `--once` runs jobs here, so that no scheduler starts under it and no other
one-shot runs the same jobs alongside.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable, Mapping
from zoneinfo import ZoneInfo

from synctui.config.model import Config
from synctui.scheduler import after
from synctui.scheduler.clock import utc_now
from synctui.scheduler.control import HostBusy, Refused, SchedulerControl
from synctui.scheduler.control_server import ControlServer, SocketError
from synctui.scheduler.events import EventBus
from synctui.scheduler.host_lock import HostLock
from synctui.scheduler.lifecycle import RunLifecycle
from synctui.scheduler.processes import read_stat
from synctui.scheduler.protocol import socket_path
from synctui.scheduler.records import Fires, HostRecord, RunRecord, Scope, Trigger
from synctui.scheduler.seams import RunStore
from synctui.scheduler.store import Store


class LocalSeat:
    """The hosting seat of a state directory on this machine (a `HostSeat`)."""

    def __init__(self, config: Config, store: RunStore, mode: str) -> None:
        self.config = config
        self.store = store
        self._lock = HostLock(config.scheduler.state_dir)
        self.server: ControlServer | None = None
        self.held = False
        """Whether this process hosts now: the seat taken and the host record written."""
        stat = read_stat(os.getpid())
        self.record = HostRecord(
            pid=os.getpid(), start_ticks=stat.start_ticks if stat else None, mode=mode,
            config=config.source, started_at=utc_now(), heartbeat_at=utc_now(),
            scheduling=False,
        )

    @property
    def attached_consoles(self) -> int:
        """How many consoles are attached through the control endpoint now."""
        return self.server.consoles if self.server is not None else 0

    @property
    def log_group(self) -> int | None:
        """The group that may read the run logs (the `[control] group`, while served)."""
        return self.server.gid if self.server is not None else None

    def take(self) -> None:
        """Hold the seat, or `HostBusy` naming who holds it."""
        if not self._lock.acquire():
            other = self.store.host()
            raise HostBusy(
                f"another synctui{f' (pid {other.pid}, {other.mode})' if other else ''}"
                f" already hosts {self.config.scheduler.state_dir}"
            )

    def serve(
        self, control: SchedulerControl, *, reload: Callable[[], str] | None,
        handover: Callable[[], str] | None,
    ) -> None:
        """Open the control endpoint for `control` (`Refused` if it cannot)."""
        server = ControlServer(
            control, socket_path(self.config.scheduler.state_dir), mode=self.record.mode,
            group=self.config.control.group, reload=reload, handover=handover,
        )
        try:
            server.start()
        except SocketError as error:
            raise Refused(str(error)) from None
        self.server = server
        self.record = replace(self.record, socket=str(server.path))

    def claim(self) -> None:
        """Write this process down as the host."""
        self.store.claim_host(self.record)
        self.held = True

    def beat(
        self, scheduling: bool, fires: Mapping[str, Fires], wedged: str | None = None
    ) -> None:
        """Say the host is alive, each job's fire times around now, and why it is wedged."""
        if self.held:
            self.store.heartbeat(self.record.pid, utc_now(), scheduling, fires, wedged)

    def release(self) -> None:
        """Let another process host: the endpoint closed, the record and the seat let go."""
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.held:
            self.store.release_host(self.record.pid)
            self.held = False
        self._lock.release()


class OneShot:
    """Jobs run here once while this process holds the seat (`run`, `--once`).

    Used as a context: entering takes the seat (`HostBusy` if another process holds it)
    and records a dead host's runs `interrupted`; leaving gives running runs the
    shutdown grace (none when left by ctrl-c, SIGTERM or SIGHUP as `KeyboardInterrupt`:
    the operator wants it ended now), ends them, and lets the seat go.
    """

    def __init__(self, config: Config, *, store: RunStore | None = None) -> None:
        self.config = config
        self.store = store or Store(config.scheduler.state_dir)
        self.bus = EventBus()
        # A one-shot ends with its own runs: the jobs that run after them are the next
        # host's to start.
        self.lifecycle = RunLifecycle(config, self.store, self.bus, runs_after=False,
                                      zone=ZoneInfo(config.scheduler.timezone))
        self._seat = LocalSeat(config, self.store, "once")

    def __enter__(self) -> OneShot:
        self._seat.take()
        self.lifecycle.recover()
        return self

    def __exit__(self, kind, *exc) -> None:
        try:
            self.shutdown(grace=0 if kind is KeyboardInterrupt else None)
        finally:
            self._seat.release()

    def run_now(self, name: str, scope: Scope = Scope(), *, force: bool = False) -> RunRecord:
        """Start a manual run of the job (refused as the scheduler refuses one)."""
        return self.lifecycle.run_now(name, scope, force=force)

    def run_once(self, names: list[str]) -> dict[str, RunRecord]:
        """Run each job named once with trigger `once`, retries included, and wait: each
        job's last attempt (its `skipped` record, outside its run window). A job runs
        after those of its upstreams that are named (held, recorded skipped, if one of
        them did not succeed)."""
        for name in names:
            self.lifecycle.slot(name)  # refuses an unknown name before anything runs
        results = {}
        for wave in after.in_order(self.config.jobs, names):
            slots = [self.lifecycle.slot(name) for name in wave]
            handles = [self.lifecycle.launch(slot, Trigger.ONCE, utc_now()) for slot in slots]
            for slot, handle in zip(slots, handles):
                name = slot.job.name
                if handle is None:  # held, or outside its window: its skip is the newest record
                    results[name] = self.store.runs(name, limit=1)[0]
                    continue
                self.lifecycle.wait_settled(slot)
                first = handle.run.id
                # The last attempt of this series: its first run, or a retry after it.
                results[name] = next(
                    run for run in self.store.runs(name, limit=slot.job.retries + 100)
                    if run.id == first or (run.id > first and run.trigger is Trigger.RETRY)
                )
        return results

    def shutdown(self, grace: float | None = None) -> list[RunRecord]:
        """No new runs; running ones get `grace` seconds (the config's by default), then end."""
        self.lifecycle.close()
        return self.lifecycle.end_runs(
            self.config.scheduler.shutdown_grace_s if grace is None else grace)

    def end_runs_now(self) -> None:
        """Interrupt the runs going here now."""
        self.lifecycle.end_runs_now()
