"""What a job's runs tell the outside: its hooks, its notifiers (`notify`) and its ping.

Hooks and notifiers hear of changes of the job's state, each once: `failing` (see
`notices`), `recovered`, `overdue` (a run past `warn_after`, told while it goes on) and
`missed` (fire times given up, told when a job starts missing them). A ping hears of
every run: its start, and its end unless a retry follows. Nothing here waits on the
outside: hooks run on threads of their own, requests go through `Deliveries`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from synctui.config.model import JobConfig, Notifier, Ping
from synctui.scheduler.clock import seconds_text
from synctui.scheduler.deliveries import Deliveries, Outgoing
from synctui.scheduler.hooks import Hooks
from synctui.scheduler.notices import history_needed, notice
from synctui.scheduler.records import FAILED_RESULTS, Result, RunRecord
from synctui.scheduler.seams import RunStore

log = logging.getLogger("synctui.scheduler")

PING_BODY_BYTES = 10_000
"""How much of a run's output a `ping_url` end ping carries."""
NOTICE_LINES = 20
"""How many of the run's last output lines a notification carries."""


class Alerts:
    """Tells a lifecycle's runs to the job's hooks, notifiers and ping."""

    def __init__(self, store: RunStore, state_dir: Path, zone: Callable[[], tzinfo]) -> None:
        self._store = store
        self._state_dir = state_dir
        self._zone = zone
        self.hooks = Hooks()
        self.deliveries = Deliveries()

    def started(self, job: JobConfig, record: RunRecord) -> None:
        """A run of `job` started."""
        if job.ping is not None and job.ping.start:
            self._ping(job, job.ping, job.ping.start, "ping start", record)

    def ended(self, job: JobConfig, record: RunRecord, *, retrying: bool) -> None:
        """A run of `job` ended `record` (`retrying`: a retry of it is planned)."""
        told = None
        if job.on_failure or job.on_recovery or job.notify:  # else no one to tell: no read
            history = [record,
                       *self._store.runs(job.name, history_needed(job), before_id=record.id)]
            told = notice(job, history, retrying=retrying)
        zone = self._zone()
        if told == "recovered":
            self.hooks.start(job, record, zone, "on_recovery", job.on_recovery)
            self._notify(job, "recovered", record, f"{job.name} recovered: run {record.id}"
                         f" succeeded in {seconds_text(record.duration_s or 0)}")
        if record.result is Result.SUCCESS:
            self.hooks.start(job, record, zone, "on_success", job.on_success)
        elif told == "failing":
            self.hooks.start(job, record, zone, "on_failure", job.on_failure)
            self._notify(job, "failing", record, f"{job.name} failing: run {record.id}"
                         f" {record.result.value}" + (f": {record.error}" if record.error else ""))
        ping = job.ping
        if ping is None or retrying:
            return
        if record.result is Result.SUCCESS and ping.success:
            self._ping(job, ping, ping.success, "ping success", record)
        elif record.result in FAILED_RESULTS and ping.failure:
            url = ping.failure
            if ping.healthchecks and record.exit_code:
                url = f"{ping.success}/{record.exit_code}"
            self._ping(job, ping, url, "ping failure", record)

    def overdue(self, job: JobConfig, record: RunRecord, limit_s: float) -> None:
        """A run of `job` went past its `warn_after` limit, and goes on."""
        text = (f"{job.name} overdue: run {record.id} going for more than"
                f" {seconds_text(limit_s)} (warn_after {job.warn_after.text})")
        log.warning("%s", text, extra={"event": "run_overdue", "job": job.name,
                                       "run_id": record.id})
        self.hooks.start(job, record, self._zone(), "on_overdue", job.on_overdue)
        self._notify(job, "overdue", record, text)

    def missed(self, job: JobConfig, record: RunRecord, count: int) -> None:
        """Fire times of `job` were recorded missed (`count` more in `record`): told when
        the job starts missing them, not again until a run starts."""
        if record.skip_count > count:
            return  # more of the same missed record: told when it began
        before = self._store.runs(job.name, 1, before_id=record.id)
        if before and before[0].result is Result.MISSED:
            return
        self._notify(job, "missed", record, f"{job.name} missed {record.skip_count} fire"
                     f" time{'s' if record.skip_count > 1 else ''}: {record.reason}")

    def close(self) -> None:
        """Let the requests still queued go (within a bound) before the process ends."""
        self.deliveries.close()

    # --- requests -----------------------------------------------------------------

    def _notify(self, job: JobConfig, what: str, record: RunRecord, text: str) -> None:
        if not job.notify:
            return
        lines = _last_output(record.log_path, PING_BODY_BYTES).decode("utf-8", "replace")
        output = lines.splitlines()[-NOTICE_LINES:]
        for notifier in job.notify:
            body, headers = _notice_body(notifier, what, record, text, output, self._zone())
            self.deliveries.send(Outgoing(job.name, what, notifier.url, body=body,
                                          headers=headers))

    def _ping(self, job: JobConfig, ping: Ping, url: str, what: str, record: RunRecord) -> None:
        if ping.healthchecks:
            rid = uuid.uuid5(uuid.NAMESPACE_URL, f"synctui:{self._state_dir}:{record.id}")
            body = b"" if record.result is Result.RUNNING else _last_output(
                record.log_path, PING_BODY_BYTES)
            self.deliveries.send(Outgoing(
                job.name, what, f"{url}{'&' if '?' in url else '?'}rid={rid}", body=body,
                headers=(("Content-Type", "text/plain; charset=utf-8"),),
            ))
            return
        fields = {
            "exit_code": "" if record.exit_code is None else str(record.exit_code),
            "run_id": str(record.id),
            "duration": "" if record.duration_s is None else f"{record.duration_s:.3f}",
            "result": record.result.value,
            "message": record.error or ("started" if record.result is Result.RUNNING
                                        else record.result.value),
        }
        filled = url.format_map({key: quote(value, safe="") for key, value in fields.items()})
        self.deliveries.send(Outgoing(job.name, what, filled, method="GET"))


def _notice_body(
    notifier: Notifier, what: str, record: RunRecord, text: str, output: list[str],
    zone: tzinfo,
) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """The request body and headers of one notification in the notifier's format."""
    if notifier.format == "slack":  # Slack's incoming webhooks; Mattermost's take it too
        shown = text + ("\n```\n" + "\n".join(output) + "\n```" if output else "")
        return json.dumps({"text": shown}).encode(), (("Content-Type", "application/json"),)
    if notifier.format == "ntfy":
        tags = {"failing": "rotating_light", "recovered": "white_check_mark",
                "overdue": "hourglass", "missed": "warning"}[what]
        shown = text + ("\n\n" + "\n".join(output) if output else "")
        return shown.encode(), (
            ("Title", f"synctui: {record.job} {what}"), ("Tags", tags),
            ("Priority", "high" if what in ("failing", "missed") else "default"),
        )

    def moment(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value else None

    return json.dumps({
        "event": what, "text": text, "job": record.job, "host": socket.gethostname(),
        "run_id": record.id, "result": record.result.value, "trigger": record.trigger.value,
        "attempt": record.attempt, "scheduled_at": moment(record.scheduled_at),
        "started_at": moment(record.started_at), "finished_at": moment(record.finished_at),
        "duration_s": record.duration_s, "exit_code": record.exit_code,
        "error": record.error, "output": output,
    }).encode(), (("Content-Type", "application/json"),)


def _last_output(path: Path | None, size: int) -> bytes:
    """The last `size` bytes of a run's log, or none."""
    if path is None:
        return b""
    try:
        with open(path, "rb") as file:
            file.seek(max(file.seek(0, os.SEEK_END) - size, 0))
            return file.read()
    except OSError:
        return b""
