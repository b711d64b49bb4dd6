"""`SharedScheduler`: a console's hold on the one scheduler of its state directory.

It hosts the scheduler in this process when nobody does, and attaches to the
host over the control socket when someone does. It follows the host as hosts
change: it hands over to a headless that asks (between runs), and when the host
dies it waits briefly for a standby headless to take over, then takes over
itself if none did (the first console to take the lock wins; the others attach
to it). Its mode says which it is now; its events come from whichever
scheduler it is on, through one bus, so the console subscribes once.

It waits (`waiting`) instead: while a one-shot (`run`, `--once`) holds the lock
(then it hosts); after its host was stopped on purpose (then it attaches to the next
host, or hosts on `start`); and always as a guest, which only ever attaches: a
`[control] group` member, who may steer the host but cannot use the state directory,
or a browser tab's console. A read-only one opens its connections to the host
read-only: the host refuses it every steering request.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from synctui.config.model import Config
from synctui.scheduler import lanes
from synctui.scheduler.clock import utc_now
from synctui.scheduler.control import ConsoleBackend, HostBusy, Mode, Refused
from synctui.scheduler.control_client import HostUnreachable, RemoteControl
from synctui.scheduler.events import Change, EventBus, StateChanged, Subscription
from synctui.scheduler.fallback import FallbackControl
from synctui.scheduler.protocol import socket_path
from synctui.scheduler.records import RunRecord, Scope
from synctui.scheduler.status import SchedulerStatus, live_host, stored_snapshot
from synctui.scheduler.store import Store
from synctui.scheduler.sync_scheduler import SyncScheduler
from synctui.scheduler.timeline import Timeline

log = logging.getLogger("synctui.shared")

TAKEOVER_WAIT_S = 1.0
"""How long a console leaves a dead host's standby headless to take over before trying itself."""
FIND_HOST_S = 10.0
"""How long to wait for a new host to serve (after handing over to it) before hosting again,
and for `start` to host here."""
OPEN_WAIT_S = 2.0
"""How long a process may hold the lock without serving, as a host that is starting does,
before the console takes it for a one-shot (`run`, `--once`) and waits for it (`waiting`);
`open` then returns, and the console hosts or attaches on a thread as soon as it can."""
POLL_S = 0.05
WAITING_POLL_S = 0.25
"""How often a console looks again while it waits (a guest for the next host, others for
the lock): it may be hours."""


class SharedScheduler:
    """Hosting or attached, as the other processes on the state directory allow."""

    def __init__(
        self, config: Config, *, store: Store | None = None, guest: bool = False,
        read_only: bool = False, reload_config: Callable[[], Config] | None = None,
        takeover_wait_s: float = TAKEOVER_WAIT_S, tick_s: float | None = None,
    ) -> None:
        self.config = config
        self.guest = guest
        """Attach only, never host; a guest reads the store between hosts if given one."""
        self.read_only = read_only
        """Read and watch only: the host refuses this console every steering request."""
        self.store = store if guest else store or Store(config.scheduler.state_dir)
        self._last_status: SchedulerStatus | None = None
        """A guest's last status from a host: between hosts, what it answers (stopped)."""
        self._refusal: str | None = None
        """Why the host refused a guest, while it does (its group changed, say)."""
        self._busy: str | None = None
        """Who holds the lock without serving, while this console waits for it."""
        self._stopped: str | None = None
        """Which host its operator stopped, while this console waits for the next one (or for
        `start`, which hosts here)."""
        self.bus = EventBus()
        self._reload_config = reload_config
        self._takeover_wait_s = takeover_wait_s
        self._tick_s = tick_s
        self._lock = threading.RLock()
        self._backend: ConsoleBackend | None = None
        self._closing = False
        self._handing_over = False

    # --- who it is ----------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """`IN_PROCESS` while hosting, `ATTACHED` while attached to another host, `FALLBACK`,
        or `WAITING` (see `reason`): for a one-shot to end, after its host was stopped, or as
        a guest between hosts. Between two hosts otherwise, still `ATTACHED`."""
        backend = self._backend
        if backend is not None:
            return backend.mode
        return Mode.WAITING if self.guest or self._busy or self._stopped else Mode.ATTACHED

    @property
    def waits(self) -> bool:
        """Whether, when its host goes, this console waits for the next one instead of
        taking over: a guest, or a host stopped on purpose."""
        backend = self._backend
        return self.guest or bool(self._stopped) or (backend is not None and backend.waits)

    @property
    def hosting(self) -> bool:
        """Whether this process runs the jobs now (hosting, or as the fallback)."""
        backend = self._backend
        return backend is not None and backend.hosting

    @property
    def attached_to(self) -> dict | None:
        """While attached, what the host said of itself (pid, mode, config, state_dir)."""
        backend = self._backend
        return backend.attached_to if backend is not None else None

    @property
    def reason(self) -> str | None:
        """Why no scheduler runs here, while this console keeps watch as the fallback or
        waits: for a one-shot to end, after its host was stopped, or as a guest."""
        backend = self._backend
        if backend is not None:
            return backend.reason
        if self._busy:
            return f"{self._busy}; hosting once it ends"
        if self._stopped:
            return f"{self._stopped}; waiting for the next host (s hosts it here)"
        if self.guest:
            if self._refusal:
                return f"the host refuses this user ({self._refusal}); trying again"
            if self.store is not None:  # it could host, but never does
                return "no scheduler runs, and this console only attaches; waiting for its host"
            return "its host is gone and this user cannot host it; waiting for the next host"
        return None

    @property
    def attached_consoles(self) -> int:
        """How many other consoles are attached to this process (while hosting)."""
        backend = self._backend
        return backend.attached_consoles if backend is not None else 0

    # --- coming and going ---------------------------------------------------------

    def open(self, *, wait: bool = False) -> None:
        """Host the scheduler, or attach to its live host, or (neither possible) fall back
        to re-reading the store. While a process holds the lock without serving, it returns
        `waiting`, and hosts or attaches on a thread as soon as it can.

        A guest attaches; when no scheduler runs it is `Refused`, or with `wait` it waits
        for one (on a thread, as between two hosts).
        """
        if not self.guest:
            if not self._settle(host_after_s=0.0, taking_over=False, give_up=True):
                log.warning("%s; waiting for it", self._busy, extra={"event": "host_busy"})
                threading.Thread(target=self._settle, args=(0.0,), name="synctui-wait-host",
                                 daemon=True).start()
            return
        remote = self._attach()
        try:
            self._last_status = remote.status() if remote is not None else None
        except HostUnreachable:
            remote.close()
        if wait and self._last_status is None:
            log.info("no scheduler runs yet; waiting for its host", extra={"event": "wait_host"})
            threading.Thread(target=self._settle, args=(0.0,), name="synctui-wait-host",
                             daemon=True).start()
            return
        if self._last_status is None or not self._use(remote, taking_over=False):
            self._closing = True  # and a `_host_lost` under way finds nothing to do
            raise Refused(self._refusal or
                          f"no scheduler runs for {self.config.scheduler.state_dir} to attach to")

    def shutdown(self, grace: float | None = None) -> list[RunRecord]:
        """Leave: a hosted scheduler shuts down (runs get `grace`); an attached one goes on."""
        with self._lock:
            self._closing = True
            backend = self._backend
        return backend.shutdown(grace) if backend is not None else []

    def end_runs_now(self) -> None:
        """Interrupt the runs this process hosts now, without waiting out the grace."""
        backend = self._backend
        if backend is not None:
            backend.end_runs_now()

    def hand_over(self) -> None:
        """Stop hosting between runs (blocks until then) so that another process hosts.

        For a headless that asked, and for a hosting console quitting with others
        attached: they take over through their own `host-lost` path.
        """
        with self._lock:
            backend = self._backend
            self._handing_over = True
        if backend is not None:
            backend.hand_over()

    # --- the interface ------------------------------------------------------------

    # Reads never fail between two hosts: the store answers them meanwhile (a guest's
    # status is the last one it had, stopped; its history waits for the next host).

    def status(self) -> SchedulerStatus:
        backend = self._backend
        if backend is not None:
            try:
                status = backend.status()
            except HostUnreachable:
                pass  # gone this very moment: `_host_lost` is on its way
            else:
                if self.guest:
                    self._last_status = status
                return status
        if self.store is not None:
            return stored_snapshot(self.store, self.config)
        if self._last_status is None:
            raise Refused("not attached to a scheduler yet")
        last = self._last_status
        return replace(last, running=False, host=None, jobs={
            name: replace(job, running=False, running_run_id=None, next_run=None)
            for name, job in last.jobs.items()
        }, next_run=None)

    def history(
        self, job: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[RunRecord]:
        backend = self._backend
        if backend is not None:
            try:
                return backend.history(job, limit, before_id)
            except HostUnreachable:
                pass
        if self.store is None:
            raise Refused("the scheduler's host is gone: its history comes back with the next")
        return self.store.runs(job, limit=limit, before_id=before_id)

    def timeline(
        self, window_s: float, cells: int, jobs: Iterable[str] | None = None
    ) -> Timeline:
        backend = self._backend
        if backend is not None:
            try:
                return backend.timeline(window_s, cells, jobs)
            except HostUnreachable:
                pass
        if self.store is None:
            raise Refused("the scheduler's host is gone: its timeline comes back with the next")
        return lanes.build(self.store, self.config, self.status(), utc_now(), window_s,
                           cells, jobs)

    def run_now(self, name: str, scope: Scope = Scope(), *, force: bool = False) -> RunRecord:
        return self._current().run_now(name, scope, force=force)

    def cancel(self, name: str) -> None:
        self._current().cancel(name)

    def pause(self, name: str | None = None) -> None:
        self._current().pause(name)

    def resume(self, name: str | None = None) -> None:
        self._current().resume(name)

    def skip_next(self, name: str) -> datetime:
        return self._current().skip_next(name)

    def stop(self) -> None:
        self._current().stop()

    def start(self) -> None:
        if self._backend is None and self._stopped:
            self._stopped = None  # the waiting `_settle` hosts at its next look
            deadline = time.monotonic() + FIND_HOST_S
            while self._backend is None and time.monotonic() < deadline:
                time.sleep(POLL_S)
            self._current()  # Refused if it could not yet
            return
        self._current().start()

    def restart(self) -> None:
        self._current().restart()

    def reload(self) -> str:
        """Have the scheduler re-read its config; returns what it did."""
        return self._current().reload()

    def subscribe(
        self, notify: Callable[[], None] | None = None, maxsize: int = 10_000
    ) -> Subscription:
        return self.bus.subscribe(maxsize=maxsize, notify=notify)

    # --- inside -------------------------------------------------------------------

    def _current(self) -> ConsoleBackend:
        backend = self._backend
        if backend is None:
            raise Refused(self.reason or "looking for the scheduler's new host; try again in a"
                          " moment")
        return backend

    def _settle(
        self, host_after_s: float, *, taking_over: bool = True, give_up: bool = False
    ) -> bool:
        """Attach to the live host, or host after `host_after_s` if none appears; with
        `give_up`, False as soon as it waits for a one-shot (`OPEN_WAIT_S`).

        `taking_over`: another host came before (so the console is told who hosts now).
        """
        start = time.monotonic()
        while not self._closing:
            remote = self._attach()
            if remote is not None and self._use(remote, taking_over=taking_over):
                return True
            if self.guest or self._busy or self._stopped:
                time.sleep(WAITING_POLL_S)
                if self.guest or self._stopped:
                    continue
            if time.monotonic() - start >= host_after_s:
                scheduler = SyncScheduler(
                    self.config, mode="console", store=self.store, bus=self.bus,
                    reload_config=self._reload_config, on_handover=self._asked_to_hand_over,
                    **({"tick_s": self._tick_s} if self._tick_s is not None else {}),
                )
                try:
                    scheduler.start()
                except HostBusy as busy:
                    # Another process holds the lock: a host serves soon (then this attaches
                    # to it), or a `run` or `--once` ends (then this hosts).
                    if time.monotonic() - start > host_after_s + OPEN_WAIT_S:
                        self._busy = str(busy)
                        if give_up:
                            return False
                except Exception as error:  # the store, the socket or APScheduler failed
                    self._fall_back(
                        f"the host is gone and this console could not take over: {error}"
                        if taking_over else f"{type(error).__name__}: {error}"
                    )
                    return True
                else:
                    self._use(scheduler, taking_over=taking_over)
                    return True
            time.sleep(POLL_S)
        return True

    def _attach(self) -> RemoteControl | None:
        if self.store is None:  # where a host serves by default: no store says where
            place = socket_path(self.config.scheduler.state_dir)
        else:
            host = live_host(self.store, datetime.now(timezone.utc))
            if host is None or host.socket is None:
                return None
            place = Path(host.socket)
        try:
            # A guest is not counted among the consoles a host may hand over to.
            remote = RemoteControl(place, client="guest" if self.guest else "console",
                                   bus=self.bus, on_lost=self._host_lost,
                                   read_only=self.read_only)
        except HostUnreachable as error:
            self._refusal = str(error) if error.denied else None
            return None
        self._refusal = None
        try:
            remote.follow()
        except HostUnreachable:
            remote.close()
            return None
        return remote

    def _use(self, backend: SyncScheduler | RemoteControl, *, taking_over: bool) -> bool:
        """Steer through `backend` from now on; False if it is gone already (its `_host_lost`
        then looks for the next) or the console quit meanwhile."""
        with self._lock:
            closing = self._closing
            lost = isinstance(backend, RemoteControl) and backend.lost
            if not closing and not lost:
                self._backend = backend
                self._handing_over = False
                self._busy = self._stopped = None
        if closing or lost:
            backend.shutdown(grace=0)
            return False
        if backend.hosting:
            log.info("hosting the scheduler", extra={"event": "host"})
            if taking_over:
                self.bus.publish(StateChanged(None, Change.HOSTING))
        else:
            greeting = backend.greeting
            log.info("attached to the scheduler of pid %s (%s)", greeting.get("pid"),
                     greeting.get("mode"), extra={"event": "attach"})
            self.bus.publish(StateChanged(None, Change.ATTACHED))
        return True

    def _fall_back(self, reason: str) -> None:
        """Nobody hosts and this process cannot: keep watch over the store, as the seed's
        auto-refresh did."""
        log.error("%s; falling back to re-reading the store", reason, extra={"event": "fallback"})
        fallback = FallbackControl(self.config, reason=reason, store=self.store, bus=self.bus,
                                   reload_config=self._reload_config)
        fallback.begin()
        with self._lock:
            self._backend = fallback
            self._busy = self._stopped = None
        self.bus.publish(StateChanged(None, Change.FALLBACK))

    def _host_lost(self, gone: RemoteControl) -> None:
        """The host's event stream ended (from the event thread): find or become the next host.

        Only for the remote in use: one lost before `_use` took it is left to the `_settle`
        that found it, which looks on.
        """
        with self._lock:
            if self._closing or self._backend is not gone:
                return
            if gone.stopping and not self.guest:
                greeting = gone.greeting
                self._stopped = (f"its host (pid {greeting.get('pid')}, {greeting.get('mode')})"
                                 " was stopped by its operator")
            self._backend = None
        gone.close()
        log.warning("the scheduler's host went away; looking for the next one",
                    extra={"event": "host_lost"})
        threading.Thread(
            target=self._settle, args=(self._takeover_wait_s,), name="synctui-takeover", daemon=True
        ).start()

    def _asked_to_hand_over(self) -> str:
        """A headless asked to host (from the control socket's pool): leave between runs."""
        if self._handing_over:
            return "already handing over"

        def hand_over_then_attach() -> None:
            self.hand_over()
            with self._lock:
                if self._closing:
                    return
                self._backend = None
            self._settle(host_after_s=FIND_HOST_S)

        threading.Thread(target=hand_over_then_attach, name="synctui-handover", daemon=True).start()
        return "handing over between runs; this console then attaches"
