"""Start-up speed of the command line: `synctui --version`, `status`, `history`, `health`.

Every command is a fresh process timed from `subprocess.run` to its exit with
perf_counter (output to /dev/null), against `python -c pass` with the same venv python
(same site-packages, so the same `.pth` start-up work, the editable install's finder
included). The arms are interleaved in a random order each round, --rounds rounds after
--warmup unrecorded ones (the warm-up also fills the byte-code cache, see
`_common.child_env`); medians are quoted.

  python        .venv/bin/python -c pass                      (the baseline)
  python -S     .venv/bin/python -S -c pass                   (reference: no site at all)
  --version     .venv/bin/synctui --version
  status        synctui --config small.toml status            (8 jobs, 5 runs each)
  status 1M     synctui --config big.toml status              (8 jobs, 1,000,000 runs)
  history 1M    synctui --config big.toml history             (the newest 20 runs)
  health 1M     synctui --config big.toml health              (exit 1 if a job is down: fine)

Both configs are the same 8 jobs (intervals 1 min to 1 h, `timezone` not set, as
`synctui init` writes it). The small store is written through `Store`'s own methods.
The big one is created by `Store(state_dir)` (schema), then 1,000,000 runs go straight
into `runs` with one `executemany`: each job gets runs in proportion to its frequency
over ~11 months, in time order, with realistic columns (trigger, result mix of success,
failure, timeout, skipped, cancelled, interrupted; exit code, signal, error text,
durations, log path and size, process session, boot id, host pid), then `job_state`
(last success) and the `schedule` rows a stopped host leaves. No log files are written
(none of these commands reads them). Such a store needs keep_runs >= 125,000 per job:
with the default 1000 the scheduler would trim it at the next run of each job.

With --explain (default on), where the time goes: each command's phases timed inside
fresh processes (median of --explain-runs), and `python -X importtime` of `--version`
and `status` (median per module, heaviest first).

Targets (from the issue): `--version` <= 1.3x bare python; `status` <= 2x;
`status` with 1M runs < 150 ms.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import _common

TARGET_VERSION_RATIO = 1.3
TARGET_STATUS_RATIO = 2.0
TARGET_STATUS_1M_MS = 150.0
BIG_RUNS = 1_000_000

# name, interval (s), typical duration (s)
JOBS = (
    ("orders", 60, 4.0), ("inventory", 120, 9.0), ("customers", 300, 20.0),
    ("prices", 300, 6.0), ("images", 600, 45.0), ("search-index", 900, 70.0),
    ("reports", 1800, 30.0), ("backups", 3600, 240.0),
)


def interval_text(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


def config_text(state: Path) -> str:
    text = f'[scheduler]\nstate_dir = "{state}"\nkeep_runs = 200000\n'
    for name, interval, _ in JOBS:
        text += (f'\n[jobs.{name}]\ncommand = ["sh", "-c", "echo syncing {name}"]\n'
                 f'interval = "{interval_text(interval)}"\ntimeout_seconds = 600\nretries = 1\n')
    return text


# --- the stores -----------------------------------------------------------------------

def last_fires(now: datetime) -> dict:
    """Each job's fire times as a host that stopped a moment ago would have left them."""
    from synctui.scheduler.records import Fires

    fires = {}
    for name, interval, _ in JOBS:
        last = now - timedelta(seconds=5)
        fires[name] = Fires(next=last + timedelta(seconds=interval), last=last,
                            before_last=last - timedelta(seconds=interval))
    return fires


def small_store(state: Path, per_job: int = 5) -> None:
    """A few runs per job, through the store's own methods."""
    from synctui.scheduler.records import Result, Trigger
    from synctui.scheduler.store import Store

    store = Store(state)
    now = datetime.now(timezone.utc)
    for n in range(per_job):
        for name, interval, duration in JOBS:
            scheduled = now - timedelta(seconds=interval * (per_job - n))
            run = store.begin_run(name, Trigger.SCHEDULED, scheduled,
                                  scheduled + timedelta(milliseconds=3), host=(4242, 1234567))
            store.set_process(run.id, 50000 + run.id, 1234600 + run.id, "boot",
                              scheduled + timedelta(milliseconds=3))
            failed = n == 2 and name == "images"
            store.finish_run(run.id, Result.FAILURE if failed else Result.SUCCESS,
                             scheduled + timedelta(seconds=duration), duration,
                             exit_code=1 if failed else 0,
                             error="exit status 1: upstream returned 502" if failed else None,
                             log_bytes=1800)
    store.heartbeat(0, now, False, last_fires(now))  # no host row: only the fire times stay
    store.close()


def big_rows(state: Path, total: int, end: float, seed: int = 7):
    """`total` realistic runs over 8 jobs, in time order (ids follow time)."""
    rng = random.Random(seed)
    weights = [1 / interval for _, interval, _ in JOBS]
    counts = [int(total * w / sum(weights)) for w in weights]
    counts[0] += total - sum(counts)
    boot = str(uuid.UUID(int=rng.getrandbits(128)))

    def job_times(index: int):
        name, interval, _ = JOBS[index]
        first = end - counts[index] * interval
        for k in range(counts[index]):
            yield first + k * interval, index

    logs = state / "logs"
    host_pid, host_start = 4242, 1_234_567
    for run_id, (scheduled, index) in enumerate(heapq.merge(*map(job_times, range(len(JOBS)))), 1):
        name, interval, typical = JOBS[index]
        if run_id % 40_000 == 0:  # the host restarts now and then
            host_pid, host_start = rng.randrange(1000, 4_000_000), host_start + rng.randrange(10**6)
        draw = rng.random()
        trigger, attempt = "scheduled", 1
        if draw < 0.015:
            trigger = "manual"
        elif draw < 0.02:
            trigger, attempt = "retry", 2
        elif draw < 0.022:
            trigger = "catch-up"
        started = scheduled + rng.uniform(0.002, 0.006)
        duration = typical * rng.lognormvariate(0, 0.35)
        outcome = rng.random()
        exit_code, signal_name, error, skip_count = 0, None, None, 0
        result = "success"
        if outcome < 0.04:
            result, exit_code = "failure", rng.choice((1, 1, 1, 2, 75))
            error = f"exit status {exit_code}: " + rng.choice((
                "upstream returned 502 Bad Gateway", "connection reset by peer",
                "psycopg.OperationalError: server closed the connection unexpectedly",
                "rate limited (429), retry after 60s"))
        elif outcome < 0.05:
            result, exit_code, signal_name = "timeout", None, "SIGTERM"
            error, duration = "timed out after 600s", 600.0 + rng.uniform(0, 0.2)
        elif outcome < 0.06:
            result, skip_count = "skipped", rng.choice((1, 1, 1, 2, 3))
        elif outcome < 0.065:
            result, exit_code, signal_name = "cancelled", None, "SIGTERM"
            error, duration = "cancelled by the operator", duration * rng.random()
        elif outcome < 0.067:
            result, exit_code = "interrupted", None
            error = f"the scheduler (pid {host_pid}) died while it ran"
            duration = None
        if result == "skipped":
            yield (run_id, name, "scheduled", result, 1, scheduled, started, started, 0.0,
                   None, None, None, None, 0, skip_count, None, None, None, None, None)
            continue
        finished = started + (duration if duration is not None else typical)
        session = rng.randrange(1000, 4_000_000)
        yield (run_id, name, trigger, result, attempt, scheduled, started, finished, duration,
               exit_code, signal_name, error, str(logs / name / f"{run_id}.log"),
               rng.randrange(200, 400_000), 0, session, host_start + rng.randrange(10**7),
               boot, host_pid, host_start)


def big_store(state: Path, total: int) -> dict:
    """Create the store with `Store`, then insert `total` runs directly."""
    from synctui.scheduler.store import Store

    began = time.perf_counter()
    Store(state).close()
    now = datetime.now(timezone.utc)
    db = sqlite3.connect(state / "synctui.db", isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO runs (id, job, trigger, result, attempt, scheduled_at, started_at,"
        " finished_at, duration_s, exit_code, signal, error, log_path, log_bytes, skip_count,"
        " session, leader_start, boot_id, host_pid, host_start)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        big_rows(state, total, now.timestamp() - 5))
    db.execute("INSERT INTO job_state (job, last_success_started_at)"
               " SELECT job, max(started_at) FROM runs WHERE result = 'success' GROUP BY job")
    db.execute("COMMIT")
    count, jobs = db.execute("SELECT count(*), count(DISTINCT job) FROM runs").fetchone()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    store = Store(state)
    store.heartbeat(0, now, False, last_fires(now))
    store.close()
    if count != total or jobs != len(JOBS):
        raise RuntimeError(f"the big store holds {count} runs of {jobs} jobs")
    return {"runs": count, "seconds": time.perf_counter() - began,
            "db_mb": (state / "synctui.db").stat().st_size / 2**20}


# --- timing -----------------------------------------------------------------------------

def timed(argv: list[str], env: dict) -> tuple[float, int]:
    began = time.perf_counter()
    status = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env).returncode
    return (time.perf_counter() - began) * 1e3, status


# In a fresh process: each phase of a command, timed with perf_counter (ms).
PHASES = r"""
import io, sys, time
clock = time.perf_counter
marks = [("start", clock())]
def mark(name): marks.append((name, clock()))
argv = sys.argv[1:]
import synctui.cli as cli; mark("import synctui.cli (argparse)")
parser = cli._parser(); mark("build the parser")
out, sys.stdout = sys.stdout, io.StringIO()
try:
    args = parser.parse_args(argv); mark("parse the arguments (imports the command's module)")
except SystemExit:
    mark("parse + print --version (argparse formatter)")
    args = None
if args is not None:
    from synctui.commands import history, reaching, status; mark("import the status and history commands")
    from synctui.config import local_zone
    local_zone(); mark("tzlocal: the machine's zone (config sets none)")
    config = reaching.load(args); mark("load the config (TOML, validation)")
    store = reaching.open_store(config.scheduler.state_dir); mark("open the store")
    if args.command == "history":
        runs = store.runs(reaching.known_job(config, args.job), limit=args.limit); mark("read runs")
        history.history(args); mark("history() again, whole (cached imports)")
    else:
        from synctui.scheduler.status import stored_snapshot
        snapshot = stored_snapshot(store, config); mark("stored_snapshot")
        text = status.table(snapshot, config); mark("render")
sys.stdout = out
import json
print(json.dumps([(name, (t - marks[i][1]) * 1e3) for i, (name, t) in enumerate(marks[1:])]))
"""


def phases(argv: list[str], env: dict, runs: int) -> list[tuple[str, float]]:
    samples = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", PHASES, *argv], env=env,
                              stdout=subprocess.PIPE, text=True, check=True)
        samples.append(json.loads(done.stdout))
    return [(name, _common.median([s[i][1] for s in samples]))
            for i, (name, _) in enumerate(samples[0])]


# In a fresh process: what `import synctui.commands` is made of. Each group is imported
# after the ones above it, so a module's figure leaves out what an earlier one loaded;
# the synctui modules come last, so theirs is their own body (dataclasses, enums, regexes).
IMPORT_GROUPS = (
    ("argparse", "argparse"), ("json", "json"), ("logging", "logging"),
    ("dataclasses", "dataclasses"), ("typing", "typing"), ("datetime", "datetime"),
    ("tomllib", "tomllib"), ("zoneinfo", "zoneinfo"), ("fractions", "fractions"),
    ("difflib", "difflib"), ("sqlite3", "sqlite3"), ("shutil", "shutil"), ("signal", "signal"),
    ("pwd", "pwd"), ("synctui.cli", "synctui.cli"),
    ("synctui.config (model, crontab, durations, loading)", "synctui.config"),
    ("synctui.scheduler (package)", "synctui.scheduler"),
    ("synctui.scheduler.records", "synctui.scheduler.records"),
    ("synctui.scheduler.processes", "synctui.scheduler.processes"),
    ("synctui.scheduler.store", "synctui.scheduler.store"),
    ("synctui.scheduler.status", "synctui.scheduler.status"),
    ("synctui.commands (the list of subcommands)", "synctui.commands"),
    ("synctui.commands.reaching", "synctui.commands.reaching"),
    ("synctui.commands.status", "synctui.commands.status"),
)
IMPORTS = r"""
import sys, time
clock = time.perf_counter
done = []
for label, module in GROUPS:
    began = clock()
    __import__(module)
    done.append((label, (clock() - began) * 1e3))
import json
print(json.dumps(done))
"""


def import_groups(env: dict, runs: int) -> list[tuple[str, float]]:
    code = f"GROUPS = {IMPORT_GROUPS!r}\n{IMPORTS}"
    samples = [json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                         stdout=subprocess.PIPE, text=True).stdout)
               for _ in range(runs)]
    return [(label, _common.median([s[i][1] for s in samples]))
            for i, (label, _) in enumerate(samples[0])]


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def importtime(argv: list[str], env: dict, runs: int) -> dict[str, dict]:
    """Median self / cumulative µs and nesting depth per module over `runs` processes."""
    seen: dict[str, dict] = {}
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for self_us, cumulative_us, indent, name in IMPORT_LINE.findall(done.stderr):
            entry = seen.setdefault(name, {"self": [], "cumulative": [], "depth": len(indent) // 2})
            entry["self"].append(int(self_us))
            entry["cumulative"].append(int(cumulative_us))
    return {name: {"self_us": _common.median(e["self"]), "cumulative_us": _common.median(e["cumulative"]),
                   "depth": e["depth"]} for name, e in seen.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="measured rounds (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="unrecorded rounds first (default 3)")
    parser.add_argument("--runs", type=int, default=BIG_RUNS, help="runs in the big store (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-round order")
    parser.add_argument("--no-explain", dest="explain", action="store_false",
                        help="skip the phase timings and the importtime breakdown")
    parser.add_argument("--explain-runs", type=int, default=9, help="processes per breakdown (default 9)")
    args = _common.parse(parser, rounds=1, warmup=1, runs=2_000, explain=False)

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="synctui-bench-cli-") as name:
        tmp = Path(name)
        env = _common.child_env(tmp / "pycache")
        small = _common.write_config(tmp / "small.toml", config_text(tmp / "small-state"))
        big = _common.write_config(tmp / "big.toml", config_text(tmp / "big-state"))
        small_store(tmp / "small-state")
        built = big_store(tmp / "big-state", args.runs)
        print(f"big store: {built['runs']:,} runs written in {built['seconds']:.1f}s,"
              f" {built['db_mb']:.0f} MB", flush=True)

        python, synctui = sys.executable, str(_common.SYNCTUI)
        arms = {
            "python -c pass": [python, "-c", "pass"],
            "python -S -c pass": [python, "-S", "-c", "pass"],
            "synctui --version": [synctui, "--version"],
            "status": [synctui, "--config", str(small), "status"],
            "status 1M": [synctui, "--config", str(big), "status"],
            "history 1M": [synctui, "--config", str(big), "history"],
            "health 1M": [synctui, "--config", str(big), "health"],
        }
        for arm, argv in arms.items():  # each must work, and say so on stdout
            done = subprocess.run(argv, capture_output=True, text=True, env=env)
            if done.returncode not in ((0, 1) if arm.startswith("health") else (0,)) or \
                    "Traceback" in done.stderr:
                raise RuntimeError(f"{arm}: exit {done.returncode}\n{done.stderr[-2000:]}")
        times: dict[str, list[float]] = {arm: [] for arm in arms}
        began = time.monotonic()
        for n in range(args.warmup + args.rounds):
            order = list(arms)
            rng.shuffle(order)
            for arm in order:
                elapsed, _ = timed(arms[arm], env)
                if n >= args.warmup:
                    times[arm].append(elapsed)
        elapsed_s = time.monotonic() - began

        explained = {}
        if args.explain:
            for arm in ("synctui --version", "status", "status 1M", "history 1M"):
                explained[arm] = phases(arms[arm][1:], env, args.explain_runs)
            imports = {arm: importtime(arms[arm], env, args.explain_runs)
                       for arm in ("python -c pass", "synctui --version", "status")}
            groups = import_groups(env, args.explain_runs)

    base = _common.median(times["python -c pass"])
    summary = {arm: {"median_ms": _common.median(v), "p90_ms": _common.percentile(v, 90),
                     "min_ms": min(v), "ratio_to_python": _common.median(v) / base}
               for arm, v in times.items()}
    verdicts = {
        "version_ratio": summary["synctui --version"]["ratio_to_python"] <= TARGET_VERSION_RATIO,
        "status_ratio": summary["status"]["ratio_to_python"] <= TARGET_STATUS_RATIO,
        "status_1m_ms": summary["status 1M"]["median_ms"] < TARGET_STATUS_1M_MS,
    }
    targets = {"synctui --version": f"<= {TARGET_VERSION_RATIO}x python",
               "status": f"<= {TARGET_STATUS_RATIO:g}x python",
               "status 1M": f"< {TARGET_STATUS_1M_MS:g} ms"}
    print(f"cli speed: wall time of a fresh process, median of {args.rounds} interleaved rounds"
          f" ({elapsed_s:.1f}s, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
    print(_common.table(
        ["command", "median ms", "p90 ms", "min ms", "x python", "target"],
        [[arm, s["median_ms"], s["p90_ms"], s["min_ms"], s["ratio_to_python"], targets.get(arm, "")]
         for arm, s in summary.items()],
    ))
    print(f"target: --version <= {TARGET_VERSION_RATIO}x python -c pass:"
          f" {summary['synctui --version']['ratio_to_python']:.2f}x -> {_common.verdict(verdicts['version_ratio'])}")
    print(f"target: status <= {TARGET_STATUS_RATIO:g}x python -c pass:"
          f" {summary['status']['ratio_to_python']:.2f}x -> {_common.verdict(verdicts['status_ratio'])}")
    print(f"target: status with {args.runs:,} runs < {TARGET_STATUS_1M_MS:g} ms:"
          f" {summary['status 1M']['median_ms']:.1f} ms -> {_common.verdict(verdicts['status_1m_ms'])}")

    if explained:
        print(f"\nwhere the time goes, inside the process (median of {args.explain_runs}, ms;"
              " before these: the interpreter and site, i.e. `python -c pass`):")
        for arm, rows in explained.items():
            print(f"{arm}: " + ", ".join(f"{phase} {ms:.1f}" for phase, ms in rows)
                  + f"; total {sum(ms for _, ms in rows):.1f}")
        print(f"\nimport synctui.commands (what status, history, health load), by parts, each after"
              f" the ones before it (median of {args.explain_runs}, ms):")
        stdlib = sum(ms for label, ms in groups if not label.startswith("synctui"))
        print(", ".join(f"{label} {ms:.1f}" for label, ms in groups)
              + f"; standard library {stdlib:.1f}, synctui's own modules"
              f" {sum(ms for _, ms in groups) - stdlib:.1f}")
        print(f"\n`python -X importtime`, median of {args.explain_runs} (µs, inflated by the"
              " measuring itself; heaviest top-level imports):")
        for arm, table in imports.items():
            top = sorted(((n, e) for n, e in table.items() if e["depth"] == 0),
                         key=lambda item: -item[1]["cumulative_us"])[:8]
            print(f"{arm}: " + ", ".join(f"{n} {e['cumulative_us']:.0f}" for n, e in top))
        mine = sorted(((n, e) for n, e in imports["status"].items() if n.startswith("synctui")),
                      key=lambda item: -item[1]["self_us"])
        print("status, synctui modules' own time (self µs): "
              + ", ".join(f"{n} {e['self_us']:.0f}" for n, e in mine))
    path = _common.write_results("cli_speed", {
        "rounds": args.rounds, "warmup": args.warmup, "seed": args.seed, "elapsed_s": elapsed_s,
        "big_store": built, "arms": arms, "summary": summary,
        "targets": {"version_ratio_max": TARGET_VERSION_RATIO, "status_ratio_max": TARGET_STATUS_RATIO,
                    "status_1m_ms_max": TARGET_STATUS_1M_MS, "met": verdicts},
        "phases_ms": explained, "importtime_us": imports if explained else None,
        "import_groups_ms": groups if explained else None,
        "samples_ms": times,
    })
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
