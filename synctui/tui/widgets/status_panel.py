"""The selected job in detail: last and next run, result, freshness, durations, and its buttons."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label, Static

from synctui.scheduler.records import FAILED_RESULTS
from synctui.scheduler.status import HostInfo, JobStatus
from synctui.scheduler.words import queued_words
from synctui.tui import text
from synctui.tui.widgets.run_sparkline import RunSparkline

LABEL_WIDTH = 11
COLUMN_WIDTH = 36
"""Where the panel holds two of these side by side (folded under the table, under 100
columns), the details take two columns and half the height."""


class StatusPanel(Vertical):
    """One job's status and the Run now / Pause / Stop buttons (the seed's `show_controls`)."""

    DEFAULT_CSS = """
    StatusPanel {
        border: round $primary-muted;
        border-title-style: bold;
        border-title-color: $text;
        padding: 0 1;
        & > #details { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
        & > #recent { height: 1; }
        & > #recent > Label { width: 11; color: $text-muted; }
        & > #controls { dock: bottom; height: 1; }
        /* Fixed widths: a label that changes (Pause, Resume) moves no button. */
        & > #controls > Button { min-width: 0; margin-right: 1; }
        & > #controls > #run-now { width: 9; }
        & > #controls > #pause { width: 8; }
        & > #controls > #stop { width: 7; }
    }
    """

    def __init__(self, zone: tzinfo, *, controls: bool = True, id: str | None = None) -> None:
        """The panel; `controls`: with its run, pause and stop buttons."""
        super().__init__(id=id)
        self._zone = zone
        self._controls = controls
        self._details = Text()
        self._rows: list[Text] = []
        self._titles: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="details", markup=False)
        with Horizontal(id="recent"):
            yield Label("Recent")
            yield RunSparkline(id="sparkline")
        if not self._controls:
            return
        with Horizontal(id="controls"):
            yield Button("Run now", id="run-now", compact=True, tooltip="Run the job now (r)")
            yield Button("Pause", id="pause", compact=True, tooltip="Pause or resume the job (p)")
            yield Button("Stop", id="stop", compact=True, tooltip="Stop or start the scheduler (s)")

    def show(
        self, job: JobStatus, *, scheduling: bool, now: datetime, fetched_at: datetime,
        host: HostInfo | None = None,
    ) -> None:
        """Show `job` (and `host`, the process hosting it when that is another one); repaints
        only the parts whose text changed."""
        if (job.name, job.schedule) != self._titles:
            # Setting a border title repaints the panel even when it is the same.
            self.border_title, self.border_subtitle = Content(job.name), Content(job.schedule)
            self._titles = (job.name, job.schedule)
        self._rows = self._describe(job, scheduling, now, fetched_at, host)
        self._lay_out()
        self.query_one(RunSparkline).runs = job.recent_durations
        if self._controls:
            self._label("#pause", "Resume" if job.paused else "Pause")
            self._label("#stop", "Stop" if scheduling else "Start")

    def on_resize(self) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        """Draw the rows in one column, or two where there is room; repaints only on change."""
        rows = self._rows
        if self.content_region.width >= 2 * COLUMN_WIDTH + 2:
            half = (len(rows) + 1) // 2
            lines = []
            for left, right in zip(rows[:half], [*rows[half:], Text()]):
                line = left.copy()
                line.truncate(COLUMN_WIDTH, pad=True)
                lines.append(Text.assemble(line, "  ", right))
            rows = lines
        details = Text("\n").join(rows)
        if details != self._details:
            self.query_one("#details", Static).update(details)
            self._details = details

    def _label(self, selector: str, label: str) -> None:
        button = self.query_one(selector, Button)
        if str(button.label) != label:
            button.label = label

    def _describe(
        self, job: JobStatus, scheduling: bool, now: datetime, fetched_at: datetime,
        host: HostInfo | None,
    ) -> list[Text]:
        theme = self.app.theme_variables
        zone = self._zone
        if job.last_run is None:
            last = Text("never", style="dim")
        else:
            last = Text(f"{text.time_of_day(job.last_run, zone, now, seconds=True)}"
                        f" · {text.ago(job.last_run, now)}")
        if job.next_run is not None:
            upcoming = Text(f"{text.time_of_day(job.next_run, zone, now, seconds=True)}"
                            f" · {text.countdown(job.next_run, now)}")
        else:
            why = ("job paused" if job.paused else "scheduler stopped" if not scheduling
                   else f"runs after {', '.join(job.after)}" if job.after else "none")
            upcoming = Text(f"- ({why})", style="dim")
        if job.freshness_s is None:
            freshness = Text("no success yet", style="dim")
        else:
            age = job.freshness_s + (now - fetched_at).total_seconds()
            freshness = Text(f"{text.span(age)} since last success")
        rows = [
            ("Last run", last),
            ("Next run", upcoming),
            ("Result", text.result_text(job.last_result, theme)),
            ("Trigger", Text(job.last_trigger or "-")),
            ("Duration", Text(text.duration(job.last_duration_s))),
            ("Health", text.health_text(job.health, theme, symbol=True)),
            ("Freshness", freshness),
            ("Success", Text("-" if job.success_rate is None else f"{job.success_rate:.0%}")),
            ("p50 / p95", Text(f"{text.duration(job.p50_duration_s)}"
                               f" / {text.duration(job.p95_duration_s)}")),
        ]
        if job.queued:
            rows.append(("Queued", text.styled(queued_words(job.queued, zone), "$warning", theme)))
        if job.blackout:
            rows.append(("Held", text.styled(f"{job.blackout} (r asks first)", "$warning", theme)))
        if job.last_error and job.last_result in FAILED_RESULTS:
            rows.append(("Error", text.styled(job.last_error, "$error", theme)))
        if job.after:
            rows.append(("Waits on", Text(", ".join(job.waits_on))
                         if job.waits_on else Text("nothing: its upstreams succeeded", style="dim")))
        if job.needed_by:
            rows.append(("Needed by", Text(", ".join(job.needed_by))))
        if host is not None:
            rows.append(("Host", Text(f"pid {host.pid} · {host.mode}")))
            rows.append(("Its config", Text(Path(host.config).name if host.config else "demo")))
        return [Text.assemble((label.ljust(LABEL_WIDTH), "dim"), value) for label, value in rows]
