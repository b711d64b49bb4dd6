"""What the fault campaign found, read from what synctui left and printed as a table."""

from __future__ import annotations

import re
from pathlib import Path

import _common

TRACEBACK_FRAME = re.compile(r"\s|[│╭╰─]|Traceback|$")
SAMPLE_BYTES = 4000


def traceback_samples(text: str) -> list[str]:
    """Each traceback in `text` from its first line to its exception's (Python's or Rich's
    boxed one): its start and its end when longer than `SAMPLE_BYTES`."""
    samples = []
    for match in re.finditer("Traceback", text):
        lines = text[match.start():].splitlines(keepends=True)
        taken = lines[:1]
        for line in lines[1:]:
            taken.append(line)
            if not TRACEBACK_FRAME.match(line):
                break  # the exception's line
        sample = "".join(taken)
        if len(sample) > SAMPLE_BYTES:
            sample = f"{sample[:1500]}\n[…]\n{sample[-(SAMPLE_BYTES - 1500):]}"
        samples.append(sample)
    return samples


def state_parts(state: Path) -> dict[str, int]:
    """A state directory's bytes: the database, its write-ahead log, the run logs, the rest."""
    parts = {"db": 0, "wal": 0, "logs": 0, "other": 0}
    for entry in state.rglob("*"):
        if entry.is_file():
            part = ("logs" if "logs" in entry.relative_to(state).parts else
                    "wal" if entry.name.endswith("-wal") else
                    "db" if entry.name.endswith(".db") else "other")
            parts[part] += entry.stat().st_size
    return parts


def report(found: dict) -> str:
    rss = found["rss"]

    def mb(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    rows = [
        ("runs (faulted)", ", ".join(f"{k} {v}" for k, v in sorted(found["results"]["faulted"].items()))),
        ("runs (steady)", ", ".join(f"{k} {v}" for k, v in sorted(found["results"]["steady"].items()))),
        ("faults", ", ".join(f"{k} {v}" for k, v in found["faults"].items())),
        ("runs going at the kills", found["runs_at_kills"]),
        ("of them not recorded interrupted", len(found["lost"])),
        ("runs stuck running", found["stuck"]),
        ("processes left over", found["leftovers"]),
        ("duplicate fire times", found["duplicates"]),
        ("overlapping runs", len(found["overlaps"])),
        ("tracebacks", found["tracebacks"]),
        ("RSS MB steady: start / 10 min / peak / end",
         f"{mb(rss['start_mb'])} / {mb(rss['at_settle_mb'])} / {mb(rss['peak_mb'])}"
         f" / {mb(rss['end_mb'])}"),
        ("RSS growth after 10 min MB", mb(rss["growth_mb"])),
        *((f"state dir bytes ({name}): db / wal / logs / other",
           " / ".join(f"{size:,}" for size in parts.values()))
          for name, parts in found["state_bytes"].items()),
        ("integrity check", ", ".join(f"{k} {v}" for k, v in found["integrity"].items())),
        ("bad configs misanswered", len(found["bad_answers"])),
        ("CLI reads (hung)", f"{found['readers_asked']} ({found['readers_hung']})"),
        ("console at SIGTERM", f"exit {found['console_exit']['exit_status']}"
                               f"{' (killed)' if found['console_exit']['killed'] else ''}"),
    ]
    lines = [_common.table(("what", "found"), rows), ""]
    for what, why in found["skipped"].items():
        lines.append(f"skipped: {what}: {why}")
    for what, held in found["invariants"].items():
        lines.append(f"{'held' if held else 'FAILED'}: {what}")
    for sample in found["traceback_samples"]:
        lines += ["", "a traceback:", sample]
    return "\n".join(lines)
