"""The control socket under abuse: other users, bad and huge requests, half-open connections,
crowds of clients and slow subscribers. The server must stay up and the scheduler on time."""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commandline import synctui
from factories import config, wait_until
from installed import PYTHON, SYNCTUI
from synctui.scheduler.control import Refused
from synctui.scheduler.control_client import RemoteControl
from synctui.scheduler.protocol import MAX_REQUEST_BYTES, PROTOCOL_VERSION, READ_OPERATIONS
from synctui.scheduler.records import Trigger
from synctui.scheduler.sync_scheduler import SyncScheduler
from users import NOBODY, STRANGER, as_user, group_config, needs_other_users, user_home

TICKING = {"command": "true", "interval_s": 0.1}


@pytest.fixture
def host(tmp_path):
    """A scheduler serving its socket, with a job firing every 100 ms."""
    scheduler = SyncScheduler(config(tmp_path, {"tick": TICKING}), tick_s=0.1)
    scheduler.start()
    yield scheduler
    scheduler.shutdown(grace=0)


def _connect(path: Path) -> tuple[socket.socket, dict]:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(10)
    client.connect(str(path))
    return client, json.loads(_read_line(client))


def _read_line(client: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = client.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _ask(client: socket.socket, raw: bytes) -> dict:
    client.sendall(raw)
    return json.loads(_read_line(client))


def _on_time(scheduler: SyncScheduler, since: float) -> list[float]:
    """How late each scheduled run since `since` (epoch seconds) started, in seconds."""
    return [
        (run.started_at - run.scheduled_at).total_seconds()
        for run in scheduler.history("tick", limit=1000)
        if run.trigger is Trigger.SCHEDULED and run.started_at.timestamp() >= since
    ]


def test_the_greeting_names_the_protocol_and_the_host(host):
    client, greeting = _connect(host.server.path)
    assert greeting["protocol"] == PROTOCOL_VERSION
    assert greeting["pid"] == os.getpid() and greeting["mode"] == "console"
    assert greeting["state_dir"] == str(host.config.scheduler.state_dir)
    client.close()


def test_bad_requests_get_an_error_reply_and_the_connection_goes_on(host):
    client, _ = _connect(host.server.path)
    assert "malformed request: not JSON" in _ask(client, b"{nope\n")["error"]
    assert "expected a JSON object" in _ask(client, b"[1, 2]\n")["error"]
    unknown = _ask(client, b'{"id": 3, "op": "format-disk"}\n')
    assert unknown["id"] == 3 and "unknown op 'format-disk'" in unknown["error"]
    assert "needs 'job'" in _ask(client, b'{"id": 4, "op": "run"}\n')["error"]
    assert "'limit' must be int" in _ask(client, b'{"op": "history", "limit": "9"}\n')["error"]
    # An argument given as null is one not given: its default, or "needs" when it has none.
    assert _ask(client, b'{"op": "history", "limit": null, "before_id": null}\n')["ok"]
    assert "needs 'job'" in _ask(client, b'{"op": "run", "job": null}\n')["error"]
    assert "'before_id' must be a run id" in _ask(
        client, b'{"op": "history", "before_id": 9223372036854775808}\n')["error"]
    refused = _ask(client, b'{"id": 5, "op": "run", "job": "ghost"}\n')
    assert refused["refused"] and "no job named 'ghost'" in refused["error"]
    assert _ask(client, b'{"id": 6, "op": "status"}\n')["ok"]
    for bad, says in ((b'"cells": 100000, "window_s": 3600', "cells must be between 1 and"),
                      (b'"cells": 60, "window_s": -1', "'window_s' must be a positive"),
                      (b'"cells": 60, "window_s": 1e12', "at most ten years"),
                      (b'"cells": 60, "window_s": 60, "jobs": "all"', "'jobs' must be a list")):
        assert says in _ask(client, b'{"op": "timeline", ' + bad + b'}\n')["error"]
    assert _ask(client, b'{"op": "timeline", "cells": 60, "window_s": 3600}\n')["ok"]
    client.close()


def test_a_read_only_connection_reads_everything_and_steers_nothing(host, caplog):
    viewer = RemoteControl(host.server.path, client="guest", read_only=True)
    try:
        events = viewer.subscribe()
        assert set(viewer.status().jobs) == {"tick"} and viewer.timeline(600.0, 10).lanes
        assert wait_until(lambda: viewer.history("tick"))
        before = len(host.history("tick", limit=1000))
        steering = [lambda: viewer.run_now("tick"), lambda: viewer.cancel("tick"),
                    viewer.pause, viewer.resume, lambda: viewer.skip_next("tick"),
                    viewer.stop, viewer.start, viewer.restart, viewer.reload, viewer.handover]
        for steer in steering:
            with pytest.raises(Refused, match="read-only: it steers nothing"):
                steer()
        assert events.get(timeout=5)  # its event stream goes on
        status = host.status()
        assert status.running and not status.paused and not status.jobs["tick"].paused
        assert not any(run.trigger is Trigger.MANUAL for run in host.history("tick", limit=1000))
        assert len(host.history("tick", limit=1000)) >= before
        refused = [r for r in caplog.records if getattr(r, "event", "") == "control_read_only"]
        assert len(refused) == len(steering)
    finally:
        viewer.close()
    # Read-only is the connection's for good: a later request cannot drop it.
    client, _ = _connect(host.server.path)
    assert _ask(client, b'{"op": "status", "read_only": true}\n')["ok"]
    refused = _ask(client, b'{"id": 9, "op": "pause"}\n')
    assert refused["refused"] and refused["id"] == 9 and not host.status().paused
    assert "unknown op [1]" in _ask(client, b'{"op": [1]}\n')["error"]  # not "refused"
    client.close()


@pytest.mark.parametrize("nesting", [b"[" * 30_000, b'{"a":' * 12_000])
def test_deeply_nested_json_gets_an_error_reply_not_a_traceback(host, nesting, caplog):
    client, _ = _connect(host.server.path)
    assert len(nesting) < MAX_REQUEST_BYTES
    reply = _ask(client, nesting + b"\n")
    assert "malformed request: nested too deeply" in reply["error"]
    assert _ask(client, b'{"op": "status"}\n')["ok"]  # the connection goes on
    client.close()
    assert not [r for r in caplog.records if r.exc_info]


def test_an_oversized_request_is_refused_and_its_connection_closed(host):
    client, _ = _connect(host.server.path)
    reply = _ask(client, b'{"op": "status", "pad": "' + b"x" * (2 * MAX_REQUEST_BYTES) + b'"}\n')
    assert f"request too large (limit {MAX_REQUEST_BYTES} bytes)" in reply["error"]
    assert _read_line(client) == b""  # closed
    client.close()
    assert RemoteControl(host.server.path).status().running  # the server goes on


FUZZ_EXAMPLES = int(os.environ.get("SYNCTUI_FUZZ_EXAMPLES", "60"))
"""Examples per property: 60 in the suite; `bench/fuzz.py` runs them by the ten thousand."""
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(garbage=st.binary(max_size=4096), close_early=st.booleans())
def test_random_bytes_never_stop_the_server(host, garbage, close_early):
    client, _ = _connect(host.server.path)
    client.sendall(garbage)
    if not close_early:
        client.sendall(b"\n")
        client.shutdown(socket.SHUT_WR)
        _read_line(client)
    client.close()
    assert RemoteControl(host.server.path).status().jobs["tick"].name == "tick"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=200),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=8),
    max_leaves=40,
)
_FIELDS = ("id", "job", "limit", "before_id", "cells", "window_s", "jobs", "read_only", "client",
           "full", "since", "window", "reason", "events")


@FUZZ
@given(op=st.sampled_from([op for op in READ_OPERATIONS if op != "subscribe"])
          | st.text(max_size=20) | _JSON,
       fields=st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=12), _JSON,
                              max_size=6))
def test_requests_with_wrong_fields_each_get_one_reply_and_no_traceback(host, op, fields, caplog):
    # Every operation that reads, with random fields of random types (a subscription
    # aside: it answers with a stream); the connection is read-only, so whatever the
    # fuzzer finds, nothing is steered.
    client, _ = _connect(host.server.path)
    try:
        assert _ask(client, b'{"op": "status", "read_only": true}\n')["ok"]
        reply = _ask(client, json.dumps({**fields, "op": op}).encode() + b"\n")
        assert reply.get("ok") or reply.get("error")
        assert _ask(client, b'{"op": "status"}\n')["ok"]  # the connection goes on
    finally:
        client.close()
    assert not [r for r in caplog.records if r.exc_info]


def test_crowds_half_open_connections_and_a_stalled_subscriber_leave_the_scheduler_on_time(host):
    since = time.time()
    half_open = [_connect(host.server.path)[0] for _ in range(50)]  # connect, then say nothing
    stalled, _ = _connect(host.server.path)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b'{"op": "subscribe"}\n')  # ...and never reads its events

    answers: list[bool] = []

    def client() -> None:
        remote = RemoteControl(host.server.path)
        answers.append(all(remote.status().running for _ in range(3)))
        remote.close()

    crowd = [threading.Thread(target=client) for _ in range(200)]
    for thread in crowd:
        thread.start()
    for thread in crowd:
        thread.join(30)
    assert answers.count(True) == 200

    time.sleep(1.0)  # let the job fire through the crowd's aftermath
    lags = _on_time(host, since)
    assert len(lags) >= 5
    assert max(lags) < 1.0, f"fires started up to {max(lags):.3f}s late"
    for connection in (*half_open, stalled):
        connection.close()
    assert RemoteControl(host.server.path).status().running


def test_connections_coming_while_the_server_closes_are_ended_with_it(tmp_path, monkeypatch,
                                                                      caplog):
    """The hour-long soak found a stop that left a connection's task to die with its loop
    ("Task was destroyed but it is pending!", "Event loop is closed"): one accepted just
    before the close, not yet counted among the connections. The race is narrow: before
    the fix this found it in 6 of 30 stops on a loaded machine, in none on an idle one."""
    left: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda hook: left.append(repr(hook.exc_value)))
    caplog.set_level(logging.ERROR, logger="asyncio")
    for n in range(30):  # each stop has a few connections in flight
        scheduler = SyncScheduler(config(tmp_path / str(n), {"tick": TICKING}), tick_s=0.1)
        scheduler.start()
        path, closing = scheduler.server.path, threading.Event()

        def knock() -> None:
            while not closing.is_set():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                    try:
                        client.connect(str(path))
                    except OSError:
                        pass  # the socket is gone: the stop is over

        knockers = [threading.Thread(target=knock) for _ in range(4)]
        for thread in knockers:
            thread.start()
        scheduler.shutdown(grace=0)
        closing.set()
        for thread in knockers:
            thread.join()
        gc.collect()  # a task left pending is destroyed, and says so, when collected
    assert not left
    assert not [r.getMessage() for r in caplog.records if r.name == "asyncio"]


_GREETING = """
import socket, sys
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.settimeout(5)
try:
    client.connect(sys.argv[1])
except OSError as error:
    sys.exit(f"OSError: {error.strerror}")
print(client.makefile().readline(), end="")
"""


def _greeting(uid: int, path: Path, cwd: Path) -> str:
    """The first line the socket at `path` says to `uid`, or the OSError it got."""
    done = as_user(uid, [PYTHON, "-c", _GREETING, str(path)], user_home(cwd, uid), cwd)
    return done.stdout or done.stderr


# The users these tests switch to run the installed synctui (see users.py).


@needs_other_users
def test_other_users_are_refused_and_members_of_the_control_group_accepted(shared_dir, hosts):
    config_path = group_config(shared_dir)
    hosts(config_path).wait_ready()
    path = shared_dir / "state" / "control.sock"
    assert stat.S_IMODE(path.stat().st_mode) == 0o660 and path.stat().st_gid == NOBODY
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750

    member = json.loads(_greeting(NOBODY, path, shared_dir))
    assert member["protocol"] == PROTOCOL_VERSION

    # A stranger: the socket's mode stops it first...
    assert "Permission denied" in _greeting(STRANGER, path, shared_dir)
    # ...and were the mode too loose, the server checks the peer itself.
    path.chmod(0o666)
    path.parent.chmod(0o755)
    refused = json.loads(_greeting(STRANGER, path, shared_dir))
    assert refused == {"ok": False, "error": refused["error"], "denied": True}
    assert refused["error"].startswith(f"uid {STRANGER} (pid ")


def _member(shared_dir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    """`synctui ARGS --config CONFIG`, installed, run by a member of the control group."""
    return as_user(NOBODY, [SYNCTUI, *args, "--config", str(config)], user_home(shared_dir),
                   shared_dir)


@needs_other_users
def test_a_control_group_member_steers_the_host_without_reading_its_store(
    shared_dir, env, hosts
):
    path = group_config(shared_dir)
    host = hosts(path)
    host.wait_ready()
    for private in (shared_dir / "state").glob("synctui.db*"):
        private.chmod(0o600)  # as under the unit's UMask=0077

    store = shared_dir / "state" / "synctui.db"
    opened = as_user(NOBODY, [PYTHON, "-c", "import sys; open(sys.argv[1], 'rb')", str(store)],
                     user_home(shared_dir), shared_dir)
    assert opened.returncode == 1 and "PermissionError" in opened.stderr
    paused = _member(shared_dir, path, "pause", "work")
    assert paused.returncode == 0, paused.stderr
    seen = json.loads(_member(shared_dir, path, "status", "--json").stdout)
    assert seen["host"]["pid"] == host.pid and seen["jobs"]["work"]["paused"] is True
    status = synctui("status", "--json", "--config", str(path), env=env, cwd=shared_dir)
    assert json.loads(status.stdout)["jobs"]["work"]["paused"] is True


@needs_other_users
def test_a_control_group_member_reads_the_run_logs_and_nothing_else(shared_dir, env, hosts):
    path = group_config(shared_dir)
    hosts(path).wait_ready()
    ran = synctui("run", "work", "--wait", "--config", str(path), env=env, cwd=shared_dir)
    assert ran.returncode == 0, ran.stderr
    for private in (shared_dir / "state").glob("synctui.db*"):
        private.chmod(0o600)  # as under the unit's UMask=0077
    logs = shared_dir / "state" / "logs"
    log = logs / "work" / "1.log"
    for place, mode in ((logs, 0o750), (logs / "work", 0o750), (log, 0o640)):
        info = place.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (mode, NOBODY), place

    read = _member(shared_dir, path, "logs", "work")
    assert (read.returncode, read.stdout, read.stderr) == (0, "hello from run 1\n", "")
    status = _member(shared_dir, path, "status")  # through the host
    assert status.returncode == 0 and "work" in status.stdout.splitlines()[-1], status

    log.chmod(0o600)  # as a log written before the group was set
    read = _member(shared_dir, path, "logs", "work")
    assert (read.returncode, read.stdout) == (1, "")
    assert read.stderr == f"synctui: {log}: cannot read the log of run 1: Permission denied\n"


def test_a_state_dir_too_long_for_a_socket_path_serves_from_a_private_runtime_dir(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    deep = tmp_path / ("a-long-directory-name-" * 5) / "state"
    scheduler = SyncScheduler(config(tmp_path, {"tick": TICKING}, state_dir=deep), tick_s=0.1)
    scheduler.start()
    try:
        path = scheduler.server.path
        assert path.parent == tmp_path / "run" / f"synctui-{os.getuid()}"
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert scheduler.status().host.socket == str(path)  # what `status --json` names
        assert RemoteControl(path).status().running
    finally:
        scheduler.shutdown(grace=0)
    assert not path.exists()


def test_a_subscriber_that_falls_behind_is_told_how_many_events_it_missed(tmp_path):
    flood = {"command": "seq 1 300000", "interval_s": 3600, "manual_cooldown_s": 0}
    scheduler = SyncScheduler(config(tmp_path, {"flood": flood}), tick_s=0.1)
    scheduler.start()
    try:
        slow, _ = _connect(scheduler.server.path)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert _ask(slow, b'{"op": "subscribe"}\n')["ok"]
        record = scheduler.run_now("flood")  # reading nothing meanwhile
        assert wait_until(lambda: scheduler.history("flood")[0].finished, timeout=30)
        slow.settimeout(1)
        received = b""
        try:
            while chunk := slow.recv(1 << 20):
                received += chunk
        except TimeoutError:
            pass  # all sent
        events = [json.loads(line)["event"] for line in received.splitlines()]
        assert events[0]["type"] == "run-started" and events[0]["run"]["id"] == record.id
        missed = [event["count"] for event in events if event["type"] == "missed"]
        assert missed and all(count > 0 for count in missed)
        lines = sum(len(event["lines"]) for event in events if event["type"] == "output")
        assert lines < 300_000  # some were dropped, and it was told so
        assert events[-1]["type"] == "missed"  # the last word: fetch the status to catch up
        slow.close()
        assert RemoteControl(scheduler.server.path).history("flood")[0].finished
    finally:
        scheduler.shutdown(grace=0)


def test_a_host_that_takes_the_connection_but_never_answers_is_not_taken_for_a_dead_one(tmp_path):
    """A stopped or swamped host's socket still queues connections: that is a host alive
    but silent (the command line says so), not a dead one whose jobs may run elsewhere."""
    from synctui.scheduler.control_client import HostUnreachable

    path = tmp_path / "control.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)  # never accepts, as a SIGSTOPped host's socket
    try:
        with pytest.raises(HostUnreachable) as raised:
            RemoteControl(path, timeout=0.2)
        assert raised.value.silent and not raised.value.denied
        assert str(raised.value) == (f"the host at {path} does not answer (no reply in 0.2s):"
                                     " it may be stopped or overloaded")
    finally:
        listener.close()
    with pytest.raises(HostUnreachable) as raised:
        RemoteControl(path, timeout=0.2)  # nobody listens any more: gone
    assert not raised.value.silent
