"""How synctui's own log lines look on stderr: plain text for journald and `docker logs`, or JSON.

Every logger goes through the same handler (APScheduler's included), so
`--log-format json` yields one JSON object per line and nothing else.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

# Fields the core attaches with `extra=` that a JSON line carries by name.
FIELDS = ("event", "job", "run_id", "trigger", "result", "duration")


class TextFormatter(logging.Formatter):
    """`2026-11-28T12:00:00.123Z INFO orders: run 3 started (scheduled)`."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, timezone.utc)
        line = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z {record.levelname} {record.getMessage()}"
        if not record.name.startswith("synctui"):
            line += f" [{record.name}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


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
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Send every logger's records to stderr in `log_format` (`text` or `json`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler's INFO lines ("Added job ...") repeat what synctui says; its warnings stay.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
