"""Control socket: a request's round trip, and what 50 event subscribers cost the fires.

Two measurements against real `synctui --headless --config CFG` hosts (config and
state in a temporary directory), in the same run:

1. **Round trip.** A host with 8 jobs on a 1 h interval (so `status` has a realistic
   size; the jobs never fire during the run). One connection, as a client would hold
   it: read the greeting, then `{"id": N, "op": "status"}` -> one reply line, timed
   with perf_counter from just before `sendall` to the reply's newline (the client side
   is a raw blocking socket with a bytearray buffer, no JSON parsing in the timed
   path). Compared, on the same machine in the same run, with bare Unix-socket line
   servers in separate Python processes, timed by the very same client code:

   - `echo (threads)`: a blocking accept loop, one thread per connection, which
     answers each line with the line itself (a request-size reply) ...
   - `sized (threads)`: ... or, for a request asking so, with a line as long as the
     host's `status` reply (so the transport of the reply's bytes is in the baseline);
   - `sized (asyncio+pool)`: an asyncio server (`start_unix_server`, as the host) that
     answers from a 4-thread pool via `run_in_executor`, as the host answers every
     request: the host's architecture with the scheduler's work taken out.

   The arms are interleaved in blocks (`--block` requests each, random order every
   round), so that they share the machine's noise. Target: round trip p99 < 5 ms.

2. **Dispatch lag with subscribers.** A host with one job, `echo tick` (one line of
   output: each run publishes run-started, output and run-finished events), on a
   100 ms interval with `catch_up = false`. Lag per scheduled run = `started_at -
   scheduled_at`, both from the store (read-only SQLite, `state_dir/synctui.db`):
   APScheduler waking up on time, its hand-off, the scheduler's locks and reads up to
   the runner's clock before `Store.begin_run`. (The spawn after it is measured by
   dispatch_lag.py; subscribers publish nothing on the way to `started_at` except
   what the threads they keep busy take from the CPUs and the GIL.) Conditions:

   - `none`: no connection to the host;
   - `50 reading`: a separate process holds 50 connections, each `subscribe`d, and
     reads every one of them with `selectors` all the time (counting events by type);
   - `50 stalled` (skip with `--no-stalled`): 50 subscribed connections that are
     never read after the `subscribe` reply, so the host's socket buffers fill and
     its per-subscriber queues grow.

   Windows of `--fires` fires each alternate A/B/C, A/B/C, ... (`--windows` rounds):
   the subscribers connect, the window starts 0.5 s later, and runs are counted by
   their `scheduled_at` inside it. Reported: p50/p99 over all fires of a condition and
   the median of per-window p99s (a window's p99 of 60 fires is close to its max), the
   host's CPU time per fire (/proc/<pid>/stat) and its open fds after each window.
   Target: p99 with 50 reading subscribers within 1 ms of p99 with none.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import _common
from _socket_peers import (
    ECHO_SERVER, SUBSCRIBERS, LineClient, end_helper, start_helper, start_host, stop_host,
)

TARGET_RTT_P99_MS = 5.0
TARGET_LAG_GAP_MS = 1.0
HOST_JOBS = 8

RTT_CONFIG_HEAD = """\
[scheduler]
timezone = "UTC"
state_dir = "{state}"
catch_up = false
shutdown_grace_seconds = 5
"""
RTT_JOB = """
[jobs.sync-{n:02d}]
command = ["true"]
interval = "1h"
timeout_seconds = 600
"""

LAG_CONFIG = """\
[scheduler]
timezone = "UTC"
state_dir = "{state}"
catch_up = false
shutdown_grace_seconds = 5

[jobs.tick]
command = ["echo", "tick"]
interval = "{interval_ms}ms"
timeout_seconds = 10
kill_grace_seconds = 1
"""

def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": _common.median(values),
            "p99_ms": _common.percentile(values, 99), "max_ms": max(values)}


# --- 1. round trip ------------------------------------------------------------------

def round_trip(tmp: Path, env: dict, args) -> dict:
    config = tmp / "rtt.toml"
    _common.write_config(config, RTT_CONFIG_HEAD.format(state=tmp / "rtt-state") + "".join(
        RTT_JOB.format(n=n) for n in range(HOST_JOBS)))
    host, path = start_host(config, tmp, env, "rtt-host")
    helpers = []
    try:
        client = LineClient(path)
        if b'"protocol"' not in client.greeting:
            raise RuntimeError(f"unexpected greeting {client.greeting!r}")
        _, reply = client.round_trip(b'{"id":0,"op":"status"}\n')
        status = json.loads(reply)
        if not status.get("ok") or len(status["result"]["jobs"]) != HOST_JOBS:
            raise RuntimeError(f"status reply: {reply[:300]!r}")
        reply_bytes = len(reply)
        clients = {"host status": client}
        for mode in ("threads", "asyncio-pool"):
            echo_path = tmp / f"echo-{mode}.sock"
            helpers.append(start_helper(ECHO_SERVER, str(echo_path), mode, str(reply_bytes)))
            if mode == "threads":
                clients["echo (threads)"] = LineClient(echo_path)
                clients["sized (threads)"] = LineClient(echo_path)
            else:
                clients["sized (asyncio+pool)"] = LineClient(echo_path)
        request_id = [0]

        def request(arm: str) -> bytes:
            request_id[0] += 1
            if arm == "host status":
                return b'{"id":%d,"op":"status"}\n' % request_id[0]
            if arm.startswith("echo"):  # the same length as the status request
                return b'{"id":%d,"op":"echo!!"}\n' % request_id[0]
            return b'{"id":%d,"op":"sized"}\n' % request_id[0]

        sizes = {}
        for arm, connection in clients.items():  # warm-up; check the replies
            for _ in range(args.rtt_warmup):
                sent = request(arm)
                _, reply = connection.round_trip(sent)
            sizes[arm] = (len(sent), len(reply))
            if arm == "host status" and b'"ok":true' not in reply:
                raise RuntimeError(f"status reply: {reply[:300]!r}")
        samples: dict[str, list[float]] = {arm: [] for arm in clients}
        rng = random.Random(args.seed)
        began = time.monotonic()
        load_before = _common.proc_times(host.pid)
        for _ in range(-(-args.requests // args.block)):
            order = list(clients)
            rng.shuffle(order)
            for arm in order:
                connection = clients[arm]
                for _ in range(min(args.block, args.requests - len(samples[arm]))):
                    elapsed, reply = connection.round_trip(request(arm))
                    if arm == "host status" and not reply.startswith(
                            b'{"id":%d,"ok":true' % request_id[0]):
                        raise RuntimeError(f"status reply: {reply[:300]!r}")
                    samples[arm].append(elapsed)
        elapsed_s = time.monotonic() - began
        load_after = _common.proc_times(host.pid)
        for connection in clients.values():
            connection.close()
    finally:
        for helper in helpers:
            end_helper(helper)
        log = stop_host(host, tmp, "rtt-host")
    host_cpu_ms = sum(load_after[k] - load_before[k] for k in ("utime", "stime")) * 1000 / _common.CLK_TCK
    return {"elapsed_s": elapsed_s, "sizes": sizes, "status_reply_bytes": reply_bytes,
            "host_cpu_ms_per_status": host_cpu_ms / len(samples["host status"]),
            "host_log_lines": log.count("\n"),
            "summary": {arm: summary(v) for arm, v in samples.items()}, "samples_ms": samples}


# --- 2. dispatch lag with subscribers ---------------------------------------------------

def read_lags(db: Path, low: float, high: float) -> tuple[list[float], int, int]:
    """(lags in ms, skipped fires, other runs) of runs with scheduled_at in [low, high)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = connection.execute(
            "SELECT trigger, result, scheduled_at, started_at, skip_count FROM runs"
            " WHERE scheduled_at >= ? AND scheduled_at < ? ORDER BY id", (low, high)).fetchall()
    finally:
        connection.close()
    lags, skipped, other = [], 0, 0
    for trigger, result, scheduled, started, skip_count in rows:
        if result == "skipped":
            skipped += skip_count or 1
        elif trigger != "scheduled" or result not in ("success", "running"):
            other += 1
        else:
            lags.append((started - scheduled) * 1e3)
    return lags, skipped, other


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def dispatch(tmp: Path, env: dict, args) -> dict:
    state = tmp / "lag-state"
    config = tmp / "lag.toml"
    _common.write_config(config, LAG_CONFIG.format(state=state, interval_ms=round(args.interval * 1000)))
    conditions = ["none", "50 reading"] + ([] if args.no_stalled else ["50 stalled"])
    host, path = start_host(config, tmp, env, "lag-host")
    windows = []
    try:
        time.sleep(args.interval * args.warmup)  # the first fires, not counted
        for round_number in range(args.windows):
            for condition in conditions:
                helper = None
                if condition != "none":
                    helper = start_helper(SUBSCRIBERS, str(path), str(args.subscribers),
                                          "read" if "reading" in condition else "stall")
                time.sleep(0.5)  # the subscriptions settle; a run or two go by
                fds_during = fd_count(host.pid)
                cpu_before = _common.proc_times(host.pid)
                busy_before = _cpu_counters()
                low = time.time()
                time.sleep(args.fires * args.interval)
                high = time.time()
                cpu_after = _common.proc_times(host.pid)
                busy_after = _cpu_counters()
                received = None
                if helper is not None:
                    if "reading" in condition:
                        helper.send_signal(signal.SIGTERM)
                        out, _ = helper.communicate(timeout=30)
                        received = json.loads(out.strip().splitlines()[-1])
                    end_helper(helper)
                time.sleep(0.3)  # the host notices the hang-ups
                if host.poll() is not None:
                    raise RuntimeError("the host died during a window")
                lags, skipped, other = read_lags(state / "synctui.db", low, high)
                delta = [b - a for a, b in zip(busy_before, busy_after)]
                window = {
                    "round": round_number, "condition": condition, "lags_ms": lags,
                    "skipped_fires": skipped, "other_runs": other,
                    "host_cpu_ms": sum(cpu_after[k] - cpu_before[k] for k in ("utime", "stime"))
                    * 1000 / _common.CLK_TCK,
                    "host_threads": cpu_after["threads"],
                    "host_fds_during": fds_during, "host_fds_after": fd_count(host.pid),
                    "machine_busy_pct": 100 * (sum(delta) - delta[3] - delta[4]) / max(sum(delta), 1),
                }
                if received is not None:
                    events = [sum(c.values()) for c in received["counts"]]
                    kinds: dict[str, int] = {}
                    for c in received["counts"]:
                        for kind, n in c.items():
                            kinds[kind] = kinds.get(kind, 0) + n
                    window["received"] = {"per_connection_min": min(events),
                                          "per_connection_max": max(events), "by_type": kinds,
                                          "closed_by_host": received["closed_by_host"]}
                windows.append(window)
                print(f"  window {round_number + 1}/{args.windows} {condition:>10}: {len(lags)} fires,"
                      f" p99 {_common.percentile(lags, 99) if lags else float('nan'):.3f} ms,"
                      f" host fds {fds_during} during / {window['host_fds_after']} after,"
                      f" CPUs {window['machine_busy_pct']:.0f}% busy", flush=True)
    finally:
        log = stop_host(host, tmp, "lag-host")
    result = {"conditions": conditions, "windows": windows, "host_log_lines": log.count("\n"),
              "host_warnings": [text for text in log.splitlines()
                                if ("WARNING" in text or "ERROR" in text)
                                and "Task exception was never retrieved" not in text][:20],
              "host_unretrieved_task_errors": log.count("Task exception was never retrieved"),
              "summary": {}}
    for condition in conditions:
        mine = [w for w in windows if w["condition"] == condition]
        lags = [lag for w in mine for lag in w["lags_ms"]]
        fires = sum(len(w["lags_ms"]) for w in mine)
        result["summary"][condition] = {
            **summary(lags),
            "window_p99s_ms": [_common.percentile(w["lags_ms"], 99) for w in mine],
            "median_window_p99_ms": _common.median([_common.percentile(w["lags_ms"], 99) for w in mine]),
            "skipped_fires": sum(w["skipped_fires"] for w in mine),
            "other_runs": sum(w["other_runs"] for w in mine),
            "host_cpu_ms_per_fire": sum(w["host_cpu_ms"] for w in mine) / max(fires, 1),
        }
    return result


def _cpu_counters() -> list[int]:
    """The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal."""
    with open("/proc/stat") as stat:
        return [int(v) for v in stat.readline().split()[1:9]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000,
                        help="measured round trips per arm (default 1000)")
    parser.add_argument("--block", type=int, default=50,
                        help="round trips per arm in a row before the next arm (default 50)")
    parser.add_argument("--rtt-warmup", type=int, default=50,
                        help="unrecorded round trips per arm first (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-round arm order")
    parser.add_argument("--fires", type=int, default=60, help="fires per lag window (default 60)")
    parser.add_argument("--windows", type=int, default=5,
                        help="rounds of windows, one window per condition each (default 5)")
    parser.add_argument("--interval", type=float, default=0.1,
                        help="the tick job's interval in s (default 0.1)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="fires before the first window, not counted (default 10)")
    parser.add_argument("--subscribers", type=int, default=50,
                        help="subscriber connections (default 50)")
    parser.add_argument("--no-stalled", action="store_true",
                        help="skip the condition with subscribers that never read")
    parser.add_argument("--skip-rtt", action="store_true", help="only the dispatch-lag part")
    parser.add_argument("--skip-lag", action="store_true", help="only the round-trip part")
    args = _common.parse(parser, requests=50, block=10, rtt_warmup=5, fires=10, windows=1,
                         warmup=2, subscribers=5)

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="synctui-bench-control-") as name:
        tmp = Path(name)
        env = _common.child_env(tmp / "pycache")
        rtt = None if args.skip_rtt else round_trip(tmp, env, args)
        if rtt:
            print(f"control round trip: {args.requests} requests per arm on one connection each,"
                  f" blocks of {args.block}, interleaved ({rtt['elapsed_s']:.1f}s,"
                  f" {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
            base = rtt["summary"]["sized (threads)"]
            print(_common.table(
                ["arm", "request B", "reply B", "p50 ms", "p99 ms", "max ms", "p99 - sized"],
                [[arm, rtt["sizes"][arm][0], rtt["sizes"][arm][1], s["p50_ms"], s["p99_ms"],
                  s["max_ms"], s["p99_ms"] - base["p99_ms"]] for arm, s in rtt["summary"].items()]))
            print(f"host CPU per status request: {rtt['host_cpu_ms_per_status']:.3f} ms"
                  f" ({HOST_JOBS} jobs, reply {rtt['status_reply_bytes']} B)")
        lag = None if args.skip_lag else dispatch_and_print(tmp, env, args)
    elapsed = time.monotonic() - began

    verdicts = {}
    if rtt:
        p99 = rtt["summary"]["host status"]["p99_ms"]
        verdicts["rtt_p99"] = p99 < TARGET_RTT_P99_MS
        print(f"target: status round trip p99 < {TARGET_RTT_P99_MS:g} ms: {p99:.3f} ms"
              f" -> {_common.verdict(verdicts['rtt_p99'])}")
    if lag:
        none, reading = lag["summary"]["none"], lag["summary"]["50 reading"]
        gap = reading["p99_ms"] - none["p99_ms"]
        window_gap = reading["median_window_p99_ms"] - none["median_window_p99_ms"]
        verdicts["lag_gap"] = gap <= TARGET_LAG_GAP_MS
        print(f"target: lag p99 with {args.subscribers} reading subscribers within"
              f" {TARGET_LAG_GAP_MS:g} ms of none: {reading['p99_ms']:.3f} - {none['p99_ms']:.3f}"
              f" = {gap:+.3f} ms (median of window p99s: {window_gap:+.3f} ms)"
              f" -> {_common.verdict(verdicts['lag_gap'])}")
    print(f"total {elapsed:.0f}s")
    path = _common.write_results("control_socket", {
        "args": vars(args), "elapsed_s": elapsed,
        "targets": {"rtt_p99_ms_max": TARGET_RTT_P99_MS, "lag_p99_gap_ms_max": TARGET_LAG_GAP_MS,
                    "met": verdicts},
        "round_trip": rtt, "dispatch": lag,
    })
    print(f"results: {path}")
    return 0


def dispatch_and_print(tmp: Path, env: dict, args) -> dict:
    print(f"dispatch lag (scheduled_at -> started_at) of an `echo tick` job every"
          f" {args.interval * 1000:g} ms, {args.windows} rounds of {args.fires}-fire windows:",
          flush=True)
    lag = dispatch(tmp, env, args)
    rows = []
    for condition, s in lag["summary"].items():
        rows.append([condition, s["n"], s["p50_ms"], s["p99_ms"], s["max_ms"],
                     s["median_window_p99_ms"],
                     " ".join(f"{p:.2f}" for p in s["window_p99s_ms"]),
                     s["skipped_fires"], s["host_cpu_ms_per_fire"]])
    print(_common.table(["subscribers", "fires", "p50 ms", "p99 ms", "max ms", "med win p99",
                         "window p99s", "skipped", "host CPU ms/fire"], rows))
    for window in lag["windows"]:
        if "received" in window:
            r = window["received"]
            print(f"  round {window['round'] + 1} {window['condition']}: events per connection"
                  f" {r['per_connection_min']}-{r['per_connection_max']}, by type {r['by_type']},"
                  f" closed by host {r['closed_by_host']}")
    if "50 reading" in lag["summary"]:
        pairs = [r - n for r, n in zip(lag["summary"]["50 reading"]["window_p99s_ms"],
                                       lag["summary"]["none"]["window_p99s_ms"])]
        lag["paired_window_p99_gaps_ms"] = pairs
        print("  per round, window p99 with 50 reading - with none: "
              + " ".join(f"{p:+.2f}" for p in pairs) + f" ms (median {_common.median(pairs):+.2f})")
    print("  machine (all CPUs) busy per window, %: " + "; ".join(
        f"{c} " + " ".join(f"{w['machine_busy_pct']:.0f}" for w in lag["windows"]
                           if w["condition"] == c) for c in lag["conditions"]))
    if lag["host_unretrieved_task_errors"]:
        print(f"  host log: {lag['host_unretrieved_task_errors']} x ERROR 'Task exception was never"
              " retrieved' (a subscriber's hang-up read, ConnectionResetError)")
    if lag["host_warnings"]:
        print("host warnings/errors:\n  " + "\n  ".join(lag["host_warnings"]))
    return lag


if __name__ == "__main__":
    sys.exit(main())
