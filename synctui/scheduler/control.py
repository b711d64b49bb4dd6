"""The interfaces the console and the command line steer a scheduler through, wherever it runs.

`SchedulerControl` is what every way of reaching a scheduler answers: `SyncScheduler`
in-process, `RemoteControl` for a scheduler hosted by another process (over its control
socket), `FallbackControl` over the store alone, when nobody hosts. `ConsoleBackend`
adds what a console needs to host, hand over and quit; `SharedScheduler` is the one a
console holds, following whichever applies. The console tells them apart only by `mode`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Callable, Iterable, Protocol, runtime_checkable

from synctui.scheduler.events import Subscription
from synctui.scheduler.records import RunRecord, Scope
from synctui.scheduler.status import SchedulerStatus

if TYPE_CHECKING:
    from synctui.scheduler.timeline import Timeline


class Refused(Exception):
    """An operation the scheduler declines; the message is the reason, for the operator."""


class HostBusy(Refused):
    """Another live process hosts the scheduler of this state directory."""


class Mode(str, Enum):
    """How a console reaches its scheduler now: the only difference it may show."""

    IN_PROCESS = "in-process"
    """This process hosts the scheduler."""
    ATTACHED = "attached"
    """Another process hosts it; this one steers it over its control endpoint."""
    FALLBACK = "fallback"
    """Nobody hosts and this process could not: it re-reads the store (and runs due jobs,
    with `[autorefresh] enabled`)."""
    WAITING = "waiting"
    """Between hosts, for a reason (`ConsoleBackend.reason`): a one-shot holds the state
    directory, the host was stopped on purpose, or this user can only attach."""


@runtime_checkable
class SchedulerControl(Protocol):
    """Status, history, the operator's actions, and a stream of events."""

    mode: Mode

    def status(self) -> SchedulerStatus:
        """Every job's state, last and next runs, and who hosts."""

    def history(
        self, job: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[RunRecord]:
        """Recorded runs, newest first."""

    def timeline(
        self, window_s: float, cells: int, jobs: Iterable[str] | None = None
    ) -> Timeline:
        """The runs of `jobs` (default all) over the `window_s` before now, in `cells` cells
        a lane (see `synctui.scheduler.timeline`)."""

    def run_now(self, name: str, scope: Scope = Scope(), *, force: bool = False) -> RunRecord:
        """Start a manual run (a backfill run for a window: `scope` says what it syncs);
        raises `Refused` while it runs, within its cooldown, or outside its run window
        (active hours and days, blackouts) unless `force`."""

    def cancel(self, name: str) -> None:
        """Ask the running run to end (result `cancelled`) or drop a pending retry."""

    def pause(self, name: str | None = None) -> None:
        """Pause one job, or all."""

    def resume(self, name: str | None = None) -> None:
        """Resume one job, or all."""

    def skip_next(self, name: str) -> datetime:
        """Drop the job's next fire time; returns it."""

    def stop(self) -> None:
        """Stop scheduling (runs in progress finish)."""

    def start(self) -> None:
        """Start scheduling."""

    def restart(self) -> None:
        """Stop, then start."""

    def subscribe(
        self, notify: Callable[[], None] | None = None, maxsize: int = 10_000
    ) -> Subscription:
        """Events: run started, output lines, run finished, state changed."""


@runtime_checkable
class ConsoleBackend(SchedulerControl, Protocol):
    """What the console holds: a `SchedulerControl` that may host, hand over and quit."""

    @property
    def reason(self) -> str | None:
        """Why no scheduler runs here (fallback, waiting), for the operator; else None."""

    @property
    def waits(self) -> bool:
        """Whether, when its host goes, the console waits for the next instead of hosting."""

    @property
    def hosting(self) -> bool:
        """Whether this process runs the jobs now (hosting, or as the fallback)."""

    @property
    def attached_to(self) -> dict | None:
        """While attached, what the host said of itself (pid, mode, config, state_dir)."""

    @property
    def attached_consoles(self) -> int:
        """How many other consoles are attached to this process (while hosting)."""

    def reload(self) -> str:
        """Have the scheduler re-read its config; what it did (`Refused` if invalid)."""

    def hand_over(self) -> None:
        """Stop hosting between runs (blocking until then), so that another process hosts."""

    def end_runs_now(self) -> None:
        """Interrupt the runs this process hosts now, without waiting out the grace."""

    def shutdown(self, grace: float | None = None) -> list[RunRecord]:
        """Leave: a hosted scheduler stops (runs get `grace`); an attached one goes on."""
