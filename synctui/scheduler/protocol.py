"""The control socket's wire format: newline-delimited JSON, and the records it carries.

A connection starts with the host's greeting (`{"synctui": ..., "protocol": 1, ...}`).
Each request is one line, `{"id": 7, "op": "status", ...arguments}`; its reply is
one line, `{"id": 7, "ok": true, "result": ...}` or
`{"id": 7, "ok": false, "error": "...", "refused": true}` (`refused` for an
operation the scheduler declined, as opposed to a bad request). A request carrying
`"read_only": true` makes its connection read-only for as long as it lasts: from then on
only `READ_OPERATIONS` are answered, every other one refused. A peer the host
does not accept gets `{"ok": false, "error": "...", "denied": true}` instead of the
greeting. After a
`subscribe` request is answered, the connection carries only events,
`{"event": {...}}`, one a line. Times travel as ISO 8601 in UTC.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields
from datetime import datetime
from pathlib import Path

from synctui.scheduler.events import (
    Change, Event, EventsMissed, OutputLines, RunFinished, RunStarted, StateChanged,
)
from synctui.scheduler.records import QueuedRun, Result, RunRecord, Scope, Trigger
from synctui.scheduler.status import HostInfo, JobStatus, SchedulerStatus
from synctui.scheduler.timeline import Cell, Lane, Timeline

PROTOCOL_VERSION = 2
"""2: `run` takes `force` and a scope (`full`, `since`, `window`), which a version-1 host
would ignore (a forced or full run would quietly run as an ordinary one)."""
SOCKET_NAME = "control.sock"
MAX_SOCKET_PATH = 100
"""Bytes; a Unix socket path longer than this (108 on Linux, less elsewhere) cannot be bound."""
MAX_REQUEST_BYTES = 64 * 1024
"""A request line longer than this is refused and its connection closed."""
MAX_HISTORY = 10_000
"""The most runs one `history` request returns."""
MAX_TIMELINE_CELLS = 2_000
"""The most cells a lane of one `timeline` request has."""
MAX_TIMELINE_WINDOW_S = 10 * 366 * 86400
"""The longest window one `timeline` request asks for."""
OPERATIONS = (
    "status", "history", "timeline", "run", "cancel", "pause", "resume", "skip", "stop", "start",
    "restart", "reload", "subscribe", "handover",
)
READ_OPERATIONS = ("status", "history", "timeline", "subscribe")
"""What a read-only connection may ask: nothing that steers."""


def socket_path(state_dir: Path) -> Path:
    """Where the host of `state_dir` serves: in it, or (path too long) in a private runtime dir.

    The host also writes the path it serves in the store; this is where to look without it
    (a member of the `[control] group`, who may not read the store).
    """
    inside = Path(state_dir) / SOCKET_NAME
    if len(os.fsencode(inside)) <= MAX_SOCKET_PATH:
        return inside
    runtime = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    digest = hashlib.sha256(os.fsencode(Path(state_dir).resolve())).hexdigest()[:16]
    return Path(runtime) / f"synctui-{os.getuid()}" / f"{digest}.sock"


class ProtocolError(Exception):
    """A line that is not what the protocol says; the message says what is wrong."""


def line(message: dict) -> bytes:
    """One message as a line of the protocol."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def parse(raw: bytes) -> dict:
    """The JSON object on one line; anything else is a ProtocolError."""
    try:
        message = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"not JSON: {error}") from None
    except RecursionError:
        # json's C decoder recurses once per level: a line of `[`s under the size limit
        # is enough to exhaust the stack.
        raise ProtocolError("nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, got {type(message).__name__}")
    return message


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


# --- records ----------------------------------------------------------------------

_RUN_TIMES = ("scheduled_at", "started_at", "finished_at", "last_scheduled_at")


def run_to_wire(run: RunRecord) -> dict:
    wire = {f.name: getattr(run, f.name) for f in fields(run)}
    wire.update({name: _time(wire[name]) for name in _RUN_TIMES})
    wire.update(trigger=run.trigger.value, result=run.result.value,
                log_path=str(run.log_path) if run.log_path else None)
    return wire


def run_from_wire(wire: dict) -> RunRecord:
    values = dict(wire)
    values.update({name: _parse_time(values.get(name)) for name in _RUN_TIMES})
    values.update(trigger=Trigger(values["trigger"]), result=Result(values["result"]),
                  log_path=Path(values["log_path"]) if values.get("log_path") else None)
    return RunRecord(**values)


def timeline_to_wire(timeline: Timeline) -> dict:
    """A timeline, its empty cells as null."""
    def cell(cell: Cell) -> list | None:
        if cell == _EMPTY:
            return None
        return [{result.value: count for result, count in cell.counts}, cell.run_id,
                cell.through.value if cell.through else None,
                cell.rolled_up, cell.fire, cell.blackout]

    return {"start": _time(timeline.start), "now": _time(timeline.now),
            "end": _time(timeline.end),
            "lanes": [{"job": lane.job, "freshness": lane.freshness,
                       "cells": [cell(c) for c in lane.cells]} for lane in timeline.lanes]}


def timeline_from_wire(wire: dict) -> Timeline:
    def cell(wire: list | None) -> Cell:
        if wire is None:
            return _EMPTY
        counts, run_id, through, rolled_up, fire, blackout = wire
        return Cell(tuple((Result(r), n) for r, n in counts.items()), run_id,
                    Result(through) if through else None, rolled_up, fire, blackout)

    return Timeline(
        _parse_time(wire["start"]), _parse_time(wire["now"]), _parse_time(wire["end"]),
        tuple(Lane(lane["job"], tuple(cell(c) for c in lane["cells"]), lane["freshness"])
              for lane in wire["lanes"]),
    )


_EMPTY = Cell()


def scope_to_wire(scope: Scope) -> dict:
    """A `run` request's fields for what the run syncs (none for the default)."""
    wire: dict = {}
    if scope.full:
        wire["full"] = True
    if scope.since is not None:
        wire["since"] = _time(scope.since)
    if scope.window is not None:
        wire["window"] = [_time(moment) for moment in scope.window]
    if scope.part is not None:
        wire["part"] = list(scope.part)
    return wire


def scope_from_wire(request: dict) -> Scope:
    """What a `run` request asks the run to sync; `ProtocolError` if it says it badly."""
    full, since, window = request.get("full", False), request.get("since"), request.get("window")
    part = request.get("part")
    try:
        if part is not None and (len(part) != 2 or not all(type(n) is int for n in part)):
            raise ValueError
        if not isinstance(full, bool):
            raise ValueError
        moments = [datetime.fromisoformat(text) for text in window] if window else None
        if moments is not None and (len(moments) != 2 or moments[0] >= moments[1]):
            raise ValueError
        if any(moment.tzinfo is None for moment in
               [*(moments or ()), *([_parse_time(since)] if since else [])]):
            raise ValueError
    except (TypeError, ValueError):
        raise ProtocolError("'full', 'since', 'window' or 'part' is not what a run can be asked"
                            " for") from None
    return Scope(full=full, since=_parse_time(since), window=tuple(moments) if moments else None,
                 part=tuple(part) if part else None)


_JOB_TIMES = ("last_run", "next_run")


def _job_to_wire(job: JobStatus) -> dict:
    wire = {f.name: getattr(job, f.name) for f in fields(job)}
    wire.update({name: _time(wire[name]) for name in _JOB_TIMES})
    wire.update(last_result=job.last_result.value if job.last_result else None,
                recent_durations=[list(pair) for pair in job.recent_durations],
                queued=[{"scheduled_at": _time(run.scheduled_at), "trigger": run.trigger.value,
                         "why": run.why} for run in job.queued])
    return wire


def _job_from_wire(wire: dict) -> JobStatus:
    values = dict(wire)
    values.update({name: _parse_time(values.get(name)) for name in _JOB_TIMES})
    values.update(
        last_result=Result(values["last_result"]) if values.get("last_result") else None,
        recent_durations=tuple((float(d), bool(ok)) for d, ok in values["recent_durations"]),
        queued=tuple(QueuedRun(_parse_time(run["scheduled_at"]), Trigger(run["trigger"]),
                               str(run["why"])) for run in values.get("queued", ())),
    )
    return JobStatus(**values)


def status_to_wire(status: SchedulerStatus) -> dict:
    return {
        "running": status.running, "paused": status.paused, "timezone": status.timezone,
        "interval_minutes": status.interval_minutes, "last_run": _time(status.last_run),
        "last_result": status.last_result.value if status.last_result else None,
        "next_run": _time(status.next_run),
        "host": None if status.host is None else {
            f.name: getattr(status.host, f.name) for f in fields(status.host)
        },
        "jobs": {name: _job_to_wire(job) for name, job in status.jobs.items()},
    }


def status_from_wire(wire: dict) -> SchedulerStatus:
    return SchedulerStatus(
        running=wire["running"], paused=wire["paused"], timezone=wire["timezone"],
        interval_minutes=wire["interval_minutes"], last_run=_parse_time(wire["last_run"]),
        last_result=Result(wire["last_result"]) if wire["last_result"] else None,
        next_run=_parse_time(wire["next_run"]),
        host=HostInfo(**wire["host"]) if wire["host"] else None,
        jobs={name: _job_from_wire(job) for name, job in wire["jobs"].items()},
    )


# --- events -----------------------------------------------------------------------


def event_to_wire(event: Event) -> dict:
    if isinstance(event, RunStarted):
        return {"type": "run-started", "run": run_to_wire(event.run)}
    if isinstance(event, RunFinished):
        return {"type": "run-finished", "run": run_to_wire(event.run)}
    if isinstance(event, OutputLines):
        return {"type": "output", "job": event.job, "run_id": event.run_id,
                "lines": list(event.lines)}
    if isinstance(event, StateChanged):
        return {"type": "state", "job": event.job, "what": event.what.value}
    return {"type": "missed", "count": event.count}


def event_from_wire(wire: dict) -> Event:
    kind = wire.get("type")
    if kind == "run-started":
        return RunStarted(run_from_wire(wire["run"]))
    if kind == "run-finished":
        return RunFinished(run_from_wire(wire["run"]))
    if kind == "output":
        return OutputLines(wire["job"], wire["run_id"], tuple(wire["lines"]))
    if kind == "state":
        return StateChanged(wire["job"], Change(wire["what"]))
    if kind == "missed":
        return EventsMissed(wire["count"])
    raise ProtocolError(f"unknown event type {kind!r}")
