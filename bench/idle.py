"""Idle cost: `synctui --headless` with 8 jobs that do not fire, against a bare shell loop.

The host is a real `synctui --headless --config CFG` process (text log on stderr,
output passthrough on, as deployed) with 8 jobs, each `true` every hour: nothing fires
during the measurement. Next to it, in the same run and over the same window, a bare
`sh -c 'while sleep 1; do :; done'` -- the cheapest thing that wakes once a second.

After the host has started (its "running headless" log line) and --settle seconds more,
both processes are sampled once a second for --seconds (default 30):

  CPU%   (utime + stime) delta of /proc/<pid>/stat (all threads) / CLK_TCK / wall time,
         as a percentage of one CPU. Clock ticks are 10 ms (CLK_TCK=100), so over 30 s
         the resolution is 0.033 %. For the shell, its waited-for children (the `sleep`
         processes: cutime + cstime) are shown as well. A second figure with ns resolution
         sums the first field of /proc/<pid>/task/*/schedstat (on-CPU time per thread).
  RSS    VmRSS of /proc/<pid>/status, at the end of the window (and its max over the
         window, and VmHWM, the peak since the process started).
  wake-ups/s  context switches (voluntary + involuntary) of all threads per second: how
         often the process leaves the CPU, i.e. roughly how often it wakes up.

At the end, for the host, the time and wake-ups of each thread, named by `py-spy dump`
when py-spy is installed (it is not a dependency; `pip install py-spy`).

Targets (from the issue): idle CPU < 0.2 %; RSS < 45 MB.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common

TARGET_CPU_PCT = 0.2
TARGET_RSS_MB = 45.0
JOBS = ("orders", "inventory", "customers", "prices", "images", "search-index", "reports",
        "backups")
SHELL_LOOP = "while sleep 1; do :; done"

CONFIG_HEAD = """\
[scheduler]
state_dir = "{state}"
"""
CONFIG_JOB = """
[jobs.{name}]
command = ["true"]
interval = "1h"
"""


def config_text(state: Path) -> str:
    return CONFIG_HEAD.format(state=state) + "".join(CONFIG_JOB.format(name=n) for n in JOBS)


def sample(pid: int) -> dict:
    times = _common.proc_times(pid)
    threads = _common.proc_threads(pid)
    return {
        "t": time.monotonic(), **times,
        "run_ns": sum(t["run_ns"] for t in threads.values()),
        "switches": sum(t["switches"] for t in threads.values()),
        "rss_kb": _common.proc_status_kb(pid, "VmRSS"),
        "threads_detail": threads,
    }


def usage(first: dict, last: dict, samples: list[dict], pid: int) -> dict:
    wall = last["t"] - first["t"]
    ticks = (last["utime"] + last["stime"]) - (first["utime"] + first["stime"])
    child_ticks = (last["cutime"] + last["cstime"]) - (first["cutime"] + first["cstime"])
    return {
        "wall_s": wall,
        "cpu_ticks": ticks,
        "cpu_pct": 100 * ticks / _common.CLK_TCK / wall,
        "cpu_pct_with_children": 100 * (ticks + child_ticks) / _common.CLK_TCK / wall,
        "cpu_pct_schedstat": 100 * (last["run_ns"] - first["run_ns"]) / 1e9 / wall,
        "wakeups_per_s": (last["switches"] - first["switches"]) / wall,
        "rss_mb": last["rss_kb"] / 1024,
        "rss_max_mb": max(s["rss_kb"] for s in samples) / 1024,
        "vmhwm_mb": _common.proc_status_kb(pid, "VmHWM") / 1024,
        "threads": last["threads"],
    }


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by native id, from `py-spy dump` (empty if it cannot)."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        py_spy = shutil.which("py-spy")
    if not py_spy:
        return {}
    try:
        dump = subprocess.run([str(py_spy), "dump", "--pid", str(pid)], capture_output=True,
                              text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {int(tid, 0): name for tid, name in
            re.findall(r'^Thread (0x[0-9A-Fa-f]+|\d+) \([^)]*\): "([^"]*)"', dump, re.M)}


def children(pid: int) -> list[int]:
    """The pids of the process's children (of all its threads)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class RssSampler(threading.Thread):
    """VmRSS of a process every `every` seconds, stamped, until `stop` is set."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        super().__init__(daemon=True, name="rss")
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append((time.monotonic(), _common.proc_status_kb(self.pid, "VmRSS")))
            except (OSError, KeyError):
                return
            self.stop.wait(self.every)


def wait_started(process: subprocess.Popen, log: Path, limit_s: float = 30) -> float:
    began = time.monotonic()
    while time.monotonic() - began < limit_s:
        if process.poll() is not None:
            raise RuntimeError(f"synctui --headless exited {process.returncode}:\n{log.read_text()}")
        if "running headless" in log.read_text():
            return time.monotonic() - began
        time.sleep(0.05)
    raise RuntimeError(f"synctui --headless did not start within {limit_s}s:\n{log.read_text()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window (default 30)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds after start-up before the window opens (default 3)")
    args = _common.parse(parser, seconds=1.0, settle=0.5)

    with tempfile.TemporaryDirectory(prefix="synctui-bench-idle-") as name:
        tmp = Path(name)
        env = _common.child_env(tmp / "pycache")
        config = _common.write_config(tmp / "synctui.toml", config_text(tmp / "state"))
        command = [str(_common.SYNCTUI), "--headless", "--config", str(config)]
        # A first start fills the byte-code cache, as an installed copy would have it.
        with (tmp / "warm.err").open("wb") as err:
            warm = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        wait_started(warm, tmp / "warm.err")
        warm.send_signal(signal.SIGTERM)
        warm.wait(timeout=30)

        with (tmp / "host.err").open("wb") as err:
            host = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        shell = subprocess.Popen(["/bin/sh", "-c", SHELL_LOOP])
        try:
            startup_s = wait_started(host, tmp / "host.err")
            time.sleep(args.settle)
            series = {"synctui": [], "shell": []}
            pids = {"synctui": host.pid, "shell": shell.pid}
            deadline = time.monotonic() + args.seconds
            while True:
                for who, pid in pids.items():
                    series[who].append(sample(pid))
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
            results = {who: usage(s[0], s[-1], s, pids[who]) for who, s in series.items()}
            names = thread_names(host.pid)
            first, last = series["synctui"][0]["threads_detail"], series["synctui"][-1]["threads_detail"]
            wall = results["synctui"]["wall_s"]
            per_thread = [
                {"tid": tid, "name": names.get(tid, last[tid]["name"]),
                 "cpu_ms": (last[tid]["run_ns"] - first.get(tid, {"run_ns": 0})["run_ns"]) / 1e6,
                 "wakeups_per_s": (last[tid]["switches"] - first.get(tid, {"switches": 0})["switches"]) / wall}
                for tid in sorted(last)
            ]
        finally:
            shell.kill()
            shell.wait()
            if host.poll() is None:
                host.send_signal(signal.SIGTERM)
            host.wait(timeout=30)
        log_lines = (tmp / "host.err").read_text().splitlines()

    s, b = results["synctui"], results["shell"]
    print(f"idle: synctui --headless (8 jobs, every 1h, nothing fires) vs `sh -c '{SHELL_LOOP}'`,"
          f" {s['wall_s']:.1f}s window after {startup_s:.2f}s start-up + {args.settle:g}s"
          f" ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
    print(_common.table(
        ["process", "CPU % (ticks)", "ticks", "CPU % +children", "CPU % (schedstat)",
         "wake-ups/s", "RSS MB", "RSS max MB", "VmHWM MB", "threads"],
        [[who, r["cpu_pct"], r["cpu_ticks"], r["cpu_pct_with_children"], r["cpu_pct_schedstat"],
          r["wakeups_per_s"], r["rss_mb"], r["rss_max_mb"], r["vmhwm_mb"], r["threads"]]
         for who, r in results.items()],
    ))
    print()
    print("synctui's threads over the window:")
    print(_common.table(["thread", "tid", "CPU ms", "wake-ups/s"],
                        [[t["name"], t["tid"], t["cpu_ms"], t["wakeups_per_s"]] for t in per_thread]))
    cpu_met = s["cpu_pct"] < TARGET_CPU_PCT
    rss_met = s["rss_mb"] < TARGET_RSS_MB
    print(f"\nCPU: synctui {s['cpu_pct']:.3f}% ({s['cpu_pct_schedstat']:.4f}% by schedstat) vs shell"
          f" {b['cpu_pct']:.3f}% ({b['cpu_pct_with_children']:.3f}% with its sleeps,"
          f" {b['cpu_pct_schedstat']:.4f}% by schedstat)")
    print(f"target: idle CPU < {TARGET_CPU_PCT:g}%: {s['cpu_pct']:.3f}% -> {_common.verdict(cpu_met)}")
    print(f"target: RSS < {TARGET_RSS_MB:g} MB: {s['rss_mb']:.1f} MB -> {_common.verdict(rss_met)}"
          f" (shell {b['rss_mb']:.1f} MB)")
    print(f"host log lines during the whole run: {len(log_lines)}")
    path = _common.write_results("idle", {
        "seconds": args.seconds, "settle_s": args.settle, "startup_s": startup_s,
        "jobs": list(JOBS), "shell_loop": SHELL_LOOP, "clk_tck": _common.CLK_TCK,
        "results": results, "threads": per_thread, "host_log": log_lines,
        "targets": {"cpu_pct_max": TARGET_CPU_PCT, "rss_mb_max": TARGET_RSS_MB,
                    "cpu_met": cpu_met, "rss_met": rss_met},
        "series": {who: [{k: v for k, v in x.items() if k != "threads_detail"} for x in ser]
                   for who, ser in series.items()},
    })
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
