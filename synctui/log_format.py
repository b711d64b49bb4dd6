"""How synctui's own log lines look on stderr: plain text for journald and `docker logs`, or JSON.

Every logger goes through the same handler (APScheduler's, `py.warnings`, any
library's, and uncaught exceptions in threads), so `--log-format json` yields one
JSON object per line and nothing else.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import datetime, timezone

from synctui.scheduler.store import StoreError

# Fields the core attaches with `extra=` that a JSON line carries by name.
FIELDS = ("event", "job", "run_id", "trigger", "result", "duration")
# sd-daemon(3) priorities: journald reads a line's level from this prefix.
_JOURNAL_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                     logging.CRITICAL: 2}
_COLOURS = {logging.WARNING: "\x1b[33m", logging.ERROR: "\x1b[31;1m", logging.CRITICAL: "\x1b[31;1m"}


def _exception_text(formatter: logging.Formatter, exc_info) -> str:
    """What follows a line logged with an exception: its traceback, or for a store that
    cannot be used (a full disk) the message alone, which says what and where: that is
    the operator's to fix, not a fault of synctui's."""
    error = exc_info[1]
    if isinstance(error, StoreError):
        return f": {error}"
    return "\n" + formatter.formatException(exc_info)


class TextFormatter(logging.Formatter):
    """`2026-11-28T12:00:00.123Z INFO orders: run 3 started (scheduled)`.

    For journald (which stamps lines itself) `<6>orders: run 3 started (scheduled)`,
    the level as journald's priority prefix; on a terminal the level is coloured.
    """

    def __init__(self, *, journald: bool = False, colour: bool = False) -> None:
        super().__init__()
        self.journald = journald
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if not record.name.startswith("synctui"):
            text += f" [{record.name}]"
        if record.exc_info:
            text += _exception_text(self, record.exc_info)
        if self.journald:
            priority = _JOURNAL_PRIORITY.get(record.levelno, 6)
            return "\n".join(f"<{priority}>{line}" for line in text.splitlines())
        level = record.levelname
        if self.colour and record.levelno in _COLOURS:
            level = f"{_COLOURS[record.levelno]}{level}\x1b[0m"
        moment = datetime.fromtimestamp(record.created, timezone.utc)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z {level} {text}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event, job, run id, trigger, result, duration, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = _exception_text(self, record.exc_info).lstrip(":\n ")
        # `default=str`: a value of an unexpected type still yields a line, not a logging error.
        return json.dumps(entry, ensure_ascii=False, default=str)


def output_line(job: str, run_id: int, line: str, *, escaped: bool, log_format: str) -> str:
    """A line of a job's output as passed through on stdout, newline included: `job| line`,
    or under `--log-format json` an object a log shipper can parse like synctui's own."""
    if log_format != "json":
        return f"{job}| {line}\n"
    entry = {
        "time": datetime.now(timezone.utc).isoformat(), "event": "output", "job": job,
        "run_id": run_id, "line": line,
    }
    if escaped:
        entry["escaped"] = True  # `\xNN` in `line` stands for a byte that was not UTF-8
    return json.dumps(entry, ensure_ascii=False) + "\n"


def setup_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Send every logger's records, warnings and uncaught exceptions to stderr in
    `log_format` (`text` or `json`)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(
            journald=_stderr_is_journal(),
            colour=sys.stderr.isatty() and "NO_COLOR" not in os.environ,
        ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler's INFO lines ("Added job ...") repeat what synctui says; its warnings stay.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    threading.excepthook = _log_thread_crash


def _log_thread_crash(crash: threading.ExceptHookArgs) -> None:
    if crash.exc_type is SystemExit:
        return
    name = crash.thread.name if crash.thread else "a thread"
    logging.getLogger("synctui").error(
        "uncaught error in %s", name, exc_info=(crash.exc_type, crash.exc_value, crash.exc_traceback),
        extra={"event": "internal_error"},
    )


def _stderr_is_journal() -> bool:
    """Whether stderr is systemd's journal stream (systemd names it in $JOURNAL_STREAM)."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        stat = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return f"{stat.st_dev}" == device and f"{stat.st_ino}" == inode
