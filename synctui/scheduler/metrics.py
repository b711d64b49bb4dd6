"""`--metrics-port`: Prometheus metrics, `/healthz` and `/livez` of a hosted scheduler, over HTTP.

Counters and the duration histogram are fed by the scheduler's events, so every
run counts however it was asked for; the other series are read from the status
snapshot at each scrape. Every series exists from the start, before any run.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIRequestHandler

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer, make_wsgi_app
from prometheus_client.registry import Collector

from synctui.scheduler.events import Change, EventsMissed, RunFinished, StateChanged
from synctui.scheduler.health import HEALTHY, report
from synctui.scheduler.liveness import wedged_words
from synctui.scheduler.records import Result
from synctui.scheduler.status import HEARTBEAT_STALE_S, SchedulerStatus, stored_snapshot
from synctui.scheduler.sync_scheduler import SyncScheduler

log = logging.getLogger("synctui.metrics")

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
"""Seconds, from a tenth of a second to an hour."""
RESULTS = tuple(result.value for result in Result if result is not Result.RUNNING)
HEALTH_STATES = ("new", "up", "late", "down", "overdue", "paused")


class MetricsError(Exception):
    """The metrics address cannot be served; the message is one line for the operator."""


class MetricsServer:
    """An HTTP server bound at creation (so a taken port is known before anything starts)
    that serves `/metrics`, `/healthz` and `/livez` once given a scheduler."""

    def __init__(self, host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        try:
            family, _, _, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
            self._server = _Server(family, address[:2])
        except socket.gaierror as error:
            raise MetricsError(f"--metrics-host {host}: not an address here ({error.strerror})") from None
        except OSError as error:
            raise MetricsError(f"cannot serve metrics on {shown}:{port}: {error.strerror}") from None
        self.port: int = self._server.server_address[1]
        """The port bound (the one chosen by the system for port 0)."""
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics",
                                        daemon=True)
        self._events = None

    @contextmanager
    def serving(self, scheduler: SyncScheduler) -> Iterator[MetricsServer]:
        """Answer requests about `scheduler` while the block runs (enter it before the
        scheduler starts: every series is created here, and no run goes uncounted)."""
        self._serve(scheduler)
        try:
            yield self
        finally:
            self._close()

    def _serve(self, scheduler: SyncScheduler) -> None:
        registry = CollectorRegistry(auto_describe=False)
        counts = _RunCounts(registry, scheduler)

        def count() -> None:
            if self._events is not None:
                counts.take(self._events.drain())

        # Drained on the publisher's thread: no queue of ours ever overflows and drops a run.
        self._events = scheduler.subscribe(notify=count)
        count()  # what came before `count` could see the subscription
        heartbeat = _Heartbeat(scheduler)
        registry.register(_StatusCollector(scheduler, heartbeat))
        self._server.set_app(_app(scheduler, heartbeat, make_wsgi_app(registry)))
        self._thread.start()
        log.info("metrics on %s/metrics (health: /healthz, liveness: /livez)", self.url,
                 extra={"event": "metrics"})

    def _close(self) -> None:
        if self._events is not None:
            self._events.close()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


class _QuietHandler(WSGIRequestHandler):
    """Requests are not logged one by one (a scrape every 15 s is no news)."""

    def log_message(self, format: str, *args) -> None:
        log.debug("metrics request: " + format, *args)


class _Server(ThreadingWSGIServer):
    def __init__(self, family: socket.AddressFamily, address: tuple) -> None:
        self.address_family = family
        super().__init__(address, _QuietHandler)

    def handle_error(self, request, client_address) -> None:
        # socketserver prints a traceback on stderr; a line in the log says enough.
        log.warning("metrics: a request from %s failed: %r", client_address[0], sys.exc_info()[1],
                    extra={"event": "metrics"})


# No `*_created` series: they would double the series count to say when synctui started.
disable_created_metrics()


class _RunCounts:
    """Runs by job and result, and run durations by job, from `RunFinished` events."""

    def __init__(self, registry: CollectorRegistry, scheduler: SyncScheduler) -> None:
        self._scheduler = scheduler
        self._runs = Counter("synctui_runs", "Runs ended since this process started, by job and"
                             " result (a skipped fire time counts one)", ("job", "result"),
                             registry=registry)
        self._durations = Histogram("synctui_run_duration_seconds", "How long runs took, by job",
                                    ("job",), buckets=DURATION_BUCKETS, registry=registry)
        self._jobs: set[str] = set()
        self._track(scheduler.config.jobs)

    def _track(self, names: Iterable[str]) -> None:
        """Create the series of new jobs, and drop those of jobs a reload removed."""
        names = set(names)
        for name in names - self._jobs:
            for result in RESULTS:
                self._runs.labels(name, result)
            self._durations.labels(name)
        for name in self._jobs - names:
            for result in RESULTS:
                self._runs.remove(name, result)
            self._durations.remove(name)
        self._jobs = names

    def take(self, events: list) -> None:
        for event in events:
            if isinstance(event, RunFinished) and event.run.finished:
                run = event.run
                self._runs.labels(run.job, run.result.value).inc()
                if run.duration_s is not None:
                    self._durations.labels(run.job).observe(run.duration_s)
            elif isinstance(event, StateChanged) and event.what is Change.RELOADED:
                self._track(self._scheduler.config.jobs)
            elif isinstance(event, EventsMissed):
                log.warning("metrics fell behind: %d events missed; run counts may be short",
                            event.count, extra={"event": "metrics"})


def _status(scheduler: SyncScheduler) -> SchedulerStatus:
    """The scheduler's snapshot; a standby's is the running host's, as the store tells it."""
    if scheduler.hosting:
        return scheduler.status()
    return stored_snapshot(scheduler.store, scheduler.config)


class _Heartbeat:
    """When the scheduler's loop last ticked, as this process sees it."""

    def __init__(self, scheduler: SyncScheduler) -> None:
        self._scheduler = scheduler
        self._since = time.monotonic()

    def age(self) -> float:
        """Seconds since the loop last ticked (since serving began, before the first tick).

        A standby, waiting for another process to stop hosting, counts as ticking:
        restarting it would change nothing.
        """
        now = time.monotonic()
        if not self._scheduler.hosting:
            self._since = now
        last = self._scheduler.last_tick
        return now - (last if last is not None else self._since)


class _StatusCollector(Collector):
    """The gauges, read from the scheduler's status snapshot at each scrape."""

    def __init__(self, scheduler: SyncScheduler, heartbeat: _Heartbeat) -> None:
        self._scheduler = scheduler
        self._heartbeat = heartbeat

    def collect(self) -> Iterable[Metric]:
        status = _status(self._scheduler)
        store = self._scheduler.store
        now = time.time()

        def gauge(name: str, text: str, labels: tuple[str, ...] = ("job",)) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, text, labels=labels)

        def stamp(moment) -> float:
            return moment.timestamp() if moment is not None else 0.0

        last_success = gauge("synctui_job_last_success_timestamp_seconds",
                             "When the job's last successful run started (0: never)")
        last_run = gauge("synctui_job_last_run_timestamp_seconds",
                         "When the job's last run started (0: never)")
        next_run = gauge("synctui_job_next_run_timestamp_seconds",
                         "When the job runs next (0: not scheduled: paused or stopped)")
        running = gauge("synctui_job_running", "1 while a run of the job is going")
        paused = gauge("synctui_job_paused", "1 while the job is paused")
        health = gauge("synctui_job_health", "1 for the job's health state, 0 for the others"
                       " (new, up, late: healthy; down, overdue: not; paused)", ("job", "state"))
        healthy = gauge("synctui_job_healthy", "1 when the job passes the health check (/healthz)")
        overdue = gauge("synctui_job_overdue", "1 while a run of the job goes past its warn_after")
        for name, job in status.jobs.items():
            last_success.add_metric([name], stamp(store.job_state(name).last_success_started_at))
            last_run.add_metric([name], stamp(job.last_run))
            next_run.add_metric([name], stamp(job.next_run))
            running.add_metric([name], float(job.running))
            paused.add_metric([name], float(job.paused))
            for state in HEALTH_STATES:
                health.add_metric([name, state], float(job.health == state))
            healthy.add_metric([name], float(job.health in HEALTHY))
            overdue.add_metric([name], float(job.health == "overdue"))
        yield from (last_success, last_run, next_run, running, paused, health, healthy, overdue)
        failures = CounterMetricFamily("synctui_notify_failures",
                                       "Notifications and pings given up after their retries",
                                       labels=("job", "what"))
        given_up = self._scheduler.lifecycle.alerts.deliveries.failures
        for (name, what), count in sorted(given_up.items()):
            failures.add_metric([name, what], count)
        yield failures

        scheduling = GaugeMetricFamily("synctui_scheduler_running",
                                       "1 while the scheduler schedules (0: stopped by the operator)")
        scheduling.add_metric([], float(status.running))
        yield scheduling
        heartbeat = GaugeMetricFamily("synctui_scheduler_heartbeat_timestamp_seconds",
                                      "When the scheduler's loop last ticked (it ticks every few"
                                      " seconds; /livez fails once it stops)")
        heartbeat.add_metric([], now - self._heartbeat.age())
        yield heartbeat


def _app(
    scheduler: SyncScheduler, heartbeat: _Heartbeat, metrics: Callable
) -> Callable:
    """`/metrics`, `/healthz` and `/livez` (and `/` for `/metrics`, as scrapers often assume)."""

    def answer(start_response, status: str, lines: list[str]) -> list[bytes]:
        body = "".join(f"{line}\n" for line in lines).encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body)))])
        return [body]

    def app(environ, start_response):
        try:
            return route(environ, start_response)
        except Exception as error:
            # wsgiref would print a traceback on stderr; a log line keeps the log parseable.
            log.warning("metrics: %s failed: %r", environ.get("PATH_INFO"), error, exc_info=True,
                        extra={"event": "metrics"})
            return answer(start_response, "500 Internal Server Error", [f"error: {error!r}"])

    def route(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path in ("/metrics", "/"):
            return metrics(environ, start_response)
        if path == "/healthz":
            healthy, lines = report(_status(scheduler).jobs)
            return answer(start_response, "200 OK" if healthy else "503 Service Unavailable",
                          lines)
        if path == "/livez":
            if not scheduler.hosting:
                return answer(start_response, "200 OK",
                              ["live: waiting to host (standby for the running scheduler)"])
            age = heartbeat.age()
            wedged = wedged_words(scheduler.stuck_fires())
            if age <= HEARTBEAT_STALE_S and wedged:
                return answer(start_response, "503 Service Unavailable",
                              [f"not live: {line}" for line in wedged.splitlines()])
            if age <= HEARTBEAT_STALE_S:
                return answer(start_response, "200 OK", [f"live: the scheduler ticked {age:.0f}s ago"])
            return answer(start_response, "503 Service Unavailable",
                          [f"not live: the scheduler last ticked {age:.0f}s ago"])
        return answer(start_response, "404 Not Found", ["not here: try /metrics, /healthz or /livez"])

    return app
