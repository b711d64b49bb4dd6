"""`ConsoleServer`: the console served to browsers, one console process per open tab.

Built on textual-serve (pinned: this module uses its page, its static files and its
`AppService`, which runs one process per websocket). textual-serve has no
authentication of its own, so every guard runs here before a process starts: the
token (401 without one, page and websocket alike), the websocket's `Origin` (403 from
another site) and the number of sessions (503 beyond `max_sessions`). The token's role
picks the process: a viewer's is a read-only console, which offers no steering and
whose connection to the host is read-only.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
import socket
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from synctui.config.model import ServeSettings
from synctui.web.tokens import TokenFile

log = logging.getLogger("synctui.serve")

QUIT_WAIT_S = 5.0
"""How long a closed tab's console gets to quit before it is killed."""


class ServeError(Exception):
    """The server cannot start (its address is not usable)."""


class _Session(AppService):
    """One tab's console process, and when its user last did something in it."""

    def __init__(self, command: str, role: str, **kwargs) -> None:
        super().__init__(command, **kwargs)
        self.role = role
        self.last_active = asyncio.get_running_loop().time()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def send_bytes(self, data: bytes) -> bool:
        self.last_active = asyncio.get_running_loop().time()
        return await super().send_bytes(data)

    async def set_terminal_size(self, width: int, height: int) -> None:
        self.last_active = asyncio.get_running_loop().time()
        await super().set_terminal_size(width, height)

    async def stop(self) -> None:
        """Ask the console to quit; kill it if it has not within `QUIT_WAIT_S`."""
        process = self._process
        try:
            await asyncio.wait_for(super().stop(), QUIT_WAIT_S)
        except asyncio.TimeoutError:
            log.warning("the console of pid %s did not quit: killed", self.pid,
                        extra={"event": "serve_kill"})
        if process is not None:
            if process.returncode is None:
                process.kill()
            await process.wait()


class ConsoleServer(Server):
    """Serves the console at `http://host:port/` (bound at creation: a taken port is known
    before anything starts) until `run` ends or the `running` block is left."""

    def __init__(
        self, console: Sequence[str], tokens: TokenFile, settings: ServeSettings, *,
        host: str = "127.0.0.1", port: int = 8080, title: str = "synctui",
    ) -> None:
        """
        Args:
            console: The command line of a console; `--served-as ROLE` is added to it.
            tokens: Who may come in, and as what.
            settings: The `[serve]` table: sessions at most, and when one is idle.
        """
        super().__init__(shlex.join(console), host=host, port=port, title=title)
        self.argv = list(console)
        self.tokens = tokens
        self.settings = settings
        shown = f"[{host}]" if ":" in host else host
        try:
            family, _, _, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
            self._socket = socket.create_server(address[:2], family=family)
        except socket.gaierror as error:
            raise ServeError(f"{host}: not an address here ({error.strerror})") from None
        except OSError as error:
            raise ServeError(f"cannot serve on {shown}:{port}: {error.strerror}") from None
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{shown}:{self.port}/"
        self._sessions: set[_Session] = set()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- running ------------------------------------------------------------------

    def run(self, *, until_signalled: bool = False) -> None:
        """Serve until `stop` (from any thread), or with `until_signalled` SIGTERM or SIGINT
        (on the main thread); every session's process ends first."""
        asyncio.run(self._serve(until_signalled))

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)

    @contextmanager
    def running(self) -> Iterator[ConsoleServer]:
        """Serve on a thread of its own while the block runs."""
        thread = threading.Thread(target=self.run, name="serve", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop()
            thread.join(QUIT_WAIT_S * 2)

    async def _serve(self, until_signalled: bool = False) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        if until_signalled:
            for number in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(number, self._stop.set)
        runner = web.AppRunner(await self._make_app(), handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, self._socket).start()
        try:
            await self._stop.wait()
        finally:
            await asyncio.gather(*(session.stop() for session in list(self._sessions)))
            await runner.cleanup()

    async def _make_app(self) -> web.Application:
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket),  # no token: refused
            web.get("/ws/{token}", self.handle_websocket, name="websocket"),
            web.static("/static", self.statics_path, name="static"),
        ])
        return app

    # --- the guards ---------------------------------------------------------------

    def _role(self, token: str | None) -> str:
        role = self.tokens.role(token)
        if role is None:
            raise _page(web.HTTPUnauthorized, "A token is needed",
                        "Open the address <code>synctui serve</code> printed, token included.")
        return role

    def _full(self) -> None:
        most = self.settings.max_sessions
        if len(self._sessions) >= most:
            raise _page(web.HTTPServiceUnavailable, "Every console is in use",
                        f"This server runs at most {most} console{'s' if most != 1 else ''}"
                        " (<code>max_sessions</code> in <code>[serve]</code>). Close another"
                        " tab, or try again later.")

    # --- the page -----------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> web.Response:
        """The console's page (textual-serve's), its websocket address carrying the token.

        The token goes in the websocket's path: the page's script appends its own `?width=`
        to that address."""
        self._role(request.query.get("token"))
        self._full()
        secure = _forwarded(request, "X-Forwarded-Proto", request.scheme) == "https"
        base = f"{_forwarded(request, 'X-Forwarded-Host', request.host)}{_prefix(request)}"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{'wss' if secure else 'ws'}://{base}/ws/"
                                 f"{quote(request.query['token'], safe='')}",
            "config": {"static": {"url": f"{_prefix(request)}/static/"}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        # The address carries the token: no cache keeps it, no other site is told it.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    # --- a session ----------------------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """A tab's console: started once every guard passed, ended when the tab closes,
        goes idle or the server stops."""
        role = self._role(request.match_info.get("token"))
        origin = request.headers.get("Origin")
        host = _forwarded(request, "X-Forwarded-Host", request.host)
        if origin is None or urlsplit(origin).netloc.lower() != host.lower():
            log.warning("refused a console to %s: its page came from %s", request.remote,
                        origin or "nowhere said", extra={"event": "serve_origin"})
            raise _page(web.HTTPForbidden, "Another site's page",
                        "The console opens from this server's own page only.")
        self._full()
        websocket = web.WebSocketResponse(heartbeat=15)
        session = _Session(
            # `exec`: the shell textual-serve starts becomes the console (its pid is the tab's).
            "exec " + shlex.join([*self.argv, "--served-as", role]), role,
            write_bytes=websocket.send_bytes, write_str=websocket.send_str,
            close=websocket.close, download_manager=self.download_manager,
        )
        self._sessions.add(session)  # counted before anything is awaited
        idle = None
        try:
            await websocket.prepare(request)
            await session.start(to_int(request.query.get("width", "80"), 80),
                                to_int(request.query.get("height", "24"), 24))
            log.info("a %s console for %s: pid %s", role, request.remote, session.pid,
                     extra={"event": "serve_session", "pid": session.pid, "role": role})
            idle = asyncio.create_task(self._end_when_idle(session, websocket))
            await self._process_messages(websocket, session)
        except Exception as error:  # a broken message: this tab ends, the server goes on
            log.warning("a %s console's tab failed: %s", role, error,
                        extra={"event": "serve_session"})
        finally:
            if idle is not None:
                idle.cancel()
            self._sessions.discard(session)
            await session.stop()
            log.info("the %s console of pid %s ended", role, session.pid,
                     extra={"event": "serve_session_end", "pid": session.pid, "role": role})
        return websocket

    async def _end_when_idle(self, session: _Session, websocket: web.WebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        while True:
            left = session.last_active + self.settings.idle_timeout_s - loop.time()
            if left <= 0:
                log.info("the %s console of pid %s was idle for %gs: ended", session.role,
                         session.pid, self.settings.idle_timeout_s,
                         extra={"event": "serve_idle", "pid": session.pid})
                await websocket.close(message=b"idle")
                return
            await asyncio.sleep(left)


def _forwarded(request: web.Request, header: str, default: str) -> str:
    """What a reverse proxy says of the browser's request, or the request's own."""
    return request.headers.get(header, default).split(",")[0].strip()


def _prefix(request: web.Request) -> str:
    """The path the server is under, behind a proxy that says so (`X-Forwarded-Prefix`)."""
    prefix = _forwarded(request, "X-Forwarded-Prefix", "").strip("/")
    return f"/{prefix}" if prefix else ""


def _page(kind: type[web.HTTPException], title: str, body: str) -> web.HTTPException:
    """An error as a small page a person can read."""
    return kind(
        text=f"<!doctype html><title>synctui: {title}</title>"
             f"<h1>{title}</h1><p>{body}</p>\n",
        content_type="text/html",
    )
