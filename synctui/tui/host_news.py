"""The header's badge and note, and the news, of who hosts the console's scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from synctui.scheduler.control import ConsoleBackend, Mode
from synctui.scheduler.events import Change
from synctui.scheduler.status import SchedulerStatus

HOST_NEWS = {
    Change.HOST_LOST: "The scheduler's host went away: looking for the next host (or taking"
                      " over).",
    Change.HOST_STOPPING: "The scheduler's host is being stopped by its operator: this console"
                          " will not take over its jobs (it attaches to the next host).",
    Change.HOSTING: "This console hosts the scheduler now.",
    Change.ATTACHED: "Attached to the scheduler of pid {pid} ({mode}).",
    Change.HANDING_OVER: "Handing the scheduler over to another process once no run is going.",
    Change.FALLBACK: "Nobody hosts the scheduler and this console cannot: it re-reads the store"
                     " (and runs due jobs with [autorefresh] enabled).",
}
"""What the console says when the scheduler's host changes."""
WAITING_HOST_LOST = "The scheduler's host went away: waiting for the next host."
"""`host-lost` for a console that does not take over: a `[control] group` member, or after
its host was stopped on purpose."""


@dataclass(frozen=True)
class News:
    """A change of host, as the console shows it."""

    note: str | None
    """The header's note from now on (None clears it)."""
    text: str | None = None
    """What to notify; None: nothing."""
    title: str = "Scheduler"
    timeout: float | None = None


def note(reason: str | None) -> str | None:
    """The header's note when no scheduler runs here for `reason`."""
    return f"no scheduler: {reason}" if reason else None


def host_news(what: Change, backend: ConsoleBackend, config_source: str | None) -> News:
    """The news of `what` (a key of `HOST_NEWS`), `backend` being where it happened and
    `config_source` the config file this console runs (None: the demo)."""
    said = News(note(backend.reason if what is Change.FALLBACK else None))
    if what is not Change.ATTACHED:
        waits = what is Change.HOST_LOST and backend.waits
        return News(said.note, WAITING_HOST_LOST if waits else HOST_NEWS[what])
    greeting = backend.attached_to
    if greeting is None:
        return said  # gone again already: its `host-lost` follows
    text = HOST_NEWS[what].format(**greeting)
    theirs = greeting.get("config")
    if theirs != config_source:
        text += (f" It runs another config file, {theirs or 'the demo'}, not"
                 f" {config_source or 'the demo'}: its jobs are shown.")
    return News(said.note, text, title="Attached", timeout=8)


def badge(status: SchedulerStatus, mode: Mode, *, stopping: bool) -> str:
    """The header's badge: whether jobs run on schedule, and who hosts them."""
    if stopping:
        return "stopping"
    if mode is Mode.WAITING:
        return mode.value
    if not status.running:
        return "stopped"
    if status.paused:
        return "paused"
    return mode.value if mode in (Mode.FALLBACK, Mode.ATTACHED) else "running"
