"""Output capture rate and memory: a job printing 1,000,000 lines, through the runner.

Each repeat runs the generator twice, back to back:

  /dev/null     bare subprocess.Popen(cmd, stdout=DEVNULL): the child's own speed, the
                ceiling no capture can beat.
  runner        Runner.start(...) .wait(): read from the pipe 64 KiB at a time, written
                to the run's log file, split into lines, published as OutputLines events.

lines/s = lines / (wall time from the call to the process (or run) being finished);
the figure is the median of --repeat repeats. The runner's run must end `success` with
every byte in its log, and the drained subscriber must have received exactly every line,
or the script fails.

Memory: each scenario runs in a fresh worker process (so one scenario's heap does not
flatter the next). A thread samples VmRSS from /proc/self/status every 10 ms; VmHWM is
reset (/proc/self/clear_refs = 5) before each repeat and read after, so a peak between
samples is not missed. Reported: RSS before the first repeat, the peak during any repeat,
RSS after the last run (subscriptions still attached), and after closing them + gc.

Scenarios:
  drained          one subscriber, drained by a thread like a console would
                   (Subscription.get(timeout) in a loop, counting lines)
  drained+unread   the same, plus a second subscriber that is never read (a console
                   that hung, or was detached without unsubscribing); a fresh one per
                   repeat, closed after the run

Generators (--generator): `seq` (default: `seq 1 N`), `yes` (`yes line | head -n N`,
via sh -c), `python` (`python -c` writelines; with the runner's PYTHONUNBUFFERED=1 this
child manages only ~1.5M lines/s on its own, below the 2M target, so it would measure
the child, not the capture -- its /dev/null speed is printed to show that).

Targets (from the issue): capture >= 2M lines/s; RSS growth < 20 MB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import _common

TARGET_LINES_PER_S = 2_000_000
TARGET_RSS_GROWTH_MB = 20.0
SCENARIOS = ("drained", "drained+unread")


def generator(name: str, lines: int) -> tuple[str, ...] | str:
    if name == "seq":
        return (shutil.which("seq") or "seq", "1", str(lines))
    if name == "yes":
        return f"yes line | head -n {lines}"
    if name == "python":
        return (sys.executable, "-c",
                f"import sys; sys.stdout.writelines(f'line {{i}}\\n' for i in range({lines}))")
    raise ValueError(name)


def argv_of(command: tuple[str, ...] | str) -> list[str]:
    return ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)


def devnull_run(command, env: dict[str, str]) -> float:
    """Seconds for the bare child with its output thrown away."""
    began = time.perf_counter()
    process = subprocess.Popen(argv_of(command), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, env=env)
    if process.wait() != 0:
        raise RuntimeError(f"{command!r} failed")
    return time.perf_counter() - began


def output_size(command) -> tuple[int, int]:
    """(lines, bytes) the command prints, counted once through a plain pipe."""
    data = subprocess.run(argv_of(command), stdout=subprocess.PIPE, check=True).stdout
    return data.count(b"\n"), len(data)


# --- memory -------------------------------------------------------------------------

def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """VmRSS every `interval` seconds; `peak()` since the last `reset()`."""

    def __init__(self, interval: float = 0.01) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval = interval
        self._peak = 0
        self._halt = threading.Event()
        self.samples = 0

    def run(self) -> None:
        while not self._halt.is_set():
            self._peak = max(self._peak, status_kb("VmRSS"))
            self.samples += 1
            self._halt.wait(self.interval)

    def reset(self) -> None:
        self._peak = status_kb("VmRSS")

    def peak(self) -> int:
        return max(self._peak, status_kb("VmRSS"))

    def stop(self) -> None:
        self._halt.set()
        self.join()


class Drainer(threading.Thread):
    """Reads a subscription like a console: counts lines, notes each finished run."""

    def __init__(self, subscription) -> None:
        super().__init__(daemon=True, name="drainer")
        self.subscription = subscription
        self.lines = 0
        self.missed = 0
        self.finished: set[int] = set()
        self.changed = threading.Condition()

    def run(self) -> None:
        from synctui.scheduler.events import EventsMissed, OutputLines, RunFinished

        while not self.subscription.closed:
            events = self.subscription.get(timeout=0.05)
            with self.changed:
                for event in events:
                    if isinstance(event, OutputLines):
                        self.lines += len(event.lines)
                    elif isinstance(event, RunFinished):
                        self.finished.add(event.run.id)
                    elif isinstance(event, EventsMissed):
                        self.missed += event.count
                self.changed.notify_all()

    def wait_finished(self, run_id: int, timeout: float) -> bool:
        """Whether the run's end was seen, or may have been among the events this
        subscriber fell too far behind to get (counted in `missed`)."""
        with self.changed:
            return self.changed.wait_for(lambda: run_id in self.finished or self.missed, timeout)


# --- one scenario, in its own process --------------------------------------------------

def worker(scenario: str, generator_name: str, lines: int, repeat: int) -> dict:
    from synctui.config.model import JobConfig
    from synctui.scheduler.events import EventBus, OutputLines
    from synctui.scheduler.records import Result, Trigger
    from synctui.scheduler.runner import Runner, RunRequest
    from synctui.scheduler.store import Store

    command = generator(generator_name, lines)
    expected_lines, expected_bytes = output_size(command)
    # The runner gives every job PYTHONUNBUFFERED=1; so does the /dev/null baseline.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result: dict = {"scenario": scenario, "generator": generator_name, "command": command,
                    "lines": expected_lines, "bytes": expected_bytes, "repeats": []}
    with tempfile.TemporaryDirectory(prefix="synctui-bench-capture-") as tmp:
        store = Store(Path(tmp) / "state")
        bus = EventBus()
        runner = Runner(store, bus)
        job = JobConfig(name="flood", command=command, kill_grace_s=1.0)
        drained = bus.subscribe()
        drainer = Drainer(drained)
        drainer.start()
        sampler = Sampler()
        sampler.start()
        hwm_resets = True
        devnull_run(command, env)  # warm the page cache and the binary
        gc.collect()
        rss_before = status_kb("VmRSS")
        peak_all = rss_before
        for n in range(repeat):
            null_s = devnull_run(command, env)
            unread = bus.subscribe() if scenario == "drained+unread" else None
            gc.collect()
            start_rss = status_kb("VmRSS")
            sampler.reset()
            hwm_resets = reset_hwm() and hwm_resets
            counted = drainer.lines
            began = time.perf_counter()
            handle = runner.start(RunRequest(job, Trigger.MANUAL, datetime.now(timezone.utc)))
            record = handle.wait(timeout=120)
            runner_s = time.perf_counter() - began
            if not drainer.wait_finished(record.id, timeout=60):
                raise RuntimeError("the drained subscriber never saw the run finish")
            drain_lag_s = time.perf_counter() - began - runner_s
            peak = sampler.peak()
            if hwm_resets:
                peak = max(peak, status_kb("VmHWM"))
            after = status_kb("VmRSS")
            got = drainer.lines - counted
            if record.result is not Result.SUCCESS or record.log_bytes != expected_bytes:
                raise RuntimeError(f"run went wrong: {record}")
            # The log holds every line (checked above); a live subscriber is bounded (10,000
            # lines by default) and may be told it missed batches during a flood.
            live = {"lines_seen": got, "missed_batches": drainer.missed}
            drainer.missed = 0
            held = None
            if unread is not None:
                queued = unread.drain()  # only to count what it held; the run is over
                held = {
                    "events": len(queued),
                    "output_events": sum(isinstance(e, OutputLines) for e in queued),
                    "lines": sum(len(e.lines) for e in queued if isinstance(e, OutputLines)),
                    "missed": sum(getattr(e, "count", 0) for e in queued
                                  if type(e).__name__ == "EventsMissed"),
                }
                del queued
                unread.close()
            peak_all = max(peak_all, peak)
            result["repeats"].append({
                **live,
                "devnull_s": null_s, "runner_s": runner_s, "drain_lag_s": drain_lag_s,
                "devnull_lines_per_s": expected_lines / null_s,
                "runner_lines_per_s": expected_lines / runner_s,
                "rss_start_kb": start_rss, "rss_peak_kb": peak, "rss_after_run_kb": after,
                "unread_held": held,
            })
        rss_after = status_kb("VmRSS")
        drained.close()
        drainer.join()
        sampler.stop()
        store.close()
    gc.collect()
    result.update({
        "rss_before_kb": rss_before, "rss_peak_kb": peak_all,
        "rss_after_kb": rss_after, "rss_after_close_kb": status_kb("VmRSS"),
        "vmhwm_reset_worked": hwm_resets, "rss_samples": sampler.samples,
    })
    return result


# --- the driver -------------------------------------------------------------------------

def run_worker(scenario: str, args) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", scenario, "--generator", args.generator,
         "--lines", str(args.lines), "--repeat", str(args.repeat)],
        stdout=subprocess.PIPE, text=True, check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines the job prints (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=5, help="repeats per scenario; medians are quoted (default 5)")
    parser.add_argument("--generator", choices=("seq", "yes", "python"), default="seq",
                        help="the program printing the lines (default seq)")
    parser.add_argument("--python-baseline", type=int, default=3, metavar="N",
                        help="also time the python writelines child to /dev/null N times (0: skip; default 3)")
    parser.add_argument("--worker", choices=SCENARIOS, help=argparse.SUPPRESS)
    args = _common.parse(parser, lines=20_000, repeat=1, python_baseline=0)

    if args.worker:
        print(json.dumps(worker(args.worker, args.generator, args.lines, args.repeat)))
        return 0

    began = time.monotonic()
    python_child = None
    if args.python_baseline and args.generator != "python":
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = generator("python", args.lines)
        times = [devnull_run(command, env) for _ in range(args.python_baseline)]
        python_child = args.lines / _common.median(times)
    results = {scenario: run_worker(scenario, args) for scenario in SCENARIOS}
    elapsed = time.monotonic() - began

    mb = 1 / 1024
    rows, summary = [], {}
    for scenario, r in results.items():
        reps = r["repeats"]
        null_rate = _common.median([x["devnull_lines_per_s"] for x in reps])
        run_rate = _common.median([x["runner_lines_per_s"] for x in reps])
        growth = (r["rss_peak_kb"] - r["rss_before_kb"]) * mb
        held = [x["unread_held"] for x in reps if x["unread_held"]]
        summary[scenario] = {
            "devnull_lines_per_s_median": null_rate,
            "runner_lines_per_s_median": run_rate,
            "runner_lines_per_s_all": [x["runner_lines_per_s"] for x in reps],
            "ratio_runner_to_devnull": run_rate / null_rate,
            "drain_lag_ms_median": _common.median([x["drain_lag_s"] * 1e3 for x in reps]),
            "rss_before_mb": r["rss_before_kb"] * mb, "rss_peak_mb": r["rss_peak_kb"] * mb,
            "rss_after_mb": r["rss_after_kb"] * mb, "rss_after_close_mb": r["rss_after_close_kb"] * mb,
            "rss_growth_mb": growth,
            "rss_growth_per_repeat_mb": [(x["rss_peak_kb"] - x["rss_start_kb"]) * mb for x in reps],
            "unread_held": held[0] if held else None,
            "rate_met": run_rate >= TARGET_LINES_PER_S,
            "rss_met": growth < TARGET_RSS_GROWTH_MB,
        }
        rows.append([scenario, null_rate / 1e6, run_rate / 1e6, run_rate / null_rate,
                     r["rss_before_kb"] * mb, r["rss_peak_kb"] * mb, r["rss_after_kb"] * mb,
                     r["rss_after_close_kb"] * mb, growth])

    first = next(iter(results.values()))
    print(f"capture rate: {first['lines']:,} lines ({first['bytes']:,} bytes) from"
          f" {args.generator!s}, median of {args.repeat} ({elapsed:.1f}s, {os.cpu_count()} CPUs,"
          f" load {os.getloadavg()[0]:.2f})")
    if python_child is not None:
        print(f"python writelines child alone -> /dev/null: {python_child / 1e6:.2f} M lines/s"
              f" (PYTHONUNBUFFERED=1, as the runner sets it)")
    print(_common.table(
        ["scenario", "/dev/null M/s", "runner M/s", "ratio", "RSS before MB", "peak MB",
         "after MB", "after close MB", "growth MB"],
        rows,
    ))
    for scenario, s in summary.items():
        if s["unread_held"]:
            h = s["unread_held"]
            print(f"{scenario}: the unread subscriber held {h['events']} events"
                  f" ({h['lines']:,} lines) after one run; missed {h['missed']}")
        print(f"{scenario}: capture >= {TARGET_LINES_PER_S / 1e6:g}M lines/s:"
              f" {_common.verdict(s['rate_met'])}; RSS growth < {TARGET_RSS_GROWTH_MB:g} MB"
              f" ({s['rss_growth_mb']:.1f} MB): {_common.verdict(s['rss_met'])}")
    path = _common.write_results("capture_rate", {
        "lines": args.lines, "repeat": args.repeat, "generator": args.generator,
        "elapsed_s": elapsed, "python_child_devnull_lines_per_s": python_child,
        "targets": {"lines_per_s_min": TARGET_LINES_PER_S, "rss_growth_mb_max": TARGET_RSS_GROWTH_MB},
        "summary": summary, "raw": results,
    })
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
