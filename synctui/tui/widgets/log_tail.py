"""The selected job's output: its current run live, or its last run's when it is idle.

Every job's latest run is kept here as a bounded tail fed by the scheduler's
events, so switching jobs shows output at once; a run the console did not see
start (attached late, or events lost while it flooded) is read from the end of its
log file instead. Lines arrive in batches and the view holds at most `MAX_LINES`,
so a job printing a million lines costs the screen a few writes a second.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Iterable

from textual import work
from textual.content import Content
from textual.message import Message
from textual.widgets import Log
from textual.worker import get_current_worker

from synctui.scheduler.control import Refused, SchedulerControl
from synctui.scheduler.events import Event, EventsMissed, OutputLines, RunFinished, RunStarted
from synctui.scheduler.records import NOT_RUN, RunRecord
from synctui.scheduler.status import JobStatus
from synctui.scheduler.words import result_words
from synctui.tui import text

MAX_LINES = 2000
"""Lines kept per job, and shown."""
TAIL_BYTES = 256 * 1024
"""How much of the end of a log file is read to show a run the console did not see live."""

# Escape sequences a job may print (colours, titles) would steer the operator's terminal.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])")
_CONTROLS = re.compile(r"[\x1b\x7f-\x9f]")


def clean(line: str) -> str:
    """A job's line, safe to draw: escape sequences removed, other control bytes shown as �.

    Blank lines become one space: `Log` would drop an empty one.
    """
    if _CONTROLS.search(line):
        line = _CONTROLS.sub("�", _ESCAPES.sub("", line))
    return line or " "


@dataclass
class _Tail:
    """The last lines of one job's latest run."""

    run_id: int
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_LINES))
    complete: bool = True
    """Whether it holds the run's output from its start (else the log file is read)."""
    running: bool = True
    """Whether the run has not been seen to end."""
    gaps: bool = False
    """Whether events were dropped while it ran (its file is read once it ends)."""


class LogTail(Log):
    """The live log of the selected job."""

    DEFAULT_CSS = """
    LogTail {
        overflow-x: auto;
        scrollbar-size-vertical: 1;
        border: round $primary-muted;
        border-title-color: $text;
        &:focus { border: round $primary; }
    }
    """

    class Loaded(Message):
        """The end of a run's log file, read off the UI thread."""

        def __init__(self, job: str, run: RunRecord, lines: list[str]) -> None:
            super().__init__()
            self.job = job
            self.run = run
            self.lines = lines

    class Unread(Message):
        """A run's log could not be looked up (the scheduler refused): read it next time."""

        def __init__(self, job: str, run_id: int) -> None:
            super().__init__()
            self.job = job
            self.run_id = run_id

    def __init__(self, control: SchedulerControl, zone: tzinfo, *, id: str | None = None) -> None:
        super().__init__(max_lines=MAX_LINES, id=id)
        self._control = control
        self._zone = zone
        self._tails: dict[str, _Tail] = {}
        self._job: str | None = None
        self._run_id: int | None = None
        """The run on screen."""
        self._following = True

    def show(self, job: JobStatus) -> None:
        """Show the job's current run, or its last one; nothing to do if already shown."""
        run_id = job.running_run_id or job.last_run_id
        tail = self._tails.get(job.name)
        if tail is not None and tail.run_id == run_id and tail.running and not job.running:
            # It ended, and its end was among the events dropped while the console caught up.
            tail.running = tail.complete = False
            self._job = None
        if (job.name, run_id) != (self._job, self._run_id):
            self._display(job.name, run_id)

    def take(self, events: Iterable[Event]) -> None:
        """Apply a batch of the scheduler's events, writing the shown run's lines at once."""
        shown: list[str] = []
        for event in events:
            if isinstance(event, OutputLines):
                lines = [clean(line) for line in event.lines[-MAX_LINES:]]
                tail = self._tails.get(event.job)
                if tail is None or tail.run_id != event.run_id:
                    # A run whose start was not seen: its tail begins here, the file has the rest.
                    tail = self._tails[event.job] = _Tail(event.run_id, complete=False)
                elif not tail.running:
                    continue  # read from its file once it had ended: these lines are in it
                tail.lines.extend(lines)
                if (event.job, event.run_id) == (self._job, self._run_id) and tail.complete:
                    shown.extend(lines)
            elif isinstance(event, RunStarted):
                run = event.run
                self._tails[run.job] = _Tail(run.id, deque([self._run_header(run)], MAX_LINES))
                if run.job == self._job:
                    shown = []
                    self._display(run.job, run.id)
            elif isinstance(event, RunFinished) and event.run.result not in NOT_RUN:
                run = event.run
                tail = self._tails.get(run.job)
                # A tail read from the file after the run ended has its ending already.
                if tail is not None and tail.run_id == run.id and tail.running:
                    tail.lines.append(self._run_footer(run))
                    tail.running = False
                    tail.complete = tail.complete and not tail.gaps
                    if (run.job, run.id) == (self._job, self._run_id):
                        if tail.complete:
                            shown.append(tail.lines[-1])
                        else:
                            # Its end may be among the lines dropped: the file has them all.
                            shown = []
                            self._display(run.job, run.id)
            elif isinstance(event, EventsMissed):
                note = (f"[synctui] {event.count} batches of events were dropped here while the"
                        " console caught up; the run's log file has every line")
                for job, tail in self._tails.items():
                    if tail.running:
                        tail.lines.append(note)
                        tail.gaps = True
                        if job == self._job and tail.run_id == self._run_id:
                            shown.append(note)
        if shown:
            self._write(shown[-MAX_LINES:])

    def _write(self, lines: Iterable[str]) -> None:
        """Add lines, keeping the end in view unless the operator has scrolled up."""
        self.write_lines(lines, scroll_end=False)
        if self._following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_show_horizontal_scrollbar(self) -> None:
        if self._following:
            self.scroll_end(animate=False, x_axis=False)  # the end moved one line down

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # `Log` follows only while at the very end, so a horizontal scrollbar appearing
        # (which moves the end one line down) would stop it; this follows until the
        # operator scrolls up, and again once they are back at the end.
        self._following = new_value >= self.max_scroll_y

    def _display(self, job: str, run_id: int | None) -> None:
        self._job, self._run_id = job, run_id
        self.border_title = Content(job if run_id is None else f"{job} · run {run_id}")
        self.clear()
        tail = self._tails.get(job)
        if run_id is None:
            self._write([f"{job} has not run yet: r runs it now"])
        elif tail is not None and tail.run_id == run_id and tail.complete:
            self._write(tail.lines)
        else:
            self._write([f"reading the log of run {run_id}..."])
            self._load(job, run_id)

    @work(thread=True, exclusive=True, group="log-file")
    def _load(self, job: str, run_id: int) -> None:
        """Read the end of the run's log file (off the UI thread)."""
        try:
            found = self._control.history(job, 1, before_id=run_id + 1)
        except Refused:
            # The host is changing: the next status shows the run again, and reads it then.
            self.post_message(self.Unread(job, run_id))
            return
        if not found or found[0].id != run_id:
            return
        lines = read_tail(found[0].log_path, run_id)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(job, found[0], lines))

    def on_log_tail_unread(self, message: LogTail.Unread) -> None:
        if (message.job, message.run_id) == (self._job, self._run_id):
            self._job = None

    def on_log_tail_loaded(self, message: LogTail.Loaded) -> None:
        run = message.run
        live = self._tails.get(message.job)
        if live is not None and live.run_id > run.id:
            return  # a newer run has started since
        tail = _Tail(run.id, deque([self._run_header(run)], MAX_LINES), running=not run.finished)
        tail.lines.extend(clean(line) for line in message.lines)
        if live is not None and live.run_id == run.id and not run.finished:
            # Lines that came live while the file was read: keep those it did not have yet.
            tail.lines.extend(_after_overlap(list(tail.lines), list(live.lines)))
        if run.finished:
            tail.lines.append(self._run_footer(run))
        self._tails[message.job] = tail
        if (message.job, run.id) == (self._job, self._run_id):
            self.clear()
            self._write(tail.lines)

    def _run_header(self, run: RunRecord) -> str:
        started = "" if run.started_at is None else (
            f" · {text.timestamp(run.started_at, self._zone)}"
        )
        return f"── run {run.id} · {run.trigger.value}{started} ──"

    def _run_footer(self, run: RunRecord) -> str:
        ended = result_words(run.result)
        took = f" in {text.duration(run.duration_s)}" if run.duration_s is not None else ""
        why = f": {run.error}" if run.error else ""
        return f"── {ended}{took}{why} ──"


def read_tail(path: Path | None, run_id: int) -> list[str]:
    """The last lines of a run's log file, or one line saying why there are none."""
    if path is None:
        return [f"[synctui] run {run_id} kept no log"]
    try:
        with path.open("rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - TAIL_BYTES))
            data = log.read()
    except FileNotFoundError:
        return [f"[synctui] the log of run {run_id} is gone (retention removed it)"]
    except OSError as error:
        return [f"[synctui] cannot read the log of run {run_id}: {error.strerror}"]
    if size > TAIL_BYTES:
        data = data[data.find(b"\n") + 1:]  # the first line read is likely cut
    return data.decode("utf-8", "replace").splitlines()[-MAX_LINES:]


def _after_overlap(read: list[str], live: list[str]) -> list[str]:
    """The live lines the file read lacked: those after the longest end of `read` that
    begins `live`."""
    for size in range(min(len(read), len(live)), 0, -1):
        if read[-size:] == live[:size]:
            return live[size:]
    return live
