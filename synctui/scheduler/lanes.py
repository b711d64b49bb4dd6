"""How a job's runs and roll-up fall into the cells of a timeline's lane.

Up to a day, the lanes are drawn from the recorded runs, each where and as long as it ran,
when they are few enough to read (`RUNS_DRAWN`); longer windows, denser jobs and runs no
longer kept come from the roll-up per job and hour, as buckets of counts.
Either way a lane costs the cells it has, not the runs the window holds.

Freshness is the share of the window in which the job's data was younger than its period
plus its grace (`grace_minutes`): a wait from one covering success to the next that was
longer makes the rest of it stale. The roll-up keeps each hour's longest wait, so an hour
holding two separate stale spells counts the longer one.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Iterable
from zoneinfo import ZoneInfo

from synctui.config.model import Config, JobConfig
from synctui.scheduler.blackout import blocked
from synctui.scheduler.records import NOT_RUN, Result, RunRecord
from synctui.scheduler.rollup import HOUR_S, JobRollup
from synctui.scheduler.seams import RunStore
from synctui.scheduler.status import JobStatus, SchedulerStatus
from synctui.scheduler.timeline import AHEAD, SEVERITY, Cell, Lane, Timeline
from synctui.scheduler.triggers import job_trigger

RUNS_DRAWN = 2000
"""The most runs of one job drawn one by one; a window holding more draws buckets."""


def build(
    store: RunStore, config: Config, status: SchedulerStatus, now: datetime, window_s: float,
    cells: int, jobs: Iterable[str] | None = None,
) -> Timeline:
    """The timeline of `jobs` (default every configured job) over the `window_s` before now
    and the eighth after, in `cells` cells a lane."""
    start = now - timedelta(seconds=window_s)
    end = now + timedelta(seconds=window_s * AHEAD)
    names = [name for name in (config.jobs if jobs is None else jobs) if name in config.jobs]
    frame = _Frame(start, now, end, max(1, cells), status.running)
    zone = ZoneInfo(config.scheduler.timezone)
    lanes = tuple(
        frame.lane(store, config.jobs[name], status.jobs.get(name), zone, window_s)
        for name in names
    )
    return Timeline(start, now, end, lanes)


class _Frame:
    """The cells of one timeline, and how a job's runs and counts fall into them."""

    def __init__(
        self, start: datetime, now: datetime, end: datetime, cells: int, scheduling: bool,
    ) -> None:
        self.start, self.now, self.end, self.cells = start, now, end, cells
        self.size_s = (end - start).total_seconds() / cells
        self.scheduling = scheduling

    def index(self, moment: datetime) -> int:
        """The cell holding `moment`, clamped to the lane."""
        offset = (moment - self.start).total_seconds() / self.size_s
        return min(self.cells - 1, max(0, int(offset)))

    def moment(self, index: float) -> datetime:
        return self.start + timedelta(seconds=index * self.size_s)

    def lane(
        self, store: RunStore, job: JobConfig, shown: JobStatus | None, zone: tzinfo,
        window_s: float,
    ) -> Lane:
        counts: list[dict[Result, int]] = [{} for _ in range(self.cells)]
        newest: list[int | None] = [None] * self.cells
        through: list[Result | None] = [None] * self.cells
        rolled = [False] * self.cells
        rollup = store.rolled_up(job.name, self.start, self.now)
        rolled_until = self.end  # hours from here on are drawn from the runs
        if window_s <= 86400 and sum(hour.runs for hour in rollup.hours) <= RUNS_DRAWN:
            kept = rollup.runs_kept_from
            if kept is not None:
                hour = _hour_of(kept)
                runs = store.runs_between(job.name, max(self.start, hour), self.end, RUNS_DRAWN)
                rolled_until = _complete_from(hour, runs, rollup)
                for run in runs:
                    if _moment(run) >= max(rolled_until, self.start):
                        self._place(run, counts, newest, through)
        elif shown is not None and shown.running and shown.last_run is not None:
            # A run going now is in no roll-up yet.
            first = self.index(max(shown.last_run, self.start))
            counts[first][Result.RUNNING] = counts[first].get(Result.RUNNING, 0) + 1
            newest[first] = shown.running_run_id
            for index in range(first + 1, self.index(self.now) + 1):
                through[index], newest[index] = Result.RUNNING, shown.running_run_id
        for hour in rollup.hours:
            begins = max(hour.hour, self.start)
            if begins >= rolled_until:
                continue
            ends = min(hour.hour + timedelta(seconds=HOUR_S), self.now)
            for index in range(self.index(begins), self.index(ends - _TICK) + 1):
                bucket = counts[index]
                bucket[hour.result] = bucket.get(hour.result, 0) + hour.runs
                rolled[index] = True
                if hour.last_id is not None and hour.result not in NOT_RUN:
                    newest[index] = max(newest[index] or 0, hour.last_id)
        fires = self._fires_ahead(job, shown, zone)
        window = job.window
        blackout = [not window.always and blocked(window, self.moment(i + 0.5), zone) is not None
                    for i in range(self.cells)]
        cells = tuple(
            Cell(
                counts=tuple(sorted(counts[i].items(), key=lambda item: SEVERITY.index(item[0]))),
                run_id=newest[i], through=through[i], rolled_up=rolled[i],
                fire=i in fires and not blackout[i], blackout=blackout[i],
            )
            for i in range(self.cells)
        )
        return Lane(job.name, cells, freshness(job, shown, rollup, self.start, self.now, zone))

    def _place(
        self, run: RunRecord, counts: list[dict[Result, int]], newest: list[int | None],
        through: list[Result | None],
    ) -> None:
        moment = _moment(run)
        first = self.index(moment)
        counts[first][run.result] = counts[first].get(run.result, 0) + max(1, run.skip_count)
        if run.result in NOT_RUN:
            return
        newest[first] = max(newest[first] or 0, run.id)
        finished = run.finished_at or self.now
        for index in range(first + 1, self.index(finished) + 1):
            if through[index] is None or SEVERITY.index(run.result) < SEVERITY.index(through[index]):
                through[index] = run.result
            newest[index] = max(newest[index] or 0, run.id)

    def _fires_ahead(self, job: JobConfig, shown: JobStatus | None, zone: tzinfo) -> set[int]:
        """The cells after now that hold a fire time of the job, starting at its next one."""
        if shown is None or shown.next_run is None or not self.scheduling or shown.paused:
            return set()
        anchor = shown.next_run - timedelta(seconds=job.interval_s or 0)
        trigger = job_trigger(job, zone, anchor, jitter=False)
        fire, cells = shown.next_run, set()
        while fire is not None and fire < self.end:
            index = self.index(fire)
            cells.add(index)
            fire = trigger.get_next_fire_time(None, self.moment(index + 1))
        return cells


_TICK = timedelta(microseconds=1)


def _hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour holding `moment`."""
    return moment.replace(minute=0, second=0, microsecond=0)


def _moment(run: RunRecord) -> datetime:
    """Where a run is drawn: when it started, or for fire times not run, when they were due."""
    return (run.scheduled_at or run.started_at) if run.result in NOT_RUN else run.started_at


def _complete_from(hour: datetime, runs: list[RunRecord], rollup: JobRollup) -> datetime:
    """From when the kept `runs` are the whole story: from `hour`, the hour of the oldest one
    kept, if they hold every fire time the roll-up counted in it; else from the next hour
    (the earlier hours come from the roll-up)."""
    after = hour + timedelta(seconds=HOUR_S)
    kept = sum(max(1, run.skip_count) for run in runs
               if run.result is not Result.RUNNING and hour <= _moment(run) < after)
    counted = sum(count.runs for count in rollup.hours if count.hour == hour)
    return hour if kept == counted else after
def period_s(job: JobConfig, zone: tzinfo, now: datetime) -> float | None:
    """How often the job is meant to run: its interval, or the gap between its cron's next
    two fire times; None for a job with no fire times of its own."""
    if job.interval_s is not None:
        return job.interval_s
    trigger = job_trigger(job, zone, now, jitter=False)
    if trigger is None:
        return None
    first = trigger.get_next_fire_time(None, now)
    second = first and trigger.get_next_fire_time(first, first)
    return (second - first).total_seconds() if first and second else None


def freshness(
    job: JobConfig, shown: JobStatus | None, rollup: JobRollup, start: datetime, now: datetime, zone: tzinfo,
) -> float | None:
    """The share of [start, now] in which the job's data was younger than its period plus
    its grace (see the module's docstring)."""
    period = period_s(job, zone, now)
    if period is None or rollup.first_success is None or shown is None:
        return None
    limit = timedelta(seconds=period + job.grace_s)
    reach = max(start, rollup.first_success)
    if reach >= now:
        return None
    spells = [(wait.end - timedelta(seconds=wait.seconds) + limit, wait.end)
              for wait in rollup.waits if wait.seconds > limit.total_seconds()]
    if shown.freshness_s is not None and shown.freshness_s > limit.total_seconds():
        last_success = now - timedelta(seconds=shown.freshness_s)
        spells.append((last_success + limit, now))
    stale, reached = 0.0, reach
    for begins, ends in sorted(spells):
        begins, ends = max(begins, reached), min(ends, now)
        if ends > begins:
            stale += (ends - begins).total_seconds()
            reached = ends
    return max(0.0, 1 - stale / (now - reach).total_seconds())
