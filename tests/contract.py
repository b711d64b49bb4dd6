"""The contract every `ConsoleBackend` keeps: in-process, over the control socket, as the
fallback, and as the console's `SharedScheduler`.

A test module subclasses `ControlContract` and provides a `control` fixture: a
factory taking {job name: JobConfig keyword dict} and returning a started control.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from factories import finished, next_event
from synctui.scheduler.control import ConsoleBackend, Mode, Refused
from synctui.scheduler.events import OutputLines, RunStarted, StateChanged
from synctui.scheduler.records import Result, Trigger

QUICK = {"command": "echo hello from $SYNCTUI_JOB", "interval_s": 3600, "manual_cooldown_s": 0}
LONG = {"command": "echo started; sleep 30", "interval_s": 3600}


class ControlContract:
    """Behaviour the console relies on, for any implementation of the interface."""

    def test_implements_the_interface(self, control):
        scheduler = control({"quick": QUICK})
        assert isinstance(scheduler, ConsoleBackend)
        assert scheduler.mode in (Mode.IN_PROCESS, Mode.ATTACHED, Mode.FALLBACK)
        assert scheduler.reason is None or scheduler.mode is Mode.FALLBACK
        assert scheduler.hosting == (scheduler.mode is not Mode.ATTACHED)
        assert (scheduler.attached_to is not None) == (scheduler.mode is Mode.ATTACHED)

    def test_status_lists_jobs_and_their_next_runs(self, control):
        scheduler = control({"quick": QUICK, "long": LONG})
        status = scheduler.status()
        assert status.running and set(status.jobs) == {"quick", "long"}
        assert all(isinstance(job.next_run, datetime) for job in status.jobs.values())
        assert status.jobs["quick"].health == "new" and status.jobs["quick"].last_run is None

    def test_run_now_streams_start_output_and_result(self, control):
        scheduler = control({"quick": QUICK})
        events = scheduler.subscribe()
        record = scheduler.run_now("quick")
        assert record.trigger is Trigger.MANUAL
        started = next_event(events, lambda e: isinstance(e, RunStarted))
        output = next_event(events, lambda e: isinstance(e, OutputLines))
        done = finished(events, "quick")
        assert started.run.id == output.run_id == done.id == record.id
        assert output.lines == ("hello from quick",)
        assert done.result is Result.SUCCESS
        assert scheduler.history("quick")[0] == done
        assert scheduler.status().jobs["quick"].last_result is Result.SUCCESS

    def test_refusals_carry_their_reason(self, control):
        scheduler = control({"long": LONG})
        scheduler.run_now("long")
        with pytest.raises(Refused, match="already running"):
            scheduler.run_now("long")
        with pytest.raises(Refused, match="no job named 'ghost'"):
            scheduler.run_now("ghost")

    def test_cancel_ends_the_running_run(self, control):
        scheduler = control({"long": LONG})
        events = scheduler.subscribe()
        record = scheduler.run_now("long")
        next_event(events, lambda e: isinstance(e, OutputLines) and "started" in e.lines)
        scheduler.cancel("long")
        assert finished(events, "long").result is Result.CANCELLED
        assert scheduler.history("long")[0].id == record.id
        with pytest.raises(Refused, match="not running"):
            scheduler.cancel("long")

    def test_pause_and_resume_show_in_status_and_events(self, control):
        scheduler = control({"quick": QUICK, "long": LONG})
        events = scheduler.subscribe()
        scheduler.pause("quick")
        next_event(events, lambda e: e == StateChanged("quick", "paused"))
        status = scheduler.status()
        assert status.jobs["quick"].paused and not status.jobs["long"].paused
        scheduler.pause()
        assert scheduler.status().paused
        scheduler.resume()
        next_event(events, lambda e: e == StateChanged("long", "resumed"))
        assert not any(job.paused for job in scheduler.status().jobs.values())

    def test_skip_next_drops_the_announced_next_run(self, control):
        scheduler = control({"quick": QUICK})
        announced = scheduler.status().jobs["quick"].next_run
        assert scheduler.skip_next("quick") == announced
        assert scheduler.status().jobs["quick"].next_run > announced

    def test_stop_start_and_restart(self, control):
        scheduler = control({"quick": QUICK})
        events = scheduler.subscribe()
        scheduler.stop()
        next_event(events, lambda e: e == StateChanged(None, "stopped"))
        assert not scheduler.status().running
        assert scheduler.status().next_run is None
        scheduler.start()
        next_event(events, lambda e: e == StateChanged(None, "started"))
        assert scheduler.status().running
        scheduler.restart()
        assert scheduler.status().running and scheduler.status().next_run is not None

    def test_the_timeline_draws_a_finished_run_where_it_started(self, control):
        scheduler = control({"quick": QUICK, "long": LONG})
        events = scheduler.subscribe()
        record = scheduler.run_now("quick")
        finished(events, "quick")
        timeline = scheduler.timeline(3600.0, 90, ["quick"])
        [lane] = timeline.lanes
        assert lane.job == "quick" and len(lane.cells) == 90
        [cell] = [cell for cell in lane.cells if cell.counts]
        assert dict(cell.counts) == {Result.SUCCESS: 1} and cell.run_id == record.id
        assert timeline.cell_index(record.started_at) == lane.cells.index(cell)
        assert timeline.start < record.started_at < timeline.now < timeline.end
