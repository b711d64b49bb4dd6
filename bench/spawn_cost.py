"""Spawn cost of a run: from the hand-off `Runner.start(RunRequest(...))` to the job running.

Compared, in the same process and interleaved run by run (random order each round, so
all arms share the machine's noise), with a bare `subprocess.Popen` of the same command:

  bare          Popen([cat, FIFO], stdin=DEVNULL, stdout=PIPE, stderr=STDOUT,
                      start_new_session=True): the same pipes and session as the runner,
                      no setpriv, inherited environment.
  bare+setpriv  the same, with the runner's prefix `setpriv --pdeathsig KILL --`
                      (splits the gap into "the extra exec" and "the runner's Python").
  runner        Runner.start(RunRequest(JobConfig(command=(cat, FIFO))))

"The job running" is observed from outside, identically for every arm: the job is
`/bin/cat FIFO`, and a separate helper process sits blocked in `open(FIFO, O_WRONLY)`
before the hand-off. A FIFO open blocks until the other end is opened, so the helper
wakes exactly when cat -- the final program, after any setpriv exec, after its dynamic
loading and libc start-up -- makes its own first real system call, `open(FIFO)`. The
helper then reads CLOCK_MONOTONIC (system-wide, the same clock as the hand-off stamp) and
reports it. The helper is its own process, so its wake-up never waits for this process's
GIL; cat's start-up and the helper's wake-up are in every arm alike and cancel in the
difference.

A timing shim around `subprocess.Popen` (only the `subprocess` name the run-handle module
sees is replaced; the bare arms call the real Popen) and around `Store.begin_run` splits
the runner's path into: start() up to the SQLite insert committed; up to Popen entered
(RunHandle, thread start, RunStarted, log file, environment, argv); the Popen call
itself (fork/vfork + exec of the first program -- Popen returns once that exec
succeeded, i.e. after setpriv's exec, not the job's); and Popen return to the job
running (setpriv's own exec of the job, cat's start-up, and meanwhile the runner's
read_stat + set_process UPDATE). The shim also records the keyword arguments of every
Popen call the runner makes, to prove the fast spawn path: no preexec_fn (which would
force fork() instead of vfork()).

Target (from the issue): the runner's p99 within 1 ms of bare Popen's p99.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import types
from datetime import datetime, timezone
from pathlib import Path

import _common
from synctui.config.model import JobConfig
from synctui.scheduler import run_handle as runner_module
from synctui.scheduler.events import EventBus
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.runner import Runner, RunRequest
from synctui.scheduler.store import Store

TARGET_P99_GAP_MS = 1.0
REAL_POPEN = subprocess.Popen
CAT = shutil.which("cat") or "/bin/cat"

# Arms the FIFO on each byte read from stdin; reports the monotonic time the reader came.
HELPER = r"""
import os, time
fifo = __import__("sys").argv[1]
while os.read(0, 1):
    fd = os.open(fifo, os.O_WRONLY)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    os.close(fd)
    os.write(1, b"%d\n" % now)
"""


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class Witness:
    """The helper process that stamps the moment the job opens the FIFO."""

    def __init__(self, fifo: Path) -> None:
        self.process = REAL_POPEN(
            [sys.executable, "-S", "-c", HELPER, str(fifo)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
        )
        self._wchan = Path(f"/proc/{self.process.pid}/wchan")
        self._wchan_works = True

    def arm(self) -> None:
        """Have the helper block in open(); return once it is blocked there."""
        os.write(self.process.stdin.fileno(), b"x")
        if self._wchan_works:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                if self._wchan.read_text() == "wait_for_partner":
                    return
            self._wchan_works = False  # No wchan on this kernel: fall back to waiting.
        time.sleep(0.005)

    def stamp(self) -> int:
        """The CLOCK_MONOTONIC ns at which the job opened the FIFO (blocks until it did)."""
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the FIFO helper died")
        return int(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=5)
        self.process.stdout.close()


class Shim:
    """Stamps the runner's Popen calls and store inserts, and keeps Popen's kwargs."""

    def __init__(self) -> None:
        self.popen: list[tuple[int, int]] = []
        self.kwargs: list[dict] = []
        self.inserted: list[int] = []

    def install(self, store: Store) -> None:
        def timed_popen(*args, **kwargs):
            entered = now_ns()
            process = REAL_POPEN(*args, **kwargs)
            self.popen.append((entered, now_ns()))
            self.kwargs.append(kwargs)
            return process

        fake = types.SimpleNamespace(**vars(subprocess))
        fake.Popen = timed_popen
        self._saved = runner_module.subprocess
        runner_module.subprocess = fake

        begin_run = store.begin_run

        def timed_begin_run(*args, **kwargs):
            record = begin_run(*args, **kwargs)
            self.inserted.append(now_ns())
            return record

        store.begin_run = timed_begin_run

    def uninstall(self) -> None:
        runner_module.subprocess = self._saved


def bare(argv: list[str], witness: Witness) -> dict:
    t0 = now_ns()
    process = REAL_POPEN(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, bufsize=0,
    )
    returned = now_ns()
    running = witness.stamp()
    process.stdout.read()
    process.stdout.close()
    if process.wait() != 0:
        raise RuntimeError(f"{argv} failed")
    return {"total": running - t0, "popen_call": returned - t0, "after_popen": running - returned}


def via_runner(runner: Runner, job: JobConfig, shim: Shim, witness: Witness) -> dict:
    calls = len(shim.popen)
    request = RunRequest(job, Trigger.MANUAL, datetime.now(timezone.utc))
    t0 = now_ns()
    handle = runner.start(request)
    running = witness.stamp()
    record = handle.wait(timeout=10)
    if record.result is not Result.SUCCESS or len(shim.popen) != calls + 1:
        raise RuntimeError(f"the run did not go as expected: {record}")
    entered, returned = shim.popen[-1]
    inserted = shim.inserted[-1]
    return {
        "total": running - t0,
        "to_insert": inserted - t0,
        "insert_to_popen": entered - inserted,
        "popen_call": returned - entered,
        "after_popen": running - returned,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="measured runs per arm (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="unrecorded rounds first (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-round arm order")
    args = _common.parse(parser, runs=5, warmup=1)

    setpriv = shutil.which("setpriv")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="synctui-bench-spawn-") as tmp:
        fifo = Path(tmp) / "running.fifo"
        os.mkfifo(fifo)
        store = Store(Path(tmp) / "state")
        shim = Shim()
        shim.install(store)
        witness = Witness(fifo)
        try:
            runner = Runner(store, EventBus())
            job = JobConfig(name="spawn", command=(CAT, str(fifo)), kill_grace_s=1.0)
            arms = {
                "bare": lambda: bare([CAT, str(fifo)], witness),
                "runner": lambda: via_runner(runner, job, shim, witness),
            }
            if setpriv:
                arms["bare+setpriv"] = lambda: bare(
                    [setpriv, "--pdeathsig", "KILL", "--", CAT, str(fifo)], witness
                )
            samples: dict[str, list[dict]] = {name: [] for name in arms}
            began = time.monotonic()
            for n in range(args.warmup + args.runs):
                order = list(arms)
                rng.shuffle(order)
                for name in order:
                    witness.arm()
                    sample = arms[name]()
                    if n >= args.warmup:
                        samples[name].append(sample)
            elapsed = time.monotonic() - began
        finally:
            witness.close()
            shim.uninstall()
            store.close()

    preexec = [k.get("preexec_fn") for k in shim.kwargs if k.get("preexec_fn") is not None]
    forcing = sorted({key for k in shim.kwargs for key in ("preexec_fn", "user", "group",
                      "extra_groups") if k.get(key) is not None})
    slow_path = {
        "popen_calls_seen": len(shim.kwargs),
        "preexec_fn_used": bool(preexec),
        "fork_forcing_kwargs": forcing,
        "subprocess_USE_VFORK": getattr(subprocess, "_USE_VFORK", None),
        "kwargs_of_first_call": sorted(shim.kwargs[0]) if shim.kwargs else [],
    }

    def ms(values: list[int]) -> list[float]:
        return [v / 1e6 for v in values]

    summary: dict[str, dict] = {}
    for name, rows in samples.items():
        summary[name] = {}
        for part in rows[0]:
            values = ms([row[part] for row in rows])
            summary[name][part] = {
                "p50_ms": _common.median(values),
                "p99_ms": _common.percentile(values, 99),
                "max_ms": max(values),
            }
    paired = ms([r["total"] - b["total"] for r, b in zip(samples["runner"], samples["bare"])])
    gap_p50 = summary["runner"]["total"]["p50_ms"] - summary["bare"]["total"]["p50_ms"]
    gap_p99 = summary["runner"]["total"]["p99_ms"] - summary["bare"]["total"]["p99_ms"]
    met = gap_p99 <= TARGET_P99_GAP_MS

    print(f"spawn cost: hand-off -> job running, {args.runs} runs per arm, interleaved"
          f" ({elapsed:.1f}s, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
    print(_common.table(
        ["arm", "p50 ms", "p99 ms", "max ms", "ratio p50", "ratio p99"],
        [[name, s["total"]["p50_ms"], s["total"]["p99_ms"], s["total"]["max_ms"],
          s["total"]["p50_ms"] / summary["bare"]["total"]["p50_ms"],
          s["total"]["p99_ms"] / summary["bare"]["total"]["p99_ms"]]
         for name, s in summary.items()],
    ))
    print()
    print("where the time goes (p50 / p99 / max ms of each segment):")
    labels = {
        "to_insert": "hand-off -> SQLite insert committed",
        "insert_to_popen": "insert -> Popen entered (thread, env, log)",
        "popen_call": "Popen call (vfork + first exec)",
        "after_popen": "Popen returned -> job running",
    }
    rows = []
    for part, label in labels.items():
        row = [label]
        for name in ("bare", "bare+setpriv", "runner"):
            stats = summary.get(name, {}).get(part)
            row.append(f"{stats['p50_ms']:.3f} / {stats['p99_ms']:.3f} / {stats['max_ms']:.2f}"
                       if stats else "-")
        rows.append(row)
    print(_common.table(["segment", "bare", "bare+setpriv", "runner"], rows))
    print()
    print(f"paired (runner - bare, same round): p50 {_common.median(paired):.3f} ms,"
          f" p99 {_common.percentile(paired, 99):.3f} ms")
    print(f"target: runner p99 within {TARGET_P99_GAP_MS} ms of bare p99:"
          f" gap {gap_p99:.3f} ms (p50 gap {gap_p50:.3f} ms) -> {_common.verdict(met)}")
    print(f"slow-path check: {slow_path['popen_calls_seen']} runner Popen calls,"
          f" preexec_fn used: {slow_path['preexec_fn_used']},"
          f" other fork-forcing kwargs: {forcing or 'none'},"
          f" subprocess._USE_VFORK = {slow_path['subprocess_USE_VFORK']}")
    path = _common.write_results("spawn_cost", {
        "runs": args.runs, "warmup": args.warmup, "seed": args.seed, "elapsed_s": elapsed,
        "setpriv": setpriv, "command": [CAT, "FIFO"],
        "summary": summary,
        "paired_runner_minus_bare_ms": {
            "p50": _common.median(paired), "p99": _common.percentile(paired, 99),
        },
        "target": {"p99_gap_ms_max": TARGET_P99_GAP_MS, "p99_gap_ms": gap_p99,
                   "p50_gap_ms": gap_p50, "met": met},
        "slow_path": slow_path,
        "samples_ns": samples,
    })
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
