"""Shared bits of the benchmark scripts: percentiles, tables, results files, machine facts.

Not a benchmark itself (`run_all.py` skips files whose name starts with `_`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Iterable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
_quick = False


def parse(parser: argparse.ArgumentParser, **quick: object) -> argparse.Namespace:
    """The arguments; with `--quick`, the `quick` values stand in for the defaults not
    given: the shortest run that still goes through every step (the test suite runs each
    benchmark so, that none can rot). Its figures mean nothing and go to results/quick/."""
    global _quick
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run that only checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        _quick = True
        for name, value in quick.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    return args


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def machine() -> dict:
    """What the figures were measured on; the runs share this machine with everything else."""
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": load,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain fixed-width text table."""
    cells = [[str(h) for h in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def write_results(name: str, data: dict) -> Path:
    """Write `bench/results/<name>.json` (git-ignored; `results/quick/` for a `--quick`
    run) and return its path."""
    where = RESULTS_DIR / "quick" if _quick else RESULTS_DIR
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2) + "\n")
    return path


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


# --- running `synctui` as a command -------------------------------------------------

SYNCTUI = Path(sys.executable).with_name("synctui")
"""The venv's console script (run_all.py and `make bench` run us with the venv's python)."""


def child_env(pycache: Path) -> dict[str, str]:
    """The environment for a `synctui` / `python` child whose start-up is measured.

    Byte-code caching on, as in any installed copy: PYTHONDONTWRITEBYTECODE is dropped
    (some shells and sandboxes set it, and then every synctui module is compiled from
    source at every start, ~25 ms), and the .pyc files go to `pycache` (a temporary
    PYTHONPYCACHEPREFIX) so that nothing is written next to the sources. The first
    start of each command fills that cache: measure only after a warm-up.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "SYNCTUI_CONFIG")}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def write_config(path: Path, text: str) -> Path:
    """A config file, chmod 600 (synctui warns about a config others can read)."""
    path.write_text(text)
    path.chmod(0o600)
    return path


# --- /proc ----------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_times(pid: int) -> dict[str, int]:
    """utime, stime, cutime, cstime (clock ticks) of /proc/<pid>/stat, all threads."""
    raw = Path(f"/proc/{pid}/stat").read_bytes()
    fields = raw[raw.rindex(b")") + 2:].split()
    # Fields 14..17 of proc(5), counted from 1 with pid and comm first.
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return {"utime": utime, "stime": stime, "cutime": cutime, "cstime": cstime,
            "threads": int(fields[17])}


def proc_status_kb(pid: int, field: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, ...)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def proc_threads(pid: int) -> dict[int, dict]:
    """Per thread: its name, on-CPU ns (schedstat, ns resolution) and context switches."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            run_ns = int((task / "schedstat").read_text().split()[0])
            switches = 0
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
        threads[int(task.name)] = {"name": name, "run_ns": run_ns, "switches": switches}
    return threads
