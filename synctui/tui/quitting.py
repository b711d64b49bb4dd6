"""How the console quits: asking before runs are cut, handing over, ending runs on a second ask."""

from __future__ import annotations

import errno
import logging
import os
import sys
import termios
from functools import partial
from typing import TYPE_CHECKING

from synctui.scheduler.control import Refused
from synctui.tui.messages import SchedulerShutDown, StatusFetched
from synctui.tui.questions import QuitScreen
from synctui.tui.widgets.header import ConsoleHeader

if TYPE_CHECKING:
    from synctui.tui.app import SyncTuiApp

log = logging.getLogger("synctui.console")


class Quitting:
    """How a console quits: at once unless it hosts; a hosted scheduler stops first, and a
    running job (or another console attached, which could take over) makes it ask."""

    def __init__(self, app: SyncTuiApp, grace_s: float | None) -> None:
        """Quitting `app`, whose running jobs get `grace_s` to finish (None: it never hosts)."""
        self._app = app
        self._grace_s = grace_s
        self.stopping = False
        """Quitting is under way: the scheduler is stopping or being handed over."""

    @property
    def _grace(self) -> float:
        assert self._grace_s is not None, "a console that hosts is given its config"
        return self._grace_s

    def asked(self) -> None:
        """The operator's `q`: quit, ask first, or (asked again while stopping) end runs now."""
        app = self._app
        if self.stopping:
            self._end_runs_now()
        elif not app.control.hosting:
            app.exit()
        elif isinstance(app.screen, QuitScreen):
            app.screen.dismiss("wait")  # ctrl+q in the question: quit, letting runs finish
        else:
            # Whether a job runs *now*: the status on screen may be a moment old.
            app.run_worker(self._fetch_status, thread=True, exclusive=True, group="quit-check")

    def _fetch_status(self) -> None:
        self._app.post_message(StatusFetched(self._app.snapshot(), quitting=True))

    def status_fetched(self) -> None:
        """The status fetched for `q` is on screen: ask if runs would be cut, else quit."""
        app = self._app
        if self.stopping or isinstance(app.screen, QuitScreen):
            return
        if not app.control.hosting:
            app.exit()  # another process took over meanwhile: nothing to stop here
            return
        running, consoles = app.running_jobs(), app.control.attached_consoles
        if running or consoles:
            app.push_screen(QuitScreen(running, self._grace, consoles=consoles), self._answered)
        else:
            self._quit(cancel=False)

    def _answered(self, choice: str | None) -> None:
        if self.stopping:
            return
        if choice == "handover":
            self._begin_stopping()
            self._app.notify("Handing the scheduler over once no run is going; this console then"
                             " quits.", title="Handing over", timeout=30)
            self._app.run_worker(self._hand_over, thread=True, exclusive=True, group="quit")
        elif choice in ("wait", "cancel"):
            self._quit(cancel=choice == "cancel")

    def _hand_over(self) -> None:
        self._app.control.hand_over()
        self._app.post_message(SchedulerShutDown())

    def signalled(self, name: str) -> None:
        """SIGTERM, SIGINT or SIGHUP: quit as on `q` without asking; a second one ends runs now."""
        app = self._app
        log.info("%s received: quitting", name, extra={"event": "stopping"})
        if self.stopping:
            self._end_runs_now()
        elif not app.control.hosting:
            app.exit()
        else:
            if isinstance(app.screen, QuitScreen):
                app.pop_screen()
            self._quit(cancel=False)

    def hung_up(self) -> None:
        """SIGHUP: quit as on SIGTERM; if the terminal is gone (SSH dropped), stop using it."""
        if _terminal_gone():
            # What else writes to it (Python flushing stdout at exit) would fail: /dev/null.
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.__stdout__.fileno())
            os.dup2(null, sys.__stderr__.fileno())
            os.close(null)
        self._app.call_later(self.signalled, "SIGHUP")

    def _begin_stopping(self) -> None:
        self.stopping = True
        self._app.query_one(ConsoleHeader).show_badge("stopping")

    def _quit(self, *, cancel: bool) -> None:
        self._begin_stopping()
        running = self._app.running_jobs()
        if running:
            grace = self._grace
            how = "cancelling it" if cancel else f"it gets up to {grace:g}s to finish"
            self._app.notify(f"{', '.join(running)} running: {how}. q again ends it now.",
                             title="Stopping the scheduler", timeout=grace + 5, markup=False)
        log.info("console quitting: stopping the scheduler", extra={"event": "stopping"})
        self._app.run_worker(partial(self._shut_down, running if cancel else []), thread=True,
                             exclusive=True, group="quit")

    def _end_runs_now(self) -> None:
        self._app.control.end_runs_now()
        self._app.notify("Ending the running jobs now", title="Stopping the scheduler")

    def _shut_down(self, cancel: list[str]) -> None:
        control = self._app.control
        for name in cancel:
            try:
                control.cancel(name)
            except Refused:
                continue  # it ended on its own meanwhile
        control.shutdown()
        self._app.post_message(SchedulerShutDown())


def _terminal_gone() -> bool:
    """Whether the controlling terminal hung up (its ioctls then fail with EIO)."""
    try:
        termios.tcgetattr(sys.__stdin__.fileno())
    except termios.error as error:
        return error.args[0] == errno.EIO
    return False
