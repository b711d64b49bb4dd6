"""The operator's actions on a job or the scheduler, run off the UI thread and worded when done."""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Callable

from synctui.scheduler.clock import time_of_day
from synctui.scheduler.control import ConsoleBackend, Mode, Refused
from synctui.scheduler.records import Scope
from synctui.tui.messages import Steered
from synctui.tui.questions import ConfirmScreen
from synctui.tui.widgets.jobs_table import JobsTable

if TYPE_CHECKING:
    from synctui.tui.app import SyncTuiApp


class Steering:
    """Steers the app's backend; every outcome comes back to the app as `Steered`."""

    def __init__(self, app: SyncTuiApp, zone: tzinfo, clock: Callable[[], datetime]) -> None:
        """Steering `app`'s backend; times are worded in `zone`, as of `clock()`."""
        self._app = app
        self._zone = zone
        self._clock = clock

    def _steer(
        self, act: Callable[[ConsoleBackend, str | None], object],
        said: Callable[[str | None, object], str], *, job: bool = True,
    ) -> None:
        """Run an action off the UI thread (a call may wait on the scheduler's locks, or on its
        socket when attached); `said` words its outcome for the operator."""
        name = self._app.query_one(JobsTable).selected
        if job and name is None:
            self._app.notify("There is no job to act on", severity="warning")
            return
        self._app.run_worker(partial(self._steer_worker, act, said, name), thread=True,
                             group="steer")

    def _steer_worker(self, act, said, name: str | None) -> None:
        try:
            outcome = act(self._app.control, name)
        except Refused as refusal:
            self._app.post_message(Steered(str(refusal), refused=True))
            return
        try:
            snapshot = self._app.snapshot()
        except Refused:
            snapshot = None  # the host went away just after: its news and a status follow
        self._app.post_message(Steered(said(name, outcome), snapshot))

    def run_now(self) -> None:
        """Run the selected job now; outside its run window, only once the operator confirms."""
        job = self._app.selected
        if job is None or job.blackout is None:
            self._steer(lambda control, name: control.run_now(name),
                        lambda name, run: f"{name}: run {run.id} started")
            return
        when = None if job.next_run is None else time_of_day(job.next_run, self._zone,
                                                             self._clock())
        until = f" Its next run on its own is at {when}." if when else ""
        question = f"{job.name} may not start now: {job.blackout}.{until} Run it anyway?"
        self._app.push_screen(ConfirmScreen(question, "Run anyway"), lambda sure: self._steer(
            lambda control, name: control.run_now(name, force=True),
            lambda name, run: f"{name}: run {run.id} started (forced)") if sure else None)

    def run_with(self, scope: Scope) -> None:
        """Run the selected job now, syncing what `scope` says."""
        words = scope.describe(self._zone)
        self._steer(lambda control, name: control.run_now(name, scope),
                    lambda name, run: f"{name}: run {run.id} started ({words})")

    def cancel_run(self) -> None:
        """Cancel the selected job's running run (or its pending retry)."""
        job = self._app.selected
        run_id = job.running_run_id if job is not None else None
        self._ask_if_attached(
            f"cancel {job.name if job else 'the'} run{f' {run_id}' if run_id else ''}",
            "Cancel it",
            partial(self._steer,
                    lambda control, name: control.cancel(name),
                    lambda name, _: f"{name}: its pending retry is dropped" if run_id is None
                    else f"{name}: run {run_id} is being cancelled"),
        )

    def pause(self) -> None:
        """Pause the selected job."""
        self._steer(lambda control, name: control.pause(name), lambda name, _: f"{name} paused")

    def resume(self) -> None:
        """Resume the selected job."""
        self._steer(lambda control, name: control.resume(name), lambda name, _: f"{name} resumed")

    def pause_all(self) -> None:
        """Pause every job."""
        self._ask_if_attached(
            "pause every job", "Pause all",
            partial(self._steer, lambda control, _: control.pause(),
                    lambda *_: "every job paused", job=False),
        )

    def resume_all(self) -> None:
        """Resume every job."""
        self._steer(lambda control, _: control.resume(), lambda *_: "every job resumed", job=False)

    def skip_next(self) -> None:
        """Skip the selected job's next run."""
        self._steer(
            lambda control, name: control.skip_next(name),
            lambda name, fire: f"{name}: the run due at"
            f" {time_of_day(fire, self._zone, self._clock(), seconds=True)} will be skipped",
        )

    def stop(self) -> None:
        """Stop the scheduler (runs in progress go on)."""
        self._ask_if_attached(
            "stop scheduling (runs in progress go on)", "Stop it",
            partial(self._steer, lambda control, _: control.stop(),
                    lambda *_: "scheduler stopped: no runs start until s starts it", job=False),
        )

    def _ask_if_attached(self, what: str, yes: str, act: Callable[[], None]) -> None:
        """Steering another process's scheduler affects everyone on it: ask first."""
        if self._app.control.mode is not Mode.ATTACHED:
            act()
            return
        greeting = self._app.control.attached_to or {"pid": "?", "mode": "another process"}
        question = (f"The scheduler is hosted by pid {greeting['pid']} ({greeting['mode']})"
                    f" and shared with whoever is attached to it. Really {what}?")
        self._app.push_screen(ConfirmScreen(question, yes), lambda sure: act() if sure else None)

    def start(self) -> None:
        """Start the scheduler."""
        self._steer(lambda control, _: control.start(), lambda *_: "scheduler started", job=False)

    def restart(self) -> None:
        """Stop and start the scheduler."""
        self._steer(lambda control, _: control.restart(), lambda *_: "scheduler restarted",
                    job=False)

    def reload_config(self) -> None:
        """Have the scheduler read its config file again (an invalid one is refused)."""
        self._steer(lambda control, _: control.reload(), lambda _, said: said, job=False)
