"""Dispatch lag: from a fire time to the job running, with a real scheduler hosting a 200 ms job.

The host is either a real `synctui --headless` process (`headless`: config file, text
log lines on stderr, output passthrough thread, watchdog, heartbeat -- as deployed) or
a `SyncScheduler` in this process (`in-process`: the same scheduler with no logging
handler and no passthrough, plus a few timing shims). Both host one job,
`cat FIFO`, on a 200 ms interval, with no jitter, for --fires fires after --warmup.

The fire time is the run's `scheduled_at` as recorded in the store (APScheduler's
run time, the same instant the job gets as SYNCTUI_SCHEDULED_AT): a wall-clock
(CLOCK_REALTIME) instant.

"The job running" is stamped from outside, as in spawn_cost.py: a helper process sits
blocked in `open(FIFO, O_WRONLY)`; a FIFO open blocks until the other end is opened, so
the helper wakes exactly when cat -- the final program, after setpriv's exec, after its
dynamic loading -- makes its own first real system call, `open(FIFO)`. The helper then
reads CLOCK_REALTIME (the clock scheduled_at is in; both processes read the same
system clock) and logs it. It closes the FIFO (cat sees EOF and exits) and, before it
blocks again, waits until no reader is left (a non-blocking open fails with ENXIO), so
that the next stamp is the next cat's. The stamp's error is the helper's own wake-up
latency, which only ever makes the lag look longer (typically tens of µs).

Each stamp is matched to the one run with scheduled_at <= stamp <= finished_at;
a run with no stamp, or with two, fails the benchmark.

Lag is split with the store's own columns: fire -> `started_at` (APScheduler waking up
on time, its hand-off, SyncScheduler's locks, `Store.job_state`; `started_at` is the
runner's clock() just before `Store.begin_run`), and started_at -> job running (begin_run's
commit, the run thread, log file, environment, Popen + setpriv exec + cat exec). In-process
also stamps `SyncScheduler._on_fire` entry (so APScheduler's wake-up is split off) and the
duration of every `Store.begin_run` (to name the tail: WAL checkpoints).

Alongside, a control in a separate process, half an interval out of phase with the fires:
a bare Python loop that sleeps until a wall-clock target, then Popens the same
`setpriv --pdeathsig KILL -- cat FIFO2` (the runner's pipes and session), stamped the
same way. It is what timer wake-up + spawn cost on this machine at that moment, with no
scheduler; the script also prints how busy all CPUs were (/proc/stat) during each window.

Target (from the issue): p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import _common

TARGET_P99_MS = 5.0
REAL_POPEN = subprocess.Popen
CAT = shutil.which("cat") or "/bin/cat"
HOSTS = ("headless", "in-process")

# Stamps (CLOCK_REALTIME ns) every open of the FIFO's read end by a new reader.
WITNESS = r"""
import errno, os, sys, time
fifo = sys.argv[1]
while True:
    fd = os.open(fifo, os.O_WRONLY)
    now = time.clock_gettime_ns(time.CLOCK_REALTIME)
    os.close(fd)
    os.write(1, b"%d\n" % now)
    while True:  # wait for that reader to go, so the next open is the next job's
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:
                raise
            break
        os.close(fd)
        time.sleep(0.0005)
"""

CONFIG = """\
[scheduler]
timezone = "UTC"
state_dir = "{state}"
catch_up = false
shutdown_grace_seconds = 5

[jobs.tick]
command = ["{cat}", "{fifo}"]
interval = "{interval_ms}ms"
timeout_seconds = 10
kill_grace_seconds = 1
"""


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


# The control: the same job started by a bare Python loop (sleep until a wall-clock
# target, then Popen with the runner's pipes, session and setpriv prefix), to show
# what this machine's timer wake-ups and spawns cost with no scheduler at all.
CONTROL = r"""
import os, subprocess, sys, time
fifo, first, step, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
prefix = sys.argv[5:]
for k in range(count):
    target = first + k * step
    delay = (target - time.clock_gettime_ns(time.CLOCK_REALTIME)) / 1e9
    if delay > 0:
        time.sleep(delay)
    process = subprocess.Popen([*prefix, fifo], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    process.stdout.read()
    process.stdout.close()
    process.wait()
    os.write(1, b"%d\n" % target)
"""


def start_witness(fifo: Path, stamps: Path) -> subprocess.Popen:
    with stamps.open("wb") as out:
        return subprocess.Popen([sys.executable, "-S", "-c", WITNESS, str(fifo)], stdout=out)


def cpu_counters() -> list[int]:
    """The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal."""
    with open("/proc/stat") as stat:
        return [int(v) for v in stat.readline().split()[1:9]]


def run_window(tmp: Path, total: int, interval: float, alive, control: bool) -> dict:
    """Wait for `total` stamps; meanwhile run the control loop, half an interval out of
    phase with the scheduler's fires (so the two never compete for the CPUs at once)."""
    stamps = tmp / "stamps"
    deadline = time.monotonic() + total * interval + 30
    while not stamps.read_bytes() and time.monotonic() < deadline and alive():
        time.sleep(0.02)
    first = int(stamps.read_bytes().split()[0])
    before = cpu_counters()
    processes = []
    if control:
        os.mkfifo(tmp / "control.fifo")
        processes.append(start_witness(tmp / "control.fifo", tmp / "control.stamps"))
        step = round(interval * 1e9)
        prefix = ([shutil.which("setpriv"), "--pdeathsig", "KILL", "--"]
                  if shutil.which("setpriv") else []) + [CAT]
        with (tmp / "control.targets").open("wb") as out:
            processes.append(subprocess.Popen(
                [sys.executable, "-c", CONTROL, str(tmp / "control.fifo"),
                 str(first + step // 2 + step), str(step), str(total), *prefix], stdout=out))
    try:
        while time.monotonic() < deadline and alive():
            time.sleep(1.0)
            if stamps.read_bytes().count(b"\n") >= total:
                break
        if control:
            processes[1].wait(timeout=max(deadline - time.monotonic(), 5))
    finally:
        after = cpu_counters()
        for process in processes[::-1]:
            process.kill()
            process.wait()
    delta = [b - a for a, b in zip(before, after)]
    machine = {"steal_pct": 100 * delta[7] / max(sum(delta), 1),
               "busy_pct": 100 * (sum(delta) - delta[3] - delta[4]) / max(sum(delta), 1)}
    if not control:
        return {"machine": machine}
    targets = sorted(int(v) for v in (tmp / "control.targets").read_text().split())
    lags = sorted(int(v) for v in (tmp / "control.stamps").read_text().split())
    if len(lags) != len(targets) or any(
            not t <= s < t + step for t, s in zip(targets, lags)):
        raise RuntimeError(f"control: {len(targets)} spawns, {len(lags)} stamps, not one each")
    return {"machine": machine, "control_ms": [(s - t) / 1e6 for t, s in zip(targets, lags)]}


def host_headless(config: Path, tmp: Path, total: int, interval: float, control: bool) -> dict:
    env = _common.child_env(tmp / "pycache")
    stamps = tmp / "stamps"
    witness = start_witness(tmp / "fifo", stamps)
    window = {}
    with (tmp / "host.out").open("wb") as out, (tmp / "host.err").open("wb") as err:
        host = subprocess.Popen([str(_common.SYNCTUI), "--headless", "--config", str(config)],
                                stdout=out, stderr=err, env=env)
    try:
        window = run_window(tmp, total, interval, lambda: host.poll() is None, control)
    finally:
        if host.poll() is None:
            host.send_signal(signal.SIGTERM)
        status = host.wait(timeout=30)
        witness.kill()
        witness.wait()
    errors = (tmp / "host.err").read_text()
    if status != 0:
        raise RuntimeError(f"synctui --headless exited {status}:\n{errors[-2000:]}")
    return {"stamps": stamps, "log_lines": errors.count("\n"), **window}


def host_in_process(config_path: Path, tmp: Path, total: int, interval: float, control: bool) -> dict:
    from synctui.config import load_config
    from synctui.scheduler import run_handle as runner_module
    from synctui.scheduler.sync_scheduler import SyncScheduler

    stamps = tmp / "stamps"
    witness = start_witness(tmp / "fifo", stamps)
    scheduler = SyncScheduler(load_config(config_path), mode="headless")
    handed: dict[float, int] = {}
    begin_runs: dict[int, tuple[int, int]] = {}

    on_fire = scheduler._on_fire

    def timed_on_fire(name, run_times=()):
        handed[run_times[-1].timestamp()] = now_ns()
        on_fire(name, run_times)

    begin_run = scheduler.store.begin_run

    def timed_begin_run(*args, **kwargs):
        entered = now_ns()
        record = begin_run(*args, **kwargs)
        begin_runs[record.id] = (entered, now_ns())
        return record

    log_files: dict[int, tuple[int, int]] = {}
    log_file = scheduler.lifecycle.runner._log_file

    def timed_log_file(path):
        entered = now_ns()
        fd = log_file(path)
        log_files[int(path.stem)] = (entered, now_ns())
        return fd

    popens: dict[int, tuple[int, int]] = {}

    def timed_popen(*popen_args, **kwargs):
        entered = now_ns()
        process = REAL_POPEN(*popen_args, **kwargs)
        popens[int(kwargs["env"]["SYNCTUI_RUN_ID"])] = (entered, now_ns())
        return process

    # Bound at add_job time (in start()), so instance attributes set now are the ones used.
    scheduler._on_fire = timed_on_fire
    scheduler.store.begin_run = timed_begin_run
    scheduler.lifecycle.runner._log_file = timed_log_file
    # Only the `subprocess` name the run-handle module sees is replaced (as in spawn_cost.py).
    fake = types.SimpleNamespace(**vars(subprocess))
    fake.Popen = timed_popen
    saved, runner_module.subprocess = runner_module.subprocess, fake
    window = {}
    try:
        scheduler.start()
        window = run_window(tmp, total, interval, lambda: True, control)
    finally:
        scheduler.shutdown(grace=5)
        scheduler.store.close()
        runner_module.subprocess = saved
        witness.kill()
        witness.wait()
    return {"stamps": stamps, "handed": handed, "begin_runs": begin_runs,
            "log_files": log_files, "popens": popens, **window}


def measure(host: str, args) -> dict:
    total = args.warmup + args.fires
    with tempfile.TemporaryDirectory(prefix="synctui-bench-dispatch-") as name:
        tmp = Path(name)
        os.mkfifo(tmp / "fifo")
        state = tmp / "state"
        config = _common.write_config(tmp / "synctui.toml", CONFIG.format(
            state=state, cat=CAT, fifo=tmp / "fifo", interval_ms=round(args.interval * 1000)))
        began = time.monotonic()
        run = (host_headless if host == "headless" else host_in_process)(
            config, tmp, total, args.interval, not args.no_control)
        elapsed = time.monotonic() - began
        stamps = sorted(int(line) for line in run["stamps"].read_text().split())
        db = sqlite3.connect(state / "synctui.db")
        rows = db.execute(
            "SELECT id, trigger, result, scheduled_at, started_at, finished_at, skip_count"
            " FROM runs ORDER BY id").fetchall()
        db.close()

    skipped = [r for r in rows if r[2] == "skipped"]
    runs = [r for r in rows if r[2] != "skipped"]
    bad = [r for r in runs if r[1] != "scheduled" or r[2] not in ("success", "interrupted")]
    if bad:
        raise RuntimeError(f"{host}: unexpected runs: {bad[:3]}")
    # Match: every stamp falls in exactly one run's [scheduled_at, finished_at].
    samples, unmatched, doubles = [], 0, 0
    position = 0
    for run_id, _, result, scheduled, started, finished, _ in runs:
        if result != "success":
            continue  # the run shutdown interrupted
        low, high = int(scheduled * 1e9) - 1000, int(finished * 1e9) + 1000
        while position < len(stamps) and stamps[position] < low:
            position += 1
            unmatched += 1
        inside = []
        while position < len(stamps) and stamps[position] <= high:
            inside.append(stamps[position])
            position += 1
        if len(inside) != 1:
            doubles += 1
            continue
        sample = {"id": run_id, "scheduled_ns": round(scheduled * 1e9),
                  "started_ns": round(started * 1e9), "running_ns": inside[0]}
        if "handed" in run:
            sample["handed_ns"] = run["handed"][scheduled]
            sample["begin_run_ns"] = run["begin_runs"][run_id]
            sample["log_file_ns"] = run["log_files"][run_id]
            sample["popen_ns"] = run["popens"][run_id]
        samples.append(sample)
    if doubles or len(samples) < total:
        raise RuntimeError(f"{host}: {len(samples)} runs matched to a stamp, {doubles} runs with"
                           f" none or two, {unmatched} stray stamps; wanted {total}")
    samples = samples[args.warmup:args.warmup + args.fires]

    def ms(key_from, key_to):
        return [(s[key_to] - s[key_from]) / 1e6 for s in samples]

    parts = {"total": ms("scheduled_ns", "running_ns"),
             "fire_to_started_at": ms("scheduled_ns", "started_ns"),
             "started_at_to_running": ms("started_ns", "running_ns")}
    if host == "in-process":
        parts["fire_to_hand_off"] = ms("scheduled_ns", "handed_ns")
        parts["hand_off_to_started_at"] = ms("handed_ns", "started_ns")
        for s in samples:
            s["begun_ns"] = s["begin_run_ns"][1]
            s["log_entered_ns"], s["log_opened_ns"] = s["log_file_ns"]
            s["popen_entered_ns"], s["popen_returned_ns"] = s["popen_ns"]
        parts["started_at_to_begun"] = ms("started_ns", "begun_ns")
        parts["begun_to_log_file"] = ms("begun_ns", "log_entered_ns")
        parts["log_file_call"] = ms("log_entered_ns", "log_opened_ns")
        parts["log_file_to_popen"] = ms("log_opened_ns", "popen_entered_ns")
        parts["popen_call"] = ms("popen_entered_ns", "popen_returned_ns")
        parts["popen_to_running"] = ms("popen_returned_ns", "running_ns")
    if "control_ms" in run:
        parts["control"] = run["control_ms"][args.warmup:args.warmup + args.fires]
    summary = {part: {"p50_ms": _common.median(v), "p99_ms": _common.percentile(v, 99),
                      "max_ms": max(v), "over_5ms": sum(x > TARGET_P99_MS for x in v)}
               for part, v in parts.items()}
    worst = sorted(samples, key=lambda s: s["running_ns"] - s["scheduled_ns"])[-5:]
    return {
        "host": host, "elapsed_s": elapsed, "fires_measured": len(samples),
        "runs_recorded": len(runs), "skipped_records": len(skipped),
        "skipped_fires": sum(r[6] for r in skipped), "stray_stamps": unmatched,
        "log_lines": run.get("log_lines"), "machine_during": run.get("machine"),
        "summary": summary,
        "worst": [{"id": s["id"], **{p: (s[b] - s[a]) / 1e6 for p, a, b in (
            ("total_ms", "scheduled_ns", "running_ns"),
            ("fire_to_started_at_ms", "scheduled_ns", "started_ns"),
            ("started_at_to_running_ms", "started_ns", "running_ns"))},
            **({p: (s[b] - s[a]) / 1e6 for p, a, b in (
                ("begin_run_ms", "started_ns", "begun_ns"),
                ("to_log_file_ms", "begun_ns", "log_entered_ns"),
                ("log_file_ms", "log_entered_ns", "log_opened_ns"),
                ("to_popen_ms", "log_opened_ns", "popen_entered_ns"),
                ("popen_ms", "popen_entered_ns", "popen_returned_ns"),
                ("popen_to_running_ms", "popen_returned_ns", "running_ns"))}
               if "popen_ns" in s else {})} for s in worst],
        "samples_ms": parts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fires", type=int, default=250, help="measured fires per host (default 250)")
    parser.add_argument("--warmup", type=int, default=5, help="first fires not counted (default 5)")
    parser.add_argument("--interval", type=float, default=0.2, help="the job's interval in s (default 0.2)")
    parser.add_argument("--no-control", action="store_true",
                        help="do not run the bare sleep-until + Popen control loop alongside")
    parser.add_argument("--host", choices=(*HOSTS, "both"), default="both",
                        help="who hosts the scheduler (default both, one after the other)")
    args = _common.parse(parser, fires=10, warmup=1)

    hosts = HOSTS if args.host == "both" else (args.host,)
    results = {host: measure(host, args) for host in hosts}

    print(f"dispatch lag: fire time (scheduled_at) -> job running, {args.fires} fires of a"
          f" {args.interval * 1000:g} ms interval job per host ({os.cpu_count()} CPUs,"
          f" load {os.getloadavg()[0]:.2f})")
    labels = {
        "total": "fire -> job running (the lag)",
        "fire_to_started_at": "  fire -> runner's started_at",
        "fire_to_hand_off": "    fire -> _on_fire entered (APScheduler)",
        "hand_off_to_started_at": "    _on_fire -> started_at (locks, job_state)",
        "started_at_to_running": "  started_at -> job running (spawn)",
        "started_at_to_begun": "    Store.begin_run (INSERT, commit)",
        "begun_to_log_file": "    -> _log_file (handle, thread start, RunStarted)",
        "log_file_call": "    _log_file (create + truncate the log)",
        "log_file_to_popen": "    -> Popen entered (environment, argv)",
        "popen_call": "    Popen call (vfork + exec setpriv)",
        "popen_to_running": "    Popen returned -> running (setpriv, cat exec)",
        "control": "control: bare sleep-until + Popen, same job",
    }
    rows = []
    for host, result in results.items():
        for part, label in labels.items():
            s = result["summary"].get(part)
            if s:
                rows.append([f"{host}: {label}", s["p50_ms"], s["p99_ms"], s["max_ms"], s["over_5ms"]])
    print(_common.table(["host: segment", "p50 ms", "p99 ms", "max ms", "> 5 ms"], rows))
    verdicts = {}
    for host, result in results.items():
        p99 = result["summary"]["total"]["p99_ms"]
        verdicts[host] = p99 < TARGET_P99_MS
        machine = result["machine_during"]
        print(f"{host}: machine during the window: {machine['busy_pct']:.1f}% of all CPUs busy,"
              f" steal {machine['steal_pct']:.2f}%")
        print(f"{host}: {result['fires_measured']} fires measured in {result['elapsed_s']:.0f}s;"
              f" {result['skipped_fires']} fires skipped (a run still going);"
              f" slowest: " + ", ".join(f"{w['total_ms']:.2f}" for w in result["worst"][::-1])
              + " ms")
        control = result["summary"].get("control")
        versus = (f" (control p99 {control['p99_ms']:.3f} ms: synctui adds"
                  f" {result['summary']['total']['p50_ms'] - control['p50_ms']:.3f} ms at p50,"
                  f" {p99 - control['p99_ms']:.3f} ms at p99)" if control else "")
        print(f"{host}: target p99 < {TARGET_P99_MS:g} ms: p99 {p99:.3f} ms ->"
              f" {_common.verdict(verdicts[host])}{versus}")
    path = _common.write_results("dispatch_lag", {
        "fires": args.fires, "warmup": args.warmup, "interval_s": args.interval,
        "target": {"p99_ms_max": TARGET_P99_MS, "met": verdicts},
        "hosts": results,
    })
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
