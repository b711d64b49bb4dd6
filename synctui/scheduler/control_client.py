"""`RemoteControl`: a scheduler hosted by another process, steered over its control socket.

It implements the same `SchedulerControl` interface as `SyncScheduler`, so the
console cannot tell them apart except by its mode, `attached`. Requests go over
one connection; events come over a second one, read on a thread and handed to
subscribers through a local `EventBus`. When the host goes away, subscribers
get `StateChanged(None, Change.HOST_LOST)` and `on_lost` is called.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from synctui.scheduler.clock import seconds_text
from synctui.scheduler.control import Mode, Refused
from synctui.scheduler.events import Change, EventBus, StateChanged, Subscription
from synctui.scheduler.protocol import (
    PROTOCOL_VERSION, ProtocolError, event_from_wire, line, parse, run_from_wire, scope_to_wire,
    status_from_wire, timeline_from_wire,
)
from synctui.scheduler.records import RunRecord, Scope
from synctui.scheduler.status import SchedulerStatus
from synctui.scheduler.timeline import Timeline

REQUEST_TIMEOUT_S = 30.0
CONNECT_PATIENCE_S = 5.0
"""How long a connection waits for room in a busy host's backlog."""


class HostUnreachable(Refused):
    """The host cannot be reached: gone, (`denied`) not to this user, or (`silent`) there
    but not answering in time (stopped, swapping, or overloaded)."""

    def __init__(self, message: str, *, denied: bool = False, silent: bool = False) -> None:
        super().__init__(message)
        self.denied = denied
        self.silent = silent


def _connect(connection: socket.socket, path: Path) -> None:
    """Connect, waiting up to `CONNECT_PATIENCE_S` while the host's backlog is full."""
    deadline = time.monotonic() + CONNECT_PATIENCE_S
    while True:
        try:
            connection.connect(str(path))
            return
        except BlockingIOError:
            # A crowd of clients at once fills the backlog: EAGAIN, not a refusal.
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class _Connection:
    """One connection to the host: its greeting read, then lines both ways."""

    def __init__(
        self, path: Path, client: str, timeout: float | None, read_only: bool = False
    ) -> None:
        self.path = path
        self._marks = {"client": client, **({"read_only": True} if read_only else {})}
        """What every request carries: who asks, and whether the connection is read-only."""
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.settimeout(timeout)
        try:
            _connect(self.socket, path)
        except OSError as error:
            self.socket.close()
            raise HostUnreachable(f"cannot reach the host at {path}: {error.strerror}",
                                  denied=error.errno in (errno.EACCES, errno.EPERM)) from None
        self._reader = self.socket.makefile("rb")
        self.greeting = self.read()
        if "protocol" not in self.greeting:
            self.close()
            raise HostUnreachable(f"the host at {path} refused: {self.greeting.get('error')}",
                                  denied=bool(self.greeting.get("denied")))
        if self.greeting["protocol"] != PROTOCOL_VERSION:
            self.close()
            raise HostUnreachable(
                f"the host at {path} speaks control protocol {self.greeting['protocol']};"
                f" this synctui speaks {PROTOCOL_VERSION}: run the same version on both sides"
            )

    def send(self, message: dict) -> None:
        try:
            self.socket.sendall(line({**message, **self._marks}))
        except OSError as error:
            raise HostUnreachable(f"lost the host at {self.path}: {error}") from None

    def read(self) -> dict:
        try:
            raw = self._reader.readline()
        except TimeoutError:
            raise HostUnreachable(
                f"the host at {self.path} does not answer (no reply in"
                f" {seconds_text(self.socket.gettimeout())}): it may be stopped or overloaded",
                silent=True) from None
        except OSError as error:
            raise HostUnreachable(f"lost the host at {self.path}: {error}") from None
        if not raw:
            raise HostUnreachable(f"the host at {self.path} went away")
        try:
            return parse(raw)
        except ProtocolError as error:
            raise HostUnreachable(f"the host at {self.path} sent {error}") from None

    def close(self) -> None:
        self._reader.close()
        self.socket.close()


class RemoteControl:
    """The scheduler of the process serving `path`, as a `ConsoleBackend`: it hosts
    nothing here, so leaving only closes the connection."""

    mode = Mode.ATTACHED
    reason = None
    hosting = False
    attached_consoles = 0

    def __init__(
        self, path: Path, *, client: str = "cli", bus: EventBus | None = None,
        on_lost: Callable[[RemoteControl], None] | None = None,
        timeout: float = REQUEST_TIMEOUT_S, read_only: bool = False,
    ) -> None:
        """
        Args:
            path: The host's control socket.
            client: What this process is, for the host (`console` counts for handing over;
                `guest`, a console that may not host, does not).
            bus: Where events from the host are published (one of its own by default).
            on_lost: Called once with this control, from the event thread, when the host's
                stream ends.
            read_only: Open its connections read-only: the host then refuses every
                request that steers, whatever this process asks later.
        """
        self.path = Path(path)
        self._client = client
        self._read_only = read_only
        self._requests = _Connection(self.path, client, timeout, read_only)
        self.greeting = self._requests.greeting
        self._lock = threading.Lock()
        self._next_id = 0
        self.bus = bus or EventBus()
        self._on_lost = on_lost
        self._stream: _Connection | None = None
        self._closed = False
        self.lost = False
        """The host's event stream ended (set before `host-lost` and `on_lost`)."""
        self.stopping = False
        """The host said it stops on purpose (its operator stopped it: not a death)."""

    # --- the interface ------------------------------------------------------------

    @property
    def waits(self) -> bool:
        """The host stops on purpose: its consoles wait for the next instead of hosting."""
        return self.stopping

    @property
    def attached_to(self) -> dict:
        return self.greeting

    def status(self) -> SchedulerStatus:
        return status_from_wire(self.request("status"))

    def history(
        self, job: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[RunRecord]:
        return [run_from_wire(run) for run in self.request(
            "history", job=job, limit=limit, before_id=before_id)]

    def timeline(
        self, window_s: float, cells: int, jobs: Iterable[str] | None = None
    ) -> Timeline:
        return timeline_from_wire(self.request(
            "timeline", window_s=window_s, cells=cells,
            jobs=None if jobs is None else list(jobs)))

    def run_now(self, name: str, scope: Scope = Scope(), *, force: bool = False) -> RunRecord:
        return run_from_wire(self.request("run", job=name, **scope_to_wire(scope),
                                          **({"force": True} if force else {})))

    def cancel(self, name: str) -> None:
        self.request("cancel", job=name)

    def pause(self, name: str | None = None) -> None:
        self.request("pause", job=name)

    def resume(self, name: str | None = None) -> None:
        self.request("resume", job=name)

    def skip_next(self, name: str) -> datetime:
        return datetime.fromisoformat(self.request("skip", job=name))

    def stop(self) -> None:
        self.request("stop")

    def start(self) -> None:
        self.request("start")

    def restart(self) -> None:
        self.request("restart")

    def reload(self) -> str:
        """Have the host re-read its config; returns what it did."""
        return self.request("reload")

    def handover(self) -> str:
        """Ask the host to let this process host; returns its answer."""
        return self.request("handover")

    def hand_over(self) -> None:
        """Nothing to hand over: the host is another process."""

    def end_runs_now(self) -> None:
        """Nothing to end: the runs are the host's."""

    def shutdown(self, grace: float | None = None) -> list[RunRecord]:
        """Leave the host running: only the connection closes."""
        self.close()
        return []

    def subscribe(
        self, notify: Callable[[], None] | None = None, maxsize: int = 10_000
    ) -> Subscription:
        subscription = self.bus.subscribe(maxsize=maxsize, notify=notify)
        self.follow()
        return subscription

    def follow(self) -> None:
        """Receive the host's events onto `bus` from now on (once; later calls do nothing)."""
        with self._lock:
            if self._stream is not None:
                return
            stream = _Connection(self.path, self._client, REQUEST_TIMEOUT_S, self._read_only)
            stream.send({"id": 0, "op": "subscribe"})
            reply = stream.read()
            if not reply.get("ok"):
                stream.close()
                raise HostUnreachable(f"the host refused to stream events: {reply.get('error')}")
            stream.socket.settimeout(None)
            self._stream = stream
            threading.Thread(target=self._read_events, name="synctui-events", daemon=True).start()

    def close(self) -> None:
        """Hang up (the host goes on)."""
        self._closed = True
        self._requests.close()
        if self._stream is not None:
            # shutdown wakes the event thread's blocking read; close alone may not.
            try:
                self._stream.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # --- inside -------------------------------------------------------------------

    def request(self, op: str, timeout: float | None = REQUEST_TIMEOUT_S, **arguments) -> Any:
        """Send one request and return its result; a refusal raises `Refused`."""
        with self._lock:
            self._next_id += 1
            self._requests.socket.settimeout(timeout)
            self._requests.send({"id": self._next_id, "op": op, **arguments})
            reply = self._requests.read()
            # A reply to an earlier request that timed out may come first.
            while reply.get("id", self._next_id) != self._next_id:
                reply = self._requests.read()
        if reply.get("ok"):
            return reply.get("result")
        if reply.get("refused"):
            raise Refused(reply["error"])
        raise HostUnreachable(f"the host could not do {op!r}: {reply.get('error')}")

    def _read_events(self) -> None:
        assert self._stream is not None
        try:
            while True:
                message = self._stream.read()
                event = event_from_wire(message["event"])
                if event == StateChanged(None, Change.HOST_STOPPING):
                    self.stopping = True
                self.bus.publish(event)
        except (HostUnreachable, ProtocolError, KeyError, TypeError, ValueError):
            pass
        finally:
            self._stream.close()
        self.lost = True
        if not self._closed:
            self.bus.publish(StateChanged(None, Change.HOST_LOST))
            if self._on_lost is not None:
                self._on_lost(self)
