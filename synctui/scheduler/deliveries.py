"""HTTP requests sent off the scheduler's path: notifications and pings.

Each destination (scheme, host and port) has a lane of its own, a thread that sends its
requests in order, so a notifier that hangs delays only its own later requests, never
a run nor another notifier. A request is tried a few times with a growing pause; one
that never gets a 2xx answer is logged (URL shown by scheme and host only) and counted,
never dropped silently.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from synctui import __version__
from synctui.config.model import url_shown

log = logging.getLogger("synctui.notify")

TIMEOUT_S = 10.0
"""How long one attempt may take to connect and be answered."""
RETRY_PAUSES_S = (1.0, 4.0)
"""The pauses before the second and third attempts."""
CLOSE_WAIT_S = 15.0
"""How long closing waits for the requests still going (a `--once` run's last ping)."""


@dataclass(frozen=True)
class Outgoing:
    """One request to send, and what it is about (for the log and the failure count)."""

    job: str
    what: str
    """`failing`, `recovered`, `overdue`, `missed`, `ping start`, `ping success`..."""
    url: str = field(repr=False)
    method: str = "POST"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


class Deliveries:
    """Sends `Outgoing` requests on lanes by destination; `failures` counts those given up."""

    def __init__(self, *, timeout_s: float = TIMEOUT_S,
                 pauses_s: tuple[float, ...] = RETRY_PAUSES_S) -> None:
        self._timeout_s = timeout_s
        self._pauses_s = pauses_s
        self._lock = threading.Lock()
        self._lanes: dict[str, _Lane] = {}
        self._closing = threading.Event()
        self.failures: Counter[tuple[str, str]] = Counter()
        """(job, what) of the requests given up, since the start."""

    def send(self, request: Outgoing) -> None:
        """Queue `request` on its destination's lane and return at once."""
        parts = urlsplit(request.url)
        destination = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        with self._lock:
            if self._closing.is_set():
                self._give_up(request, "synctui was stopping")
                return
            lane = self._lanes.get(destination)
            if lane is None:
                lane = self._lanes[destination] = _Lane(self, destination)
        lane.put(request)

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Stop taking requests; those queued get one last try each, within `wait_s` in all."""
        with self._lock:
            self._closing.set()
            lanes = list(self._lanes.values())
        deadline = time.monotonic() + wait_s
        for lane in lanes:
            lane.finish(deadline)

    def _deliver(self, request: Outgoing) -> None:
        """Send `request`, trying again after each pause; closing ends the pauses."""
        problem = self._attempt(request)
        for pause in self._pauses_s:
            if not problem or self._closing.wait(pause):
                break
            problem = self._attempt(request)
        if problem:
            self._give_up(request, problem)

    def _attempt(self, request: Outgoing) -> str:
        """Send once; the problem in words, or "" when answered 2xx."""
        sent = urllib.request.Request(
            request.url, data=request.body if request.method == "POST" else None,
            method=request.method,
            headers={"User-Agent": f"synctui/{__version__}", **dict(request.headers)},
        )
        try:
            with urllib.request.urlopen(sent, timeout=self._timeout_s) as answer:
                answer.read(1 << 16)
            return ""
        except urllib.error.HTTPError as error:
            return f"answered {error.code} {error.reason}"
        except urllib.error.URLError as error:
            return f"cannot reach it: {error.reason}"
        except (OSError, ValueError) as error:  # timeouts, resets, a bad answer
            return f"cannot reach it: {error}"

    def _give_up(self, request: Outgoing, problem: str) -> None:
        with self._lock:
            self.failures[(request.job, request.what)] += 1
        log.warning("%s: %s to %s not delivered: %s", request.job, request.what,
                    url_shown(request.url), problem,
                    extra={"event": "notify_failed", "job": request.job})


class _Lane:
    """One destination's requests, sent in order by a thread of their own."""

    def __init__(self, deliveries: Deliveries, destination: str) -> None:
        self._deliveries = deliveries
        self._queue: queue.SimpleQueue[Outgoing | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=f"notify-{destination}",
                                        daemon=True)
        self._thread.start()

    def put(self, request: Outgoing) -> None:
        self._queue.put(request)

    def finish(self, deadline: float) -> None:
        """Let the lane send what it holds, until `deadline`; what is left is given up."""
        self._queue.put(None)
        self._thread.join(max(deadline - time.monotonic(), 0.0))
        if self._thread.is_alive():
            left = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    left.append(item)
            for request in left:
                self._deliveries._give_up(request, "synctui stopped before it was sent")

    def _work(self) -> None:
        while True:
            request = self._queue.get()
            if request is None:
                return
            try:
                self._deliveries._deliver(request)
            except Exception:
                log.exception("%s: %s to %s: internal error", request.job, request.what,
                              url_shown(request.url),
                              extra={"event": "notify_failed", "job": request.job})
