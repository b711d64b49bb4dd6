"""Scale: what 10, 100 and 1,000 jobs (5,000 for `check`) cost a real `synctui --headless`.

For each size, with jobs `command = ["true"]`, the script times `synctui check` (cron
jobs `* * * * *`: the fire-time computation is what grows), then starts a headless
host on interval jobs of `--interval` seconds, all anchored at its start so that each
interval is a burst of every job at once, and measures:

- start-up: from the process starting to "running headless" on its stderr;
- idle: RSS and CPU share over `--idle` seconds before the first burst;
- the first burst, from the store: dispatch lag (`started_at - scheduled_at`) p50 and
  p99, and the drain (the first fire time to the last run of the burst ended and
  recorded), against a bare loop in this process that `Popen`s the same count of `true`
  and waits for them all (what spawning alone costs here, now);
- `status` asked over the control socket every 50 ms from the idle window to the
  burst's end: its round trip p99 and max (does the burst starve the socket?);
- SIGTERM to exit;

and the largest size once more with its fire times spread over `--spread` seconds
(`jitter_seconds`): dispatch lag p50/p99, host CPU and peak RSS under that load.

Then, for each of `--console-sizes`, `console.py --jobs N` (the real console in a
pseudo-terminal): its first frame (median), idle CPU and key-to-frame p95 while a job
floods, so that what the console costs per job it is not showing is in one table.

Targets (from the issue): `check` of 1,000 cron jobs < 1 s; a burst of 1,000 drained
within 1.5x the bare loop; 1,000 jobs spread over a minute: dispatch p99 < 50 ms;
headless RSS with 1,000 jobs < 80 MB; SIGTERM to exit < 1 s; console idle CPU with 1,000
jobs < 1%.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common
from control_socket import LineClient

CHECK_TARGET_S = 1.0
DRAIN_TARGET_RATIO = 1.5
RSS_TARGET_MB = 80.0
EXIT_TARGET_S = 1.0
CONSOLE_IDLE_TARGET_PCT = 1.0
SPREAD_P99_TARGET_MS = 50.0
CONSOLE_BENCH = Path(__file__).with_name("console.py")


def config_text(state: Path, jobs: int, trigger: str) -> str:
    lines = ["[scheduler]", 'timezone = "UTC"', f'state_dir = "{state}"', ""]
    for n in range(jobs):
        lines += [f"[jobs.j{n:05d}]", 'command = ["true"]', trigger, ""]
    return "\n".join(lines)


def time_check(tmp: Path, jobs: int, env: dict, rounds: int) -> float:
    """The median wall time of `synctui check` over `jobs` minutely cron jobs."""
    path = _common.write_config(tmp / f"check-{jobs}.toml",
                                config_text(tmp / "check-state", jobs, 'cron = "* * * * *"'))
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        subprocess.run([str(_common.SYNCTUI), "check", "--config", str(path)], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - began)
    return _common.median(times)


def bare_burst(count: int) -> float:
    """Seconds to Popen `count` `true` processes and wait for them all."""
    began = time.perf_counter()
    children = [subprocess.Popen(["true"]) for _ in range(count)]
    for child in children:
        child.wait()
    return time.perf_counter() - began


def wait_for_text(path: Path, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return True
        time.sleep(0.005)
    return False


def start_host(config: Path, err: Path, env: dict) -> subprocess.Popen:
    """`synctui --headless` on `config`, its stderr to `err`, once it says it runs."""
    with err.open("wb") as stderr:
        process = subprocess.Popen(
            [str(_common.SYNCTUI), "--headless", "--no-passthrough", "--config", str(config)],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL)
    if not wait_for_text(err, "running headless", 120):
        process.kill()
        process.wait()
        raise RuntimeError(f"the host never started:\n{err.read_text()[-2000:]}")
    return process


def host(tmp: Path, jobs: int, interval: float, idle_s: float, env: dict) -> dict:
    """One headless host of `jobs` interval jobs: start-up, idle, the first burst, exit."""
    state = tmp / f"state-{jobs}"
    path = _common.write_config(tmp / f"host-{jobs}.toml",
                                config_text(state, jobs, f'interval = "{interval:g}s"'))
    err = tmp / f"host-{jobs}.err"
    began = time.perf_counter()
    process = start_host(path, err, env)
    try:
        startup_s = time.perf_counter() - began
        before = _common.proc_times(process.pid)
        window = time.monotonic()
        time.sleep(idle_s)
        after = _common.proc_times(process.pid)
        elapsed = time.monotonic() - window
        idle_cpu = ((after["utime"] + after["stime"]) - (before["utime"] + before["stime"])
                    ) / _common.CLK_TCK / elapsed
        rss_mb = _common.proc_status_kb(process.pid, "VmRSS") / 1024
        asking = Asking(Path(re.search(r"control socket at (\S+)", err.read_text())[1]))
        runs = first_burst(state / "synctui.db", jobs, timeout=interval + 120)
        burst = _common.proc_times(process.pid)
        status_ms = asking.stop()
        peak_mb = _common.proc_status_kb(process.pid, "VmHWM") / 1024
        stopping = time.perf_counter()
        process.terminate()
        process.wait(60)
        exit_s = time.perf_counter() - stopping
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lags = [lag for lag, _, _ in runs]
    first_fire = min(scheduled for _, scheduled, _ in runs)
    drain_s = max(finished for _, _, finished in runs) - first_fire
    burst_cpu_s = ((burst["utime"] + burst["stime"]) - (after["utime"] + after["stime"])
                   ) / _common.CLK_TCK
    return {"startup_s": startup_s, "idle_cpu": idle_cpu, "idle_rss_mb": rss_mb,
            "burst_cpu_s": burst_cpu_s, "status_p99_ms": _common.percentile(status_ms, 99),
            "status_max_ms": max(status_ms),
            "peak_rss_mb": peak_mb, "lag_p50_ms": _common.percentile(lags, 50) * 1e3,
            "lag_p99_ms": _common.percentile(lags, 99) * 1e3, "drain_s": drain_s,
            "exit_s": exit_s}


class Asking:
    """`status` asked over the control socket every `PACE_S` while the host works (as a
    few consoles would): whether a burst starves its control socket."""

    PACE_S = 0.05

    def __init__(self, path: Path) -> None:
        self.client = LineClient(path)
        self.times_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ask, daemon=True)
        self._thread.start()

    def _ask(self) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            took, _ = self.client.round_trip(b'{"id":%d,"op":"status"}\n' % number)
            self.times_ms.append(took)
            self._stop.wait(self.PACE_S)

    def stop(self) -> list[float]:
        """The round trips' times in ms."""
        self._stop.set()
        self._thread.join(60)
        self.client.close()
        return self.times_ms


def spread(tmp: Path, jobs: int, seconds: float, env: dict) -> dict:
    """A host of `jobs` jobs every `seconds`, each fire time moved by up to `seconds`
    (`jitter_seconds`): the first fire times spread over that long. Dispatch lag p50/p99
    of each job's first run, host CPU share and peak RSS over the spread."""
    state = tmp / f"spread-{jobs}"
    trigger = f'interval = "{seconds:g}s"\njitter_seconds = {seconds:g}'
    path = _common.write_config(tmp / f"spread-{jobs}.toml", config_text(state, jobs, trigger))
    process = start_host(path, tmp / f"spread-{jobs}.err", env)
    try:
        before, began = _common.proc_times(process.pid), time.monotonic()
        runs = first_burst(state / "synctui.db", jobs, timeout=2 * seconds + 120)
        after, elapsed = _common.proc_times(process.pid), time.monotonic() - began
        peak_mb = _common.proc_status_kb(process.pid, "VmHWM") / 1024
    finally:
        process.terminate()
        process.wait(60)
    lags = [lag for lag, _, _ in runs]
    cpu = ((after["utime"] + after["stime"]) - (before["utime"] + before["stime"])
           ) / _common.CLK_TCK / elapsed
    return {"lag_p50_ms": _common.percentile(lags, 50) * 1e3,
            "lag_p99_ms": _common.percentile(lags, 99) * 1e3, "cpu": cpu, "peak_rss_mb": peak_mb}


def first_burst(db: Path, jobs: int, timeout: float) -> list[tuple[float, float, float]]:
    """(lag, scheduled_at, finished_at) in seconds of each job's first scheduled run, once
    every job's has ended and is recorded."""
    deadline = time.monotonic() + timeout
    query = ("SELECT job, scheduled_at, started_at, finished_at FROM runs WHERE id IN"
             " (SELECT MIN(id) FROM runs WHERE trigger = 'scheduled' GROUP BY job)")
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
                rows = connection.execute(query).fetchall()
            # The store keeps instants as epoch seconds.
            if len(rows) == jobs and all(row[3] is not None for row in rows):
                return [(started - scheduled, scheduled, finished)
                        for _, scheduled, started, finished in rows]
        time.sleep(0.1)
    raise RuntimeError(f"the first burst of {jobs} jobs never all ended")


def console(jobs: int, quick: bool) -> dict:
    """`console.py --jobs N`'s first frame, idle CPU and key-to-frame p95."""
    done = subprocess.run(
        [sys.executable, str(CONSOLE_BENCH), "--jobs", str(jobs), "--results-name",
         f"scale-console-{jobs}", *(["--quick"] if quick else
                                    ["--rounds", "3", "--seconds", "10", "--presses", "20"])],
        capture_output=True, text=True, check=True)
    out = json.loads(Path(done.stdout.rsplit("results: ", 1)[1].strip()).read_text())
    return {"first_frame_ms": out["first_frame"]["summary"]["console_table_ms"],
            "idle_cpu_pct": out["idle"]["results"]["console"]["cpu_pct"],
            "key_p95_ms": out["flood"]["summary"]["frame_p95_ms"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000],
                        help="job counts of the headless host (default 10 100 1000)")
    parser.add_argument("--check-sizes", type=int, nargs="+", default=[10, 100, 1000, 5000],
                        help="job counts for `check` (default 10 100 1000 5000)")
    parser.add_argument("--check-rounds", type=int, default=3, help="`check` runs per size (3)")
    parser.add_argument("--interval", type=float, default=5.0,
                        help="the jobs' interval, so the first burst's time (default 5 s)")
    parser.add_argument("--idle", type=float, default=2.0, help="idle window in s (default 2)")
    parser.add_argument("--spread", type=float, default=60.0,
                        help="the largest size again, its fire times spread over this many"
                             " seconds (default 60; 0: not measured)")
    parser.add_argument("--console-sizes", type=int, nargs="*", default=[10, 100, 1000],
                        help="job counts of the console (default 10 100 1000)")
    args = _common.parse(parser, sizes=[10], check_sizes=[10], check_rounds=1, interval=2.0,
                         idle=0.5, spread=2.0, console_sizes=[10])
    with tempfile.TemporaryDirectory(prefix="synctui-bench-scale-") as tmp_name:
        tmp = Path(tmp_name)
        env = _common.child_env(tmp / "pycache")
        time_check(tmp, 1, env, 1)  # fills the byte-code cache
        checks = {jobs: time_check(tmp, jobs, env, args.check_rounds) for jobs in args.check_sizes}
        hosts = {}
        for jobs in args.sizes:
            measured = host(tmp, jobs, args.interval, args.idle, env)
            measured["bare_s"] = bare_burst(jobs)
            hosts[jobs] = measured
        spread_run = spread(tmp, max(args.sizes), args.spread, env) if args.spread else None
    consoles = {jobs: console(jobs, args.quick) for jobs in args.console_sizes}
    print(f"scale: {_common.machine()['cpus']} CPUs, jobs `true`, interval {args.interval:g}s")
    print(_common.table(("jobs", "check s"), [(jobs, s) for jobs, s in checks.items()]))
    print()
    print(_common.table(
        ("jobs", "start s", "idle CPU %", "idle RSS MB", "peak RSS MB", "lag p50 ms",
         "lag p99 ms", "drain s", "bare s", "drain/bare", "burst CPU s", "status p99 ms",
         "status max ms", "exit s"),
        [(jobs, m["startup_s"], m["idle_cpu"] * 100, m["idle_rss_mb"], m["peak_rss_mb"],
          m["lag_p50_ms"], m["lag_p99_ms"], m["drain_s"], m["bare_s"],
          m["drain_s"] / m["bare_s"], m["burst_cpu_s"], m["status_p99_ms"], m["status_max_ms"],
          m["exit_s"]) for jobs, m in hosts.items()]))
    if spread_run is not None:
        print(f"spread: {max(args.sizes)} jobs over {args.spread:g}s: lag p50"
              f" {spread_run['lag_p50_ms']:.1f} ms, p99 {spread_run['lag_p99_ms']:.1f} ms; host"
              f" CPU {spread_run['cpu'] * 100:.1f}%, peak RSS {spread_run['peak_rss_mb']:.1f} MB")
    if consoles:
        print()
        print(_common.table(("console jobs", "first frame ms", "idle CPU %", "key p95 ms"),
                            [(jobs, m["first_frame_ms"], m["idle_cpu_pct"], m["key_p95_ms"])
                             for jobs, m in consoles.items()]))
    largest = max(hosts)
    big = hosts[largest]
    check_big = checks.get(1000)
    if check_big is not None:
        print(f"target: check of 1,000 cron jobs < {CHECK_TARGET_S:g} s: {check_big:.2f} s ->"
              f" {_common.verdict(check_big < CHECK_TARGET_S)}")
    ratio = big["drain_s"] / big["bare_s"]
    print(f"target: a burst of {largest} drained within {DRAIN_TARGET_RATIO}x the bare loop:"
          f" {ratio:.2f}x -> {_common.verdict(ratio <= DRAIN_TARGET_RATIO)}")
    print(f"target: headless RSS with {largest} jobs < {RSS_TARGET_MB:g} MB:"
          f" {big['peak_rss_mb']:.1f} MB -> {_common.verdict(big['peak_rss_mb'] < RSS_TARGET_MB)}")
    print(f"target: SIGTERM to exit < {EXIT_TARGET_S:g} s: {big['exit_s']:.2f} s ->"
          f" {_common.verdict(big['exit_s'] < EXIT_TARGET_S)}")
    if spread_run is not None:
        p99 = spread_run["lag_p99_ms"]
        print(f"target: {largest} jobs spread over {args.spread:g}s, dispatch p99 <"
              f" {SPREAD_P99_TARGET_MS:g} ms: {p99:.1f} ms ->"
              f" {_common.verdict(p99 < SPREAD_P99_TARGET_MS)}")
    if consoles:
        most = max(consoles)
        idle = consoles[most]["idle_cpu_pct"]
        print(f"target: console idle CPU with {most} jobs < {CONSOLE_IDLE_TARGET_PCT:g}%:"
              f" {idle:.2f}% -> {_common.verdict(idle < CONSOLE_IDLE_TARGET_PCT)}")
    path = _common.write_results("scale", {"interval_s": args.interval, "check_s": checks,
                                           "hosts": hosts, "spread": spread_run,
                                           "consoles": consoles})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
