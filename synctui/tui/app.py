"""The console: every job live, steered from the keyboard or the mouse, through one `ConsoleBackend`.

The scheduler's threads never touch a widget: its events wait in a subscription
whose `notify` posts one message, and the UI loop drains them in batches. Calls
into the scheduler (status, actions, shutting down) run in worker threads and come
back as messages. Idle, the screen changes only where a text changes: the clock
once a minute, relative times at minute granularity, countdowns each second in
their last minute only.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.theme import Theme
from textual.widgets import Button, DataTable, Footer

from synctui.scheduler.clock import utc_now
from synctui.scheduler.control import ConsoleBackend, Mode, Refused
from synctui.scheduler.events import Change, OutputLines, RunFinished, RunStarted, StateChanged
from synctui.scheduler.status import JobStatus, SchedulerStatus
from synctui.tui import actions, themes
from synctui.tui.actions import MAIN_SCREEN_ACTIONS, STEERING_ACTIONS
from synctui.tui.driver import ConsoleDriver
from synctui.tui.host_news import HOST_NEWS, badge, host_news, note
from synctui.tui.messages import (
    EventsWaiting, SchedulerShutDown, Snapshot, StatusFetched, Steered,
)
from synctui.tui.palette import ConsoleCommands
from synctui.tui.quitting import Quitting
from synctui.tui.run_with import RunWithScreen
from synctui.tui.steering import Steering
from synctui.tui.screens.help import HelpScreen, Places
from synctui.tui.screens.history import HistoryScreen
from synctui.tui.screens.timeline import TimelineScreen
from synctui.tui.widgets.header import ConsoleHeader
from synctui.tui.widgets.jobs_table import JobsTable
from synctui.tui.widgets.log_tail import LogTail
from synctui.tui.widgets.status_panel import StatusPanel

if TYPE_CHECKING:
    from synctui.config import Config


DRAIN_DELAY_S = 0.05
"""Events are applied this long after the first of a batch arrives, so a flood collapses."""
STATUS_DELAY_S = 0.1
"""Status refreshes asked for within this long are one refresh."""
STATUS_EVERY_S = 30.0
"""With no event at all, the status is fetched again this often (health moves with time)."""


class SyncTuiApp(App[None]):
    """The synctui console."""

    TITLE = "synctui"
    CSS_PATH = "app.tcss"
    COMMANDS = {ConsoleCommands}
    """The console's actions only (theme and quit among them): one provider, one order."""
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    """Under 100 columns the status panel folds under the table (app.tcss)."""

    BINDINGS = actions.BINDINGS
    """Built from the one list of the console's actions (actions.py)."""

    def __init__(
        self,
        backend: ConsoleBackend,
        *,
        config: Config | None,
        config_name: str,
        zone: tzinfo,
        demo: bool,
        clock: Callable[[], datetime] = utc_now,
        places: Places | None = None,
        theme_file: Path | None = None,
        read_only: bool = False,
        terminal: bool = True,
    ) -> None:
        """The console over `backend`.

        Args:
            backend: The scheduler to show and steer; while it `hosting`, quitting stops it.
            config: The config it runs: its file is compared with an attached host's, its
                `shutdown_grace_s` told when quitting. None with a backend that never hosts.
            config_name: Shown in the header.
            zone: Times are shown in this zone.
            demo: Running the built-in demo (the header says so).
            clock: The current time (tests fix it).
            places: Where the config and the state are, for the help screen.
            theme_file: Where the operator's theme is remembered; None: not remembered.
            read_only: Watch only: no key, button or command that steers is offered.
            terminal: Drawn in a terminal; False: in a browser tab (`synctui serve`), through
                the driver its environment names.
        """
        super().__init__(driver_class=ConsoleDriver if terminal else None)
        self.read_only = read_only
        self.control = backend
        self._config_source = config.source if config is not None else None
        self._config_name = config_name
        self._zone = zone
        self._demo = demo
        self._clock = clock
        self._places = places or Places(config=None, state_dir=None)
        self._theme_file = theme_file
        self.register_theme(themes.NO_COLOR_THEME)
        if self.no_color:
            self.theme = themes.NO_COLOR_THEME.name
        elif theme_file is not None:
            chosen = themes.remembered(theme_file)
            if chosen in self.available_themes:
                self.theme = chosen
        self._status: SchedulerStatus | None = None
        self._fetched_at = clock()
        self._asked = float("-inf")
        """When the status on screen was asked for (`time.monotonic()`)."""
        self._toggles: tuple | None = None
        self._steering = Steering(self, zone, clock)
        self._quitting = Quitting(
            self, config.scheduler.shutdown_grace_s if config is not None else None
        )
        self._drain_due = False
        self._status_due = False
        self._fetching = False
        self._fetch_again = False
        self._screen_up = threading.Event()
        """Set once the screen is up: before, events wait and are drained at mount."""
        # Subscribed before the host starts, so not even a `run_on_start` run is missed.
        self._events = backend.subscribe(notify=self._events_waiting)

    def compose(self) -> ComposeResult:
        reason = self.control.reason if self.control.mode is Mode.FALLBACK else None
        yield ConsoleHeader(self._config_name, self._zone, demo=self._demo, note=note(reason),
                            id="header")
        yield JobsTable(self._zone, id="jobs")
        with Horizontal(id="lower"):
            yield StatusPanel(self._zone, controls=not self.read_only, id="status-panel")
            yield LogTail(self.control, self._zone, id="log-tail")
        yield Footer(id="footer", show_command_palette=False)

    def on_mount(self) -> None:
        # Textual handles none of these; without a handler they end the process at once,
        # leaving a running job unrecorded.
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self.call_later, self._quitting.signalled,
                                    number.name)
        loop.add_signal_handler(signal.SIGHUP, self._quitting.hung_up)
        self.query_one(ConsoleHeader).show_time(self._clock())
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._screen_up.set()
        self._drain()
        self._fetch_status()
        self.set_interval(1.0, self._tick)

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(number)
        self._events.close()

    # --- what the scheduler says ------------------------------------------------------

    def _events_waiting(self) -> None:
        """Called on a scheduler thread when events wait: hands over to the UI loop, never
        blocks."""
        if self._screen_up.is_set():
            self.post_message(EventsWaiting())

    @on(EventsWaiting)
    def _schedule_drain(self) -> None:
        if not self._drain_due:
            self._drain_due = True
            self.set_timer(DRAIN_DELAY_S, self._drain)

    def _drain(self) -> None:
        self._drain_due = False
        if not self.is_running:
            return  # exiting: the widgets are being removed
        events = self._events.drain()
        if not events:
            return
        self.query_one(LogTail).take(events)
        if not all(isinstance(event, OutputLines) for event in events):
            self._want_status()
        for event in events:
            if isinstance(event, StateChanged) and event.job is None and event.what in HOST_NEWS:
                self._host_news(event.what)
        if isinstance(self.screen, (HistoryScreen, TimelineScreen)) and any(
            isinstance(event, (RunStarted, RunFinished)) and self.screen.watches(event.run.job)
            for event in events
        ):
            self.screen.runs_changed()

    def _host_news(self, what: Change) -> None:
        """Say who hosts the scheduler now, when that changes."""
        news = host_news(what, self.control, self._config_source)
        self.query_one(ConsoleHeader).show_note(news.note)
        if news.text is not None:
            self.notify(news.text, title=news.title, timeout=news.timeout, markup=False)

    def _want_status(self) -> None:
        if not self._status_due:
            self._status_due = True
            self.set_timer(STATUS_DELAY_S, self._fetch_status)

    def _fetch_status(self) -> None:
        self._status_due = False
        if self._fetching:
            # Never cancel a fetch under way: under load, fetches would starve each other.
            self._fetch_again = True
        else:
            self._fetching = True
            self._status_worker()

    @work(thread=True, group="status")
    def _status_worker(self) -> None:
        try:
            snapshot = self.snapshot()
        except Refused:  # a guest that has seen no host yet and has no store to read
            self.call_from_thread(self._no_status)
            return
        self.post_message(StatusFetched(snapshot))

    def _no_status(self) -> None:
        """No status to show yet: say why (attaching brings one, through its event)."""
        self._fetching = False
        self.query_one(ConsoleHeader).show_note(note(self.control.reason))

    def snapshot(self) -> Snapshot:
        """The status now (called off the UI thread: it may wait on the scheduler's socket)."""
        asked = time.monotonic()
        return Snapshot(self.control.status(), self._clock(), asked)

    @on(StatusFetched)
    def _status_fetched(self, message: StatusFetched) -> None:
        if not message.quitting:
            self._fetching = False
            if self._fetch_again:
                self._fetch_again = False
                self._want_status()
        self._take(message.snapshot)
        if message.quitting:
            self._quitting.status_fetched()

    def _take(self, snapshot: Snapshot) -> None:
        """Show `snapshot`, unless one asked for later is on screen already."""
        if snapshot.asked < self._asked:
            return
        self._asked = snapshot.asked
        self._status, self._fetched_at = snapshot.status, snapshot.at
        self._show(self._clock())

    def _tick(self) -> None:
        now = self._clock()
        self._show(now)
        if (now - self._fetched_at).total_seconds() >= STATUS_EVERY_S or self._overdue(now):
            self._want_status()

    def _overdue(self, now: datetime) -> bool:
        """Whether a fire time has passed that the status has not caught up with."""
        late = timedelta(seconds=2)
        return self._status is not None and any(
            job.next_run is not None and self._fetched_at < job.next_run + late < now
            for job in self._status.jobs.values()
        )

    # --- what the screen shows --------------------------------------------------------

    @property
    def selected(self) -> JobStatus | None:
        """The status of the job under the table's cursor."""
        name = self.query_one(JobsTable).selected
        if self._status is None or name is None:
            return None
        return self._status.jobs.get(name)

    @on(DataTable.RowHighlighted, "#jobs")
    def _job_highlighted(self) -> None:
        self._show(self._clock())

    def _show(self, now: datetime) -> None:
        if not self.is_running:
            return  # exiting: a late status or tick finds the widgets being removed
        header = self.query_one(ConsoleHeader)
        header.show_time(now)
        status = self._status
        if status is None:
            return
        shown = badge(status, self.control.mode, stopping=self._quitting.stopping)
        header.show_badge(shown)
        reason = self.control.reason if shown == Mode.WAITING.value else None
        if reason:  # attaching or hosting clears it (`_host_news`)
            header.show_note(note(reason))
        self.query_one(JobsTable).show(status, now)
        job = self.selected
        if job is not None:
            self.query_one(StatusPanel).show(
                job, scheduling=status.running, now=now, fetched_at=self._fetched_at,
                host=status.host if self.control.mode is Mode.ATTACHED else None,
            )
            self.query_one(LogTail).show(job)
        toggles = (job is not None and job.paused, status.paused, status.running)
        if toggles != self._toggles:
            self._toggles = toggles
            self.refresh_bindings()

    def _theme_changed(self, theme: Theme) -> None:
        """Cell colours are resolved when drawn: draw them again; remember the operator's pick."""
        self.query_one(JobsTable).restyle()
        self._show(self._clock())
        if self._theme_file is not None and theme.name != themes.NO_COLOR_THEME.name:
            themes.remember(self._theme_file, theme.name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The main screen's keys act only there; of each toggle's two bindings, offer the one
        that applies."""
        if action in MAIN_SCREEN_ACTIONS and self.screen is not self.screen_stack[0]:
            return False
        return self.applies(action)

    def applies(self, action: str) -> bool:
        """Whether `action` makes sense now (`resume` does for a paused job only; none that
        steers does in a read-only console)."""
        if self.read_only and action in STEERING_ACTIONS:
            return False
        status, job = self._status, self.selected
        job_paused = job is not None and job.paused
        all_paused = status is not None and status.paused
        scheduling = status is None or status.running
        return {
            "pause": not job_paused, "resume": job_paused,
            "pause_all": not all_paused, "resume_all": all_paused,
            "stop": scheduling, "start": not scheduling,
        }.get(action, True)

    # --- the operator's actions -------------------------------------------------------

    @on(Steered)
    def _steered(self, message: Steered) -> None:
        if message.snapshot is None:
            self._want_status()
        else:
            self._take(message.snapshot)
        if message.refused:
            self.notify(message.text, title="Refused", severity="warning", markup=False)
        else:
            self.notify(message.text, markup=False)

    def action_run_now(self) -> None:
        self._steering.run_now()

    def action_run_with(self) -> None:
        name = self.query_one(JobsTable).selected
        if name is None:
            self.notify("There is no job to act on", severity="warning")
            return
        self.push_screen(RunWithScreen(name, self._zone),
                         lambda scope: scope is not None and self._steering.run_with(scope))

    def action_cancel_run(self) -> None:
        self._steering.cancel_run()

    def action_pause(self) -> None:
        self._steering.pause()

    def action_resume(self) -> None:
        self._steering.resume()

    def action_pause_all(self) -> None:
        self._steering.pause_all()

    def action_resume_all(self) -> None:
        self._steering.resume_all()

    def action_skip_next(self) -> None:
        self._steering.skip_next()

    def action_stop(self) -> None:
        self._steering.stop()

    def action_start(self) -> None:
        self._steering.start()

    def action_restart(self) -> None:
        self._steering.restart()

    def action_reload_config(self) -> None:
        self._steering.reload_config()

    def action_toggle_log(self) -> None:
        """Focus the log, or back to the jobs."""
        log_tail = self.query_one(LogTail)
        (self.query_one(JobsTable) if log_tail.has_focus else log_tail).focus()

    def action_help(self) -> None:
        """Show every key, what the words on screen mean, and where the files are."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        host = self._status.host if self._status is not None else None
        places = replace(self._places, host=host)
        keys = [(self.get_key_display(binding), binding.tooltip) for binding in actions.BINDINGS
                if not (self.read_only and binding.action in STEERING_ACTIONS)]
        self.push_screen(HelpScreen(keys, places))

    def keys_by_action(self) -> dict[str, str]:
        """The key of each action of the main screen, as the footer shows it."""
        keys: dict[str, str] = {}
        for binding in actions.BINDINGS:
            keys.setdefault(binding.action, self.get_key_display(binding))
        return keys

    def action_history(self) -> None:
        """Show the selected job's runs."""
        name = self.query_one(JobsTable).selected
        if name is None:
            self.notify("There is no job to show", severity="warning")
            return
        self.push_screen(HistoryScreen(self.control, name, self._zone))

    def action_timeline(self) -> None:
        """Show every job's runs across a window of time."""
        table = self.query_one(JobsTable)
        jobs = [row.key.value for row in table.ordered_rows]
        self.push_screen(TimelineScreen(self.control, jobs, self._zone, selected=table.selected))

    @on(DataTable.RowSelected, "#jobs")
    def _job_selected(self) -> None:
        self.action_history()

    def action_next_job(self) -> None:
        """Select the next job."""
        self.query_one(JobsTable).action_cursor_down()

    def action_previous_job(self) -> None:
        """Select the previous job."""
        self.query_one(JobsTable).action_cursor_up()

    @on(Button.Pressed, "#run-now")
    def _run_now_pressed(self) -> None:
        self.action_run_now()

    @on(Button.Pressed, "#pause")
    def _pause_pressed(self) -> None:
        job = self.selected
        if job is not None and job.paused:
            self.action_resume()
        else:
            self.action_pause()

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        if self._status is not None and not self._status.running:
            self.action_start()
        else:
            self.action_stop()

    # --- quitting ---------------------------------------------------------------------

    def running_jobs(self) -> list[str]:
        """The jobs running, as the status on screen says."""
        if self._status is None:
            return []
        return [job.name for job in self._status.jobs.values() if job.running]

    async def action_quit(self) -> None:
        """Quit; a hosted scheduler stops first, and a running job (or another console
        attached, which could take over) makes it ask."""
        self._quitting.asked()

    @on(SchedulerShutDown)
    def _scheduler_shut_down(self) -> None:
        self.exit()

