"""A one-line chart of a job's recent run durations, failures marked."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"


class RunSparkline(Widget):
    """Recent runs oldest first, one cell each: a bar from the shortest (▁) to the longest (█),
    `✗` for a failed run."""

    DEFAULT_CSS = """
    RunSparkline {
        height: 1;
        & > .run-sparkline--bar { color: $primary; }
        & > .run-sparkline--failed { color: $error; text-style: bold; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"run-sparkline--bar", "run-sparkline--failed"}

    runs: reactive[tuple[tuple[float, bool], ...]] = reactive(())
    """(duration in seconds, succeeded) of recent runs, oldest first."""

    def render(self) -> Text:
        runs = self.runs[-self.size.width:] if self.size.width else self.runs
        if not runs:
            return Text("no finished runs yet", style="dim")
        shortest = min(duration for duration, _ in runs)
        spread = max(duration for duration, _ in runs) - shortest
        bar = self.get_component_rich_style("run-sparkline--bar")
        failed = self.get_component_rich_style("run-sparkline--failed")
        chart = Text(no_wrap=True)
        for duration, succeeded in runs:
            if not succeeded:
                chart.append("✗", failed)
            elif spread:
                chart.append(BARS[round((duration - shortest) / spread * (len(BARS) - 1))], bar)
            else:
                chart.append(BARS[len(BARS) // 2], bar)
        return chart
