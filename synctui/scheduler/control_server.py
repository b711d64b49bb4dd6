"""The host's control socket: other processes see and steer its scheduler through it.

The server runs an asyncio loop on a thread of its own. Requests that touch the
scheduler run on a small pool, so a slow client, a flood of clients or a bad
request never delays a fire; a subscriber that cannot keep up loses events
(and is told how many) rather than slowing anything down.
"""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import socket
import stat
import struct
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from synctui.scheduler.control import Refused
from synctui import __version__
from synctui.scheduler.events import EventsMissed, OutputLines, Subscription
from synctui.scheduler.protocol import (
    MAX_HISTORY, MAX_REQUEST_BYTES, MAX_TIMELINE_CELLS, MAX_TIMELINE_WINDOW_S, OPERATIONS,
    READ_OPERATIONS,
    PROTOCOL_VERSION, ProtocolError, event_to_wire, line, parse, run_to_wire, scope_from_wire,
    status_to_wire, timeline_to_wire,
)

log = logging.getLogger("synctui.control")

MAX_CONNECTIONS = 512
BACKLOG = 512
"""Connections waiting to be accepted (the kernel caps it at net.core.somaxconn)."""
SUBSCRIBER_QUEUE = 10_000
"""Events or output lines held for one subscriber before it is told it missed some."""
FANOUT_QUEUE = 100_000
"""Events or output lines between the scheduler and the server's loop (drained at once)."""
FLUSH_S = 1.0
"""At close, how long subscribers get to take the last events (a stalled one is not waited)."""


class SocketError(Exception):
    """The control socket cannot be set up; the message says why and where."""


def _group_id(group: str) -> int | None:
    if not group:
        return None
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise SocketError(f"[control] group: no group named {group!r} on this machine") from None


def _private_directory(directory: Path, gid: int | None, *, own: bool) -> None:
    """Make `directory` 0700 (0750 and group `gid`), refusing one that is not ours."""
    if own:
        try:
            directory.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SocketError(f"{directory}: not a directory owned by this user; refusing to put the"
                          " control socket there")
    if gid is not None:
        os.chown(directory, -1, gid)
    os.chmod(directory, 0o750 if gid is not None else 0o700)


def _bind(path: Path, gid: int | None) -> socket.socket:
    """A listening socket at `path`, with its final permissions before anyone can reach it.

    It is bound under a temporary name in the private directory and renamed into
    place, which also replaces a stale socket (or anything planted there) atomically.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        temporary.unlink(missing_ok=True)
        listener.bind(str(temporary))
        if gid is not None:
            os.chown(temporary, -1, gid)
        os.chmod(temporary, 0o660 if gid is not None else 0o600)
        listener.listen(BACKLOG)
        os.replace(temporary, path)
    except OSError as error:
        listener.close()
        temporary.unlink(missing_ok=True)
        raise SocketError(f"{path}: cannot serve the control socket: {error.strerror}") from None
    listener.setblocking(False)
    return listener


def _peer(connection: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end."""
    raw = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", raw)


def _groups_of(pid: int) -> set[int]:
    """The supplementary groups of process `pid`."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for text in status:
                if text.startswith("Groups:"):
                    return {int(g) for g in text.split()[1:]}
    except OSError:
        pass
    return set()


class ControlServer:
    """Serves one scheduler's status, history, actions and events on a Unix socket."""

    def __init__(
        self, scheduler, path: Path, *, mode: str, group: str = "",
        reload: Callable[[], str] | None = None, handover: Callable[[], str] | None = None,
    ) -> None:
        """
        Args:
            scheduler: The `SyncScheduler` to serve.
            path: Where to serve (see `socket_path`).
            mode: What hosts (`console`, `headless`), for the greeting.
            group: `[control] group`: its members may connect too.
            reload: Re-reads the config and applies it; returns what it did (raises Refused).
            handover: Asked by a headless that wants to host; returns the answer.
        """
        self.scheduler = scheduler
        self.path = Path(path)
        self.gid = _group_id(group)
        """`[control] group`'s id (None: none)."""
        self._greeting = {
            "synctui": __version__, "protocol": PROTOCOL_VERSION, "pid": os.getpid(),
            "mode": mode, "config": scheduler.config.source,
            "state_dir": str(scheduler.config.scheduler.state_dir),
        }
        self._reload = reload
        self._handover = handover
        self._loop = asyncio.new_event_loop()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="synctui-control")
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._inode: int | None = None
        self._connections: set[asyncio.Task] = set()
        self._stopped = asyncio.Event()
        self._listeners: set[_Listener] = set()
        self._events: Subscription | None = None
        self._events_waiting = asyncio.Event()
        self.clients: dict[asyncio.Task, tuple[str, int]] = {}
        """Each open connection: what it said it is (`console`, `cli`, ...), and its pid."""

    @property
    def consoles(self) -> int:
        """How many consoles are attached now."""
        # A console holds two connections (requests, events): count processes.
        return len({pid for kind, pid in list(self.clients.values()) if kind == "console"})

    def start(self) -> None:
        """Create the socket (private, or for the group) and serve it on a thread."""
        inside_state_dir = self.path.parent == Path(self.scheduler.config.scheduler.state_dir)
        try:
            _private_directory(self.path.parent, self.gid, own=not inside_state_dir)
        except OSError as error:
            raise SocketError(f"{self.path.parent}: {error.strerror}") from None
        self._listener = _bind(self.path, self.gid)
        # Its inode says whether the file is still this server's when it closes (the next
        # host may have put its own in its place).
        self._inode = os.stat(self.path).st_ino
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="synctui-control", daemon=True
        )
        self._thread.start()
        ready.wait()
        log.info("control socket at %s", self.path, extra={"event": "control_socket"})

    def close(self) -> None:
        """Stop serving: every connection is closed and the socket file removed."""
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join()
        self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        except OSError:
            pass  # gone already
        if self._listener is not None:
            self._listener.close()

    # --- the loop -------------------------------------------------------------------

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main(ready))
        self._loop.close()

    async def _main(self, ready: threading.Event) -> None:
        server = await asyncio.start_unix_server(
            self._accept, sock=self._listener, limit=MAX_REQUEST_BYTES, backlog=BACKLOG
        )
        fan_out = asyncio.ensure_future(self._fan_out())
        ready.set()
        await self._stopped.wait()
        server.close()
        fan_out.cancel()
        await self._flush()
        # A connection accepted just before the close gets its task a loop turn later and
        # counts itself in `_connections` once it runs; left pending, it would die with the
        # loop, its writer closed on no loop. So until no task is left: cancel the
        # connections that run (one cancelled before it starts ends `cancelled`, which its
        # stream logs as an error), then give the others a turn to start.
        here = asyncio.current_task()
        while asyncio.all_tasks() - {here}:
            running = list(self._connections)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, fan_out, return_exceptions=True)
            await asyncio.sleep(0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            await self._converse(reader, writer, task)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing to tell anyone
        except asyncio.CancelledError:
            pass  # the server is closing
        finally:
            self._connections.discard(task)
            self.clients.pop(task, None)
            writer.close()

    async def _converse(self, reader, writer, task) -> None:
        if len(self._connections) > MAX_CONNECTIONS:
            writer.write(line({"ok": False, "error": f"too many connections (limit"
                                                     f" {MAX_CONNECTIONS}); try again"}))
            await writer.drain()
            return
        peer_pid, uid, gid = _peer(writer.get_extra_info("socket"))
        refusal = self._refuse_peer(peer_pid, uid, gid)
        if refusal:
            log.warning("control socket: %s", refusal, extra={"event": "control_refused"})
            writer.write(line({"ok": False, "error": refusal, "denied": True}))
            await writer.drain()
            return
        writer.write(line(self._greeting))
        await writer.drain()
        read_only = False
        while True:
            try:
                raw = await reader.readline()
            except ValueError:
                writer.write(line({"ok": False, "error": f"request too large (limit"
                                                         f" {MAX_REQUEST_BYTES} bytes)"}))
                await writer.drain()
                return
            if not raw:
                return
            if not raw.strip():
                continue
            try:
                request = parse(raw)
            except ProtocolError as error:
                writer.write(line({"ok": False, "error": f"malformed request: {error}"}))
                await writer.drain()
                continue
            if request.get("client") in ("console", "guest", "cli", "headless"):
                self.clients[task] = (request["client"], peer_pid)
            read_only = read_only or request.get("read_only") is True
            op = request.get("op")
            if read_only and op in OPERATIONS and op not in READ_OPERATIONS:
                log.warning("control socket: refused %r on a read-only connection (pid %s)",
                            op, peer_pid, extra={"event": "control_read_only"})
                writer.write(line({"id": request.get("id"), "ok": False, "refused": True,
                                   "error": "this console is read-only: it steers nothing"}))
                await writer.drain()
                continue
            if request.get("op") == "subscribe":
                await self._stream(request, reader, writer)
                return
            writer.write(line(await self._answer(request)))
            await writer.drain()

    def _refuse_peer(self, pid: int, uid: int, gid: int) -> str | None:
        if uid in (0, os.getuid()):
            return None
        if self.gid is not None and (gid == self.gid or self.gid in _groups_of(pid)):
            return None
        return f"uid {uid} (pid {pid}) may not use this scheduler's control socket"

    async def _answer(self, request: dict) -> dict:
        reply: dict = {"id": request.get("id")}
        op = request.get("op")
        if op not in OPERATIONS:
            return {**reply, "ok": False,
                    "error": f"unknown op {op!r} (known: {', '.join(OPERATIONS)})"}
        try:
            result = await self._loop.run_in_executor(self._pool, self._perform, op, request)
        except Refused as refusal:
            return {**reply, "ok": False, "error": str(refusal), "refused": True}
        except ProtocolError as error:
            return {**reply, "ok": False, "error": f"bad request: {error}"}
        except Exception as error:  # never let one request stop the server
            log.exception("control socket: %s failed", op, extra={"event": "control_error"})
            return {**reply, "ok": False, "error": f"internal error: {error}"}
        return {**reply, "ok": True, "result": result}

    def _perform(self, op: str, request: dict):
        """One request against the scheduler, on the pool."""
        scheduler = self.scheduler
        if op == "status":
            status = scheduler.status()
            return status_to_wire(status)
        if op == "history":
            limit = _argument(request, "limit", int, default=100)
            if not 1 <= limit <= MAX_HISTORY:
                raise ProtocolError(f"limit must be between 1 and {MAX_HISTORY}")
            before_id = _argument(request, "before_id", int, default=None)
            if before_id is not None and not 0 < before_id < 2**63:  # SQLite's integers
                raise ProtocolError("'before_id' must be a run id")
            runs = scheduler.history(_argument(request, "job", str, default=None), limit,
                                     before_id)
            return [run_to_wire(run) for run in runs]
        if op == "timeline":
            cells = _argument(request, "cells", int)
            if not 1 <= cells <= MAX_TIMELINE_CELLS:
                raise ProtocolError(f"cells must be between 1 and {MAX_TIMELINE_CELLS}")
            window = request.get("window_s")
            if (isinstance(window, bool) or not isinstance(window, (int, float))
                    or not 0 < window <= MAX_TIMELINE_WINDOW_S):
                raise ProtocolError("'window_s' must be a positive number of seconds,"
                                    " at most ten years")
            jobs = request.get("jobs")
            if jobs is not None and not (
                    isinstance(jobs, list) and all(isinstance(job, str) for job in jobs)):
                raise ProtocolError("'jobs' must be a list of job names")
            return timeline_to_wire(scheduler.timeline(float(window), cells, jobs))
        if op == "run":
            force = request.get("force", False)
            if not isinstance(force, bool):
                raise ProtocolError("'force' must be true or false")
            return run_to_wire(scheduler.run_now(_argument(request, "job", str),
                                                 scope_from_wire(request), force=force))
        if op == "cancel":
            return scheduler.cancel(_argument(request, "job", str))
        if op in ("pause", "resume"):
            return getattr(scheduler, op)(_argument(request, "job", str, default=None))
        if op == "skip":
            return scheduler.skip_next(_argument(request, "job", str)).isoformat()
        if op in ("stop", "start", "restart"):
            return getattr(scheduler, op)()
        if op == "reload":
            if self._reload is None:
                raise Refused("this host cannot reload its config")
            return self._reload()
        if op == "handover":
            if self._handover is None:
                raise Refused(f"the host is {self._greeting.get('mode')}: it keeps hosting")
            return self._handover()
        raise ProtocolError(f"op {op!r} takes no plain request")

    async def _stream(self, request: dict, reader, writer) -> None:
        """Answer `subscribe`, then send events until either side goes away."""
        listener = _Listener()
        self._listen(listener)
        hung_up = woke = None
        try:
            writer.write(line({"id": request.get("id"), "ok": True, "result": None}))
            await writer.drain()
            # A subscriber sends nothing more: anything read, or the end, means it is done.
            hung_up = asyncio.ensure_future(reader.read(1))
            while True:
                woke = asyncio.ensure_future(listener.ready.wait())
                done, _ = await asyncio.wait({woke, hung_up}, return_when=asyncio.FIRST_COMPLETED)
                if hung_up in done:
                    return
                writer.write(listener.take())
                await writer.drain()
        finally:
            self._unlisten(listener)
            for task in (hung_up, woke):
                _forget(task)

    # --- one subscription for every subscriber ------------------------------------------
    # Each event is encoded once, whatever the number of subscribers; each subscriber
    # then gets the bytes, and a bounded backlog of its own.

    def _listen(self, listener: _Listener) -> None:
        if not self._listeners:
            self._events = self.scheduler.subscribe(
                notify=lambda: self._loop.call_soon_threadsafe(self._events_waiting.set),
                maxsize=FANOUT_QUEUE,
            )
        self._listeners.add(listener)

    def _unlisten(self, listener: _Listener) -> None:
        self._listeners.discard(listener)
        if not self._listeners and self._events is not None:
            self._events.close()
            self._events = None

    async def _fan_out(self) -> None:
        while True:
            await self._events_waiting.wait()
            self._events_waiting.clear()
            self._offer()

    def _offer(self) -> None:
        """Hand what the scheduler published to every subscriber."""
        events = self._events.drain() if self._events is not None else []
        if not events:
            return
        chunk = b"".join(line({"event": event_to_wire(event)}) for event in events)
        weight = sum(len(e.lines) if isinstance(e, OutputLines) else 1 for e in events)
        for listener in self._listeners:
            listener.offer(chunk, weight, len(events))

    async def _flush(self) -> None:
        """Before closing: the last events (a host stopping says so) reach every subscriber
        that takes them within `FLUSH_S`."""
        self._offer()
        deadline = self._loop.time() + FLUSH_S
        while (any(listener.ready.is_set() for listener in self._listeners)
               and self._loop.time() < deadline):
            await asyncio.sleep(0.01)


class _Listener:
    """One subscriber's backlog of encoded events, bounded like a `Subscription`."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self._chunks: deque[bytes] = deque()
        self._weight = 0
        self._missed = 0

    def offer(self, chunk: bytes, weight: int, events: int) -> None:
        # An empty backlog takes any one batch, so one big batch is never starved.
        if self._chunks and self._weight + weight > SUBSCRIBER_QUEUE:
            self._missed += events
        else:
            self._chunks.append(chunk)
            self._weight += weight
        self.ready.set()

    def take(self) -> bytes:
        """Everything waiting, with a `missed` event last if some had to be dropped."""
        data = b"".join(self._chunks)
        if self._missed:
            data += line({"event": event_to_wire(EventsMissed(self._missed))})
        self._chunks.clear()
        self._weight = self._missed = 0
        self.ready.clear()
        return data


def _forget(task: asyncio.Future | None) -> None:
    """Cancel `task` and collect its outcome, so that nothing is logged as never retrieved."""
    if task is not None:
        task.cancel()
        task.add_done_callback(lambda done: done.cancelled() or done.exception())


def _argument(request: dict, name: str, kind: type, default=ProtocolError):
    value = request.get(name)
    if value is None:  # null is not given
        value = default
    if value is ProtocolError:
        raise ProtocolError(f"{request.get('op')} needs {name!r}")
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ProtocolError(f"{name!r} must be {kind.__name__}")
    return value
