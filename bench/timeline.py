"""Timeline: the first frame of the runs timeline on a month of runs, against the history screen.

The month is `tests/month_of_runs.py`'s, written once by the store's own methods into a
temporary directory: a minutely job (failures, timeouts, skips, a two-hour outage), an
hourly one and a nightly one, 1000 runs a job kept, as a host with `keep_runs = 1000`
would leave them; the older runs live on only in the hourly roll-up.

In a headless Textual app (`App.run_test`, 100x30), each round, in a random order:

  timeline W  push_screen(TimelineScreen(window=W)) for each of 1h, 24h, 7d and 30d ->
              the frame showing its lanes is written (the lanes are built off the UI
              thread, as the console does, from the store through the core; looked
              for every millisecond).
  alone       the same with one lane: 30 days of the minutely job, a day of the hourly.
  history     push_screen(HistoryScreen) of the minutely job -> the frame showing its
              first page of runs is written.

Then, outside Textual: building one lane alone, 30 days of the minutely job against one
day of the hourly job (the roll-up is what should make them cost alike).

Target (from the issue): thirty days of a minutely job draw as fast as one day of an hourly
one (first frames within `AS_FAST`); the timeline's first frame is compared with the
history screen's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _common import median, parse, percentile, table, verdict, write_results  # noqa: E402
from _frames import Bench, drawn  # noqa: E402
from month_of_runs import NOW, month_config, month_status, write_month  # noqa: E402
from synctui.scheduler import lanes  # noqa: E402
from synctui.scheduler.store import Store  # noqa: E402
from synctui.scheduler.timeline import WINDOWS  # noqa: E402
from synctui.tui.screens.history import HistoryScreen  # noqa: E402
from synctui.tui.screens.timeline import Lanes, TimelineScreen  # noqa: E402

POLL_S = 0.001
"""How often a screen's first frame is looked for: `TimelineScreen` fetches its lanes once
Textual is idle after the first refresh, which a loop that never sleeps would put off."""
MINUTELY, HOURLY = "payments-reconciliation", "hourly-export"
ALONE = {MINUTELY: "timeline 30d minutely", HOURLY: "timeline 24h hourly"}
"""The arms of one lane alone: the minutely job's month, the hourly job's day."""
AS_FAST = 1.5
"""30 days of the minutely job count as drawing as fast as a day of the hourly one when
their medians are within this ratio."""


class MonthBackend:
    """What the two screens ask of a console's backend, answered from the month's store at
    its fixed clock."""

    def __init__(self, state_dir: Path) -> None:
        self.store = Store(state_dir)
        self.config = month_config(state_dir)
        self.status = month_status(self.store, self.config)

    def history(self, job=None, limit=100, before_id=None):
        return self.store.runs(job, limit, before_id)

    def timeline(self, window_s, cells, jobs=None):
        return lanes.build(self.store, self.config, self.status, NOW, window_s, cells, jobs)


async def first_frame(app: Bench, pilot, screen, ready) -> float:
    began = time.perf_counter()
    app.push_screen(screen)
    await drawn(app, ready, POLL_S)
    elapsed = (time.perf_counter() - began) * 1000
    app.pop_screen()
    await pilot.pause()
    return elapsed


async def measure(backend: MonthBackend, rounds: int, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    zone = ZoneInfo("UTC")
    jobs = list(backend.config.jobs)
    arms = {f"timeline {window}": (jobs, window) for window in WINDOWS}
    arms.update({ALONE[job]: ([job], window) for job, window in ((MINUTELY, "30d"),
                                                                   (HOURLY, "24h"))})
    order = [*arms, "history"]
    samples: dict[str, list[float]] = {arm: [] for arm in order}
    app = Bench()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for _ in range(rounds):
            rng.shuffle(order)
            for arm in order:
                if arm == "history":
                    screen = HistoryScreen(backend, MINUTELY, zone)
                    ready = lambda s=screen: s.query("#runs") and s.query_one("#runs").row_count
                else:
                    lanes_of, window = arms[arm]
                    screen = TimelineScreen(backend, lanes_of, zone, window=window)
                    ready = lambda s=screen: s.query(Lanes) and s.query_one(Lanes).timeline
                samples[arm].append(await first_frame(app, pilot, screen, ready))
    return samples


def lane_costs(backend: MonthBackend, rounds: int) -> dict[str, list[float]]:
    """Milliseconds to build one lane of 80 cells: the minutely job's 30 days, the hourly
    job's day."""
    costs: dict[str, list[float]] = {"30d minutely": [], "24h hourly": []}
    for _ in range(rounds):
        for arm, window, job in (("30d minutely", "30d", MINUTELY), ("24h hourly", "24h", HOURLY)):
            began = time.perf_counter()
            backend.timeline(WINDOWS[window], 80, [job])
            costs[arm].append((time.perf_counter() - began) * 1000)
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds of the screens (20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-round arm order")
    parser.add_argument("--days", type=int, default=30, help="days of history written (30)")
    args = parse(parser, rounds=1, days=2)
    with tempfile.TemporaryDirectory(prefix="synctui-bench-timeline-") as tmp:
        state_dir = Path(tmp) / "state"
        began = time.monotonic()
        write_month(state_dir, args.days).close()
        print(f"wrote {args.days} days of runs in {time.monotonic() - began:.1f}s", flush=True)
        backend = MonthBackend(state_dir)
        screens = asyncio.run(measure(backend, args.rounds, args.seed))
        costs = lane_costs(backend, max(5, args.rounds * 5))
        backend.store.close()
    rows = [(arm, len(v), median(v), percentile(v, 95), max(v))
            for arm, v in {**screens, **costs}.items()]
    print(table(("arm", "n", "median ms", "p95 ms", "max ms"), rows))
    ratio = median(screens[ALONE[MINUTELY]]) / median(screens[ALONE[HOURLY]])
    built = median(costs["30d minutely"]) / median(costs["24h hourly"])
    against = median(screens["timeline 30d"]) / median(screens["history"])
    met = ratio <= AS_FAST
    print(f"first frame, 30 days of the minutely job / a day of the hourly one: {ratio:.2f}x")
    print(f"building the lane alone, the same two: {built:.2f}x")
    print(f"the timeline's 30-day first frame / the history screen's: {against:.2f}x")
    print(f"target: 30 days of a minutely job within {AS_FAST}x of a day of an hourly one:"
          f" {verdict(met)}")
    write_results("timeline", {
        "days": args.days, "rounds": args.rounds, "screens_ms": screens, "lanes_ms": costs,
        "minutely_30d_over_hourly_24h": ratio, "lane_built_ratio": built,
        "timeline_30d_over_history": against,
        "target_ratio": AS_FAST, "met": met,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
