"""Fuzzing at the counts of a trusted system: 10,000 malformed configs and 10,000
malformed control-socket requests.

- Configs: the property tests of `tests/test_config_fuzz.py` (hypothesis, from the real
  schema: wrong types, unknown keys, bad cron, extremes, encodings, secrets that must
  never show in a message), each run for `--examples` examples: every file gives a
  config or clean error lines, never a crash.
- Requests: a real `synctui --headless` with a job firing every 100 ms gets
  `--requests` requests from a seeded generator: random bytes, JSON nested 30,000
  deep, JSON near and over the size limit, read operations with wrong fields of
  random types, requests cut short by a half-closed connection, and waves of 200
  connections at once. Every complete request must get exactly one reply; after all
  of them the host must be alive, its stderr free of tracebacks, and the job on time
  (its fire-to-start lag p99 through the campaign).

    .venv/bin/python bench/fuzz.py             # 10,000 of each
    .venv/bin/python bench/fuzz.py --quick     # a few of each
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common
from control_socket import LineClient, start_host, stop_host
from synctui.scheduler.protocol import MAX_REQUEST_BYTES

REPO = _common.BENCH_DIR.parent
LAG_P99_TARGET_MS = 100.0
READS = ("status", "history", "timeline")
FIELDS = ("id", "job", "limit", "before_id", "cells", "window_s", "jobs", "read_only",
          "client", "full", "since", "window")


def fuzz_configs(examples: int) -> dict:
    """The config property tests, `examples` examples each (run here, not under pytest:
    they need no fixture)."""
    os.environ["SYNCTUI_FUZZ_EXAMPLES"] = str(examples)  # read as the module is imported
    sys.path.insert(0, str(REPO / "tests"))
    import test_config_fuzz

    properties = [test for name, test in vars(test_config_fuzz).items()
                  if name.startswith("test_") and getattr(test, "is_hypothesis_test", False)]
    failures = []
    began = time.perf_counter()
    for test in properties:
        try:
            test()
        except Exception as failure:  # noqa: BLE001 -- the failure is the finding, reported
            failures.append(f"{test.__name__}: {failure!r}"[:2000])
    return {"properties": len(properties), "examples_each": examples,
            "configs": len(properties) * examples, "seconds": time.perf_counter() - began,
            "passed": not failures, "failures": failures}


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return rng.choice((0, -1, 2**63, -2**70, rng.randint(-10**6, 10**6)))
    if kind == 3:
        return rng.choice((1e308, -0.0, 3.5, 1e-300))
    if kind == 4:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(30)))
    if kind in (5, 6):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {str(_value(rng, 3)): _value(rng, depth + 1) for _ in range(rng.randrange(5))}


def requests(rng: random.Random, count: int):
    """(kind, bytes to send, whether a reply is due) of `count` malformed requests."""
    for number in range(count):
        kind = rng.choice(("bytes", "fields", "fields", "fields", "nested", "huge", "cut"))
        if kind == "bytes":
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2048)))
            yield kind, raw.replace(b"\n", b" ") + b"\n", True
        elif kind == "fields":
            fields = {rng.choice(FIELDS) if rng.random() < 0.7 else str(_value(rng, 3)):
                      _value(rng) for _ in range(rng.randrange(6))}
            op = rng.choice(READS) if rng.random() < 0.8 else _value(rng, 2)
            yield kind, json.dumps({**fields, "op": op, "id": number}).encode() + b"\n", True
        elif kind == "nested":
            opener = rng.choice((b"[", b'{"a":'))
            yield kind, opener * rng.choice((100, 3000, 30000)) + b"\n", True
        elif kind == "huge":
            size = rng.choice((MAX_REQUEST_BYTES - 100, MAX_REQUEST_BYTES + 10))
            yield kind, b'{"op": "status", "pad": "' + b"x" * size + b'"}\n', True
        else:
            yield kind, b'{"op": "history", "limit": ' + str(number).encode(), False


def ask(path: Path, raw: bytes, reply_due: bool) -> str:
    """One connection, one read-only request: 'replied', 'closed' or 'no reply'."""
    client = LineClient(path)  # the greeting read
    try:
        client.round_trip(b'{"op": "status", "read_only": true}\n')
        try:
            client.socket.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            return "closed"  # refused mid-send (over the size limit)
        client.socket.shutdown(socket.SHUT_WR)
        try:
            line = client.readline()
        except (RuntimeError, ConnectionResetError):  # hung up with no line
            return "no reply" if reply_due else "closed"
    finally:
        client.close()
    if not reply_due:
        return "replied"
    try:
        reply = json.loads(line)
    except ValueError:
        return "no reply"
    return "replied" if reply.get("ok") or reply.get("error") else "no reply"


def fuzz_socket(count: int, seed: int, tmp: Path) -> dict:
    state = tmp / "state"
    config = _common.write_config(tmp / "fuzz.toml", "\n".join((
        "[scheduler]", 'timezone = "UTC"', f'state_dir = "{state}"', "",
        "[jobs.tick]", 'command = ["true"]', 'interval = "0.1s"', "")))
    env = {k: v for k, v in os.environ.items() if k != "SYNCTUI_CONFIG"}
    host, path = start_host(config, tmp, env, "host")
    rng = random.Random(seed)
    outcomes: dict[str, dict[str, int]] = {}
    lock = threading.Lock()
    began = time.time()
    wall = time.perf_counter()

    def one(kind: str, raw: bytes, due: bool) -> None:
        try:
            outcome = ask(path, raw, due)
        except OSError as error:
            outcome = f"error {error.__class__.__name__}"
        with lock:
            outcomes.setdefault(kind, {}).setdefault(outcome, 0)
            outcomes[kind][outcome] += 1

    try:
        wave: list[threading.Thread] = []
        for number, (kind, raw, due) in enumerate(requests(rng, count)):
            if number % 10 == 0 and len(wave) < 200:  # a wave of 200 at once, now and then
                wave.append(threading.Thread(target=one, args=(kind, raw, due)))
                if len(wave) == 200:
                    for thread in wave:
                        thread.start()
                    for thread in wave:
                        thread.join(60)
                    wave = []
                continue
            one(kind, raw, due)
        for thread in wave:
            thread.start()
        for thread in wave:
            thread.join(60)
        alive = host.poll() is None
    finally:
        seconds = time.perf_counter() - wall
        log = stop_host(host, tmp, "host")
    with sqlite3.connect(state / "synctui.db") as db:
        lags = [row[0] for row in db.execute(
            "SELECT started_at - scheduled_at FROM runs WHERE trigger = 'scheduled'"
            " AND scheduled_at >= ?", (began,))]
    unanswered = sum(n for kind in outcomes.values() for outcome, n in kind.items()
                     if outcome not in ("replied", "closed"))
    return {"requests": count, "seconds": seconds, "outcomes": outcomes, "alive": alive,
            "unanswered": unanswered, "tracebacks": log.count("Traceback"),
            "lag_p99_ms": _common.percentile(lags, 99) * 1e3 if lags else None,
            "fires": len(lags)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000,
                        help="examples per config property (default 10,000)")
    parser.add_argument("--requests", type=int, default=10_000,
                        help="malformed socket requests (default 10,000)")
    parser.add_argument("--seed", type=int, default=1, help="the requests' seed (1)")
    args = _common.parse(parser, examples=20, requests=300)
    configs = fuzz_configs(args.examples)
    with tempfile.TemporaryDirectory() as tmp:
        sockets = fuzz_socket(args.requests, args.seed, Path(tmp))
    print(f"configs: {configs['configs']:,} ({configs['properties']} properties x"
          f" {configs['examples_each']:,}) in {configs['seconds']:.0f} s")
    for failure in configs["failures"]:
        print(f"  {failure}")
    rows = [(kind, ", ".join(f"{k} {v}" for k, v in sorted(found.items())))
            for kind, found in sorted(sockets["outcomes"].items())]
    print(f"socket: {sockets['requests']:,} requests in {sockets['seconds']:.0f} s")
    print(_common.table(("kind", "outcomes"), rows))
    lag = sockets["lag_p99_ms"]
    print(f"host alive: {sockets['alive']}; unanswered: {sockets['unanswered']}; tracebacks:"
          f" {sockets['tracebacks']}; job lag p99 over {sockets['fires']} fires:"
          f" {'n/a' if lag is None else f'{lag:.1f} ms'}")
    held = {
        "configs: every property held": configs["passed"],
        "socket: every request answered": sockets["unanswered"] == 0,
        "socket: host alive, no traceback": sockets["alive"] and sockets["tracebacks"] == 0,
        f"socket: job lag p99 < {LAG_P99_TARGET_MS:g} ms": lag is not None
                                                          and lag < LAG_P99_TARGET_MS,
    }
    for what, ok in held.items():
        print(f"{'held' if ok else 'FAILED'}: {what}")
    path = _common.write_results("fuzz", {"configs": configs, "socket": sockets, "held": held})
    print(f"results: {path}")
    return 0 if all(held.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
