"""One scheduler per state directory, shared by every process: standby, takeover, handover,
and every subcommand acting through the live host. Real processes and real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from commandline import history, runs_of, synctui, write_config
from factories import config, finished, next_event, wait_until
from synctui.config.loading import load_config
from synctui.scheduler.control import Mode, Refused
from synctui.scheduler.control_client import RemoteControl
from synctui.scheduler.events import StateChanged
from synctui.scheduler.host_lock import HostLock
from synctui.scheduler.protocol import PROTOCOL_VERSION
from synctui.scheduler.records import Result
from synctui.scheduler.shared import SharedScheduler
from synctui.scheduler.store import Store
from synctui.scheduler.sync_scheduler import SyncScheduler


def _host_record(config: Path):
    store = Store(config.parent / "state")
    try:
        return store.host()
    finally:
        store.close()


def test_a_second_headless_is_a_standby_that_takes_over_a_killed_host_within_2s(
    tmp_path, env, hosts
):
    config = write_config(tmp_path, """
        [jobs.job]
        command = "echo started $SYNCTUI_RUN_ID; sleep 30"
        interval = "300ms"
    """)
    first = hosts(config)
    first.wait_for(r"^job\| started 1$", stdout=True)
    second = hosts(config)
    second.wait_for(r"already hosts .*; waiting as its standby")
    assert "pid" in second.stderr() and "headless" in second.stderr()

    os.kill(first.pid, signal.SIGKILL)
    killed = time.monotonic()
    second.wait_for(r"took over hosting from pid", timeout=5)
    took = time.monotonic() - killed
    assert took < 2.0, f"took over after {took:.2f}s"

    # Later runs proceed (the first host may have recorded a skip before the kill).
    later = int(second.wait_for(r"^job\| started ([2-9]|\d\d+)$", stdout=True).group(1))
    runs = {run["id"]: run for run in runs_of(config, env, "job")}
    assert runs[1]["result"] == "interrupted"
    assert runs[later]["result"] == "running"
    assert _host_record(config).pid == second.pid
    second.send(signal.SIGTERM)
    assert second.exit_status() == 0


def test_every_subcommand_acts_through_the_live_host(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.quick]
        command = "echo hello from quick"
        interval = "1h"
        manual_cooldown_seconds = 0

        [jobs.long]
        command = "echo long started; sleep 30"
        interval = "1h"
    """)
    host = hosts(config)
    host.wait_ready()

    def cli(*args: str):
        return synctui(*args, "--config", str(config), env=env, cwd=tmp_path)

    status = json.loads(cli("status", "--json").stdout)
    assert status["host"]["pid"] == host.pid and status["host"]["mode"] == "headless"
    socket = Path(status["host"]["socket"])
    assert stat.S_ISSOCK(socket.stat().st_mode)
    assert stat.S_IMODE(socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700

    waited = cli("run", "quick", "--wait")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout == "hello from quick\n"
    assert f"through the running scheduler (pid {host.pid}, headless)" in waited.stderr
    assert "run 1: success" in waited.stderr

    started = cli("run", "long")
    assert started.returncode == 0 and "run 2 of long started" in started.stderr
    host.wait_for(r"^long\| long started$", stdout=True)
    assert "already running" in cli("run", "long").stderr
    cancelled = cli("cancel", "long")
    assert cancelled.returncode == 0, cancelled.stderr
    assert wait_until(lambda: history(config, env, "--job", "long")[0]["result"] == "cancelled")

    skipped = cli("skip", "quick")
    assert skipped.returncode == 0 and "will be skipped" in skipped.stdout

    paused = cli("pause", "quick")
    assert paused.returncode == 0 and "through the running scheduler" in paused.stdout
    assert json.loads(cli("status", "--json").stdout)["jobs"]["quick"]["paused"] is True
    assert cli("resume").returncode == 0
    assert json.loads(cli("status", "--json").stdout)["jobs"]["quick"]["paused"] is False

    assert cli("stop").returncode == 0
    assert json.loads(cli("status", "--json").stdout)["running"] is False
    assert "already stopped" in cli("stop").stderr
    assert cli("start").returncode == 0
    assert json.loads(cli("status", "--json").stdout)["running"] is True
    restarted = cli("restart")
    assert restarted.returncode == 0 and "scheduler restarted" in restarted.stdout

    assert [run["trigger"] for run in history(config, env)] == ["manual", "manual"]
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    assert not socket.exists()  # a host that stops takes its socket with it


def test_another_config_on_the_same_state_directory_is_said_plainly(tmp_path, env, hosts):
    jobs = """
        [jobs.job]
        command = "true"
        interval = "1h"
    """
    config = write_config(tmp_path, jobs)
    other = write_config(tmp_path, jobs, name="other.toml")  # the same state_dir
    host = hosts(config)
    host.wait_ready()
    status = synctui("status", "--config", str(other), env=env, cwd=tmp_path)
    assert status.returncode == 0
    assert status.stderr == (
        f"synctui: warning: the scheduler of this state directory (pid {host.pid}, headless)"
        f" runs another config, {config}: what it says is of its jobs\n")
    standby = hosts(other)
    standby.wait_for(f"WARNING the host runs another config, {config}, not {other}: these"
                     " jobs wait")


def test_a_run_of_a_job_a_reload_removed_can_be_cancelled(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.long]
        command = "echo started; sleep 30"
        interval = "1h"

        [jobs.other]
        command = "true"
        interval = "1h"
    """)
    host = hosts(config)
    host.wait_ready()
    assert synctui("run", "long", "--config", str(config), env=env, cwd=tmp_path).returncode == 0
    host.wait_for(r"^long\| started$", stdout=True)
    config.write_text(config.read_text().split("[jobs.long]")[0] + "[jobs.other]\n"
                      'command = "true"\ninterval = "1h"\n')
    host.send(signal.SIGHUP)
    host.wait_for(r"config reloaded: 1 jobs \(added: none; removed: long\)")

    def cancel():
        return synctui("cancel", "long", "--config", str(config), env=env, cwd=tmp_path)

    asked = cancel()
    assert asked.returncode == 0, asked.stderr
    assert wait_until(lambda: [run["result"] for run in history(config, env)
                               if run["job"] == "long"] == ["cancelled"])
    gone = cancel()  # nothing of it runs now: the name is unknown
    assert gone.returncode == 2 and "no job named 'long'" in gone.stderr


def test_once_refuses_while_a_host_runs_unless_it_names_a_job(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.good]
        command = "echo fine"
        interval = "1h"

        [jobs.bad]
        command = "echo broken; exit 3"
        interval = "1h"
    """)
    host = hosts(config)
    host.wait_ready()

    def once(*args: str):
        return synctui("--headless", "--once", *args, "--config", str(config), env=env,
                       cwd=tmp_path)

    refused = once()
    assert refused.returncode == 2
    assert f"a scheduler already runs these jobs (pid {host.pid}, headless)" in refused.stderr
    assert "Traceback" not in refused.stderr

    good = once("--job", "good")
    assert good.returncode == 0, good.stderr
    assert good.stdout == "fine\n"
    bad = once("--job", "bad")
    assert bad.returncode == 1
    assert "failure" in bad.stderr
    assert synctui("pause", "bad", "--config", str(config), env=env, cwd=tmp_path).returncode == 0
    paused = once("--job", "bad")  # paused is off, for --once too
    assert (paused.returncode, paused.stdout) == (0, "")
    assert "bad: paused, not run (synctui resume bad)" in paused.stderr
    runs = history(config, env)
    assert [(run["job"], run["trigger"], run["result"]) for run in runs] == [
        ("bad", "manual", "failure"), ("good", "manual", "success")]
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0


def test_with_no_host_the_subcommands_act_alone_and_say_so(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.quick]
        command = "echo alone"
        interval = "1h"
    """)

    def cli(*args: str):
        return synctui(*args, "--config", str(config), env=env, cwd=tmp_path)

    ran = cli("run", "quick", "--wait")
    assert ran.returncode == 0 and "no scheduler is running: it runs here" in ran.stderr
    paused = cli("pause", "quick")
    assert "no scheduler is running: remembered for the next one" in paused.stdout
    assert json.loads(cli("status", "--json").stdout)["host"] is None
    assert cli("cancel", "quick").returncode == 1


@pytest.mark.parametrize("kind", ["no socket file", "dead host"])
def test_a_stale_socket_is_replaced_by_the_next_host(tmp_path, env, hosts, kind):
    config = write_config(tmp_path, """
        [jobs.job]
        command = "true"
        interval = "1h"
    """)
    first = hosts(config)
    first.wait_ready()
    socket = Path(_host_record(config).socket)
    os.kill(first.pid, signal.SIGKILL)
    first.exit_status()
    if kind == "no socket file":
        socket.unlink()
        socket.write_text("planted")
    second = hosts(config)
    second.wait_ready()
    assert stat.S_ISSOCK(socket.stat().st_mode)
    status = json.loads(synctui("status", "--json", "--config", str(config), env=env,
                                cwd=tmp_path).stdout)
    assert status["host"]["pid"] == second.pid


# --- a console's hold on the scheduler (SharedScheduler, in this process) ---------------


def test_a_console_attached_to_a_host_that_stops_takes_over(tmp_path):
    jobs = {"quick": {"command": "echo hi", "interval_s": 0.2}}
    host = SyncScheduler(config(tmp_path, jobs), tick_s=0.1)
    host.start()
    console = SharedScheduler(config(tmp_path, jobs), takeover_wait_s=0.1, tick_s=0.1)
    console.open()
    try:
        assert (console.mode, console.hosting) == (Mode.ATTACHED, False)
        events = console.subscribe()
        assert finished(events, "quick").result is Result.SUCCESS  # the host's runs, streamed
        host.shutdown(grace=0)
        next_event(events, lambda e: e == StateChanged(None, "host-lost"))
        next_event(events, lambda e: e == StateChanged(None, "hosting"))
        assert (console.mode, console.hosting) == (Mode.IN_PROCESS, True)
        assert finished(events, "quick").result is Result.SUCCESS  # its own runs now
    finally:
        console.shutdown(grace=0)


def test_a_headless_stopped_on_purpose_is_not_taken_over_by_its_consoles(tmp_path, env, hosts):
    """`systemctl stop`: the jobs stop. An attached console waits for the next host, and
    hosts them itself only when its operator starts the scheduler (s)."""
    path = write_config(tmp_path, """
        [jobs.tick]
        command = "true"
        interval = "200ms"
    """)
    first = hosts(path)
    first.wait_ready()
    console = SharedScheduler(load_config(path), takeover_wait_s=0.1, tick_s=0.1)
    console.open()
    try:
        events = console.subscribe()
        first.send(signal.SIGTERM)
        next_event(events, lambda e: e == StateChanged(None, "host-stopping"))
        next_event(events, lambda e: e == StateChanged(None, "host-lost"))
        assert first.exit_status() == 0
        assert wait_until(lambda: console.mode == Mode.WAITING)
        assert console.reason == (f"its host (pid {first.pid}, headless) was stopped by its"
                                  " operator; waiting for the next host (s hosts it here)")
        with pytest.raises(AssertionError):  # a second is five takeover waits
            next_event(events, lambda e: e == StateChanged(None, "hosting"), timeout=0.5)
        assert console.mode == Mode.WAITING and _host_record(path) is None  # nobody hosts

        second = hosts(path)  # the service started again: the console attaches
        second.wait_ready()
        next_event(events, lambda e: e == StateChanged(None, "attached"))
        assert console.attached_to["pid"] == second.pid
        second.send(signal.SIGTERM)
        assert second.exit_status() == 0
        assert wait_until(lambda: console.mode == Mode.WAITING)
        console.start()  # the operator's s
        assert (console.mode, console.hosting) == (Mode.IN_PROCESS, True)
        assert _host_record(path).pid == os.getpid()
        assert finished(events, "tick").result is Result.SUCCESS  # its own runs now
    finally:
        console.shutdown(grace=0)


def test_a_console_that_cannot_take_over_falls_back_to_the_store(tmp_path):
    jobs = {"quick": {"command": "echo hi", "interval_s": 3600}}
    host = SyncScheduler(config(tmp_path, jobs), tick_s=0.1)
    host.start()
    console = SharedScheduler(config(tmp_path, jobs), takeover_wait_s=1.0, tick_s=0.1)
    console.open()
    try:
        events = console.subscribe()
        socket = host.server.path
        host.shutdown(grace=0)
        next_event(events, lambda e: e == StateChanged(None, "host-lost"))
        socket.mkdir()  # something in the socket's place that cannot be replaced
        (socket / "in-the-way").touch()
        next_event(events, lambda e: e == StateChanged(None, "fallback"))
        assert console.mode == Mode.FALLBACK
        assert console.status().jobs["quick"].name == "quick"  # still answers
    finally:
        console.shutdown(grace=0)


def test_a_console_opened_while_a_one_shot_holds_the_lock_waits_for_it_then_hosts(tmp_path):
    """A `run` or `--once` holds the lock without serving: the console opens at once,
    waiting (it shows the store meanwhile), and hosts when the lock is let go."""
    jobs = {"quick": {"command": "echo hi", "interval_s": 3600}}
    Store(tmp_path / "state").close()
    one_shot = HostLock(tmp_path / "state")
    assert one_shot.acquire()
    console = SharedScheduler(config(tmp_path, jobs), tick_s=0.1)
    try:
        console.open()
        assert console.mode == Mode.WAITING
        assert console.reason.endswith("already hosts"
                                       f" {tmp_path / 'state'}; hosting once it ends")
        events = console.subscribe()
        assert list(console.status().jobs) == ["quick"]  # read from the store meanwhile
        with pytest.raises(Refused, match="hosting once it ends"):
            console.run_now("quick")
        one_shot.release()
        next_event(events, lambda e: e == StateChanged(None, "hosting"))
        assert (console.mode, console.reason) == (Mode.IN_PROCESS, None)
    finally:
        console.shutdown(grace=0)
        one_shot.release()


def test_a_guest_console_only_attaches_and_waits_between_hosts(tmp_path):
    """A `[control] group` member's hold (`guest`): never hosts, never falls back."""
    jobs = {"quick": {"command": "echo hi", "interval_s": 3600}}
    guest = SharedScheduler(config(tmp_path, jobs), guest=True)
    with pytest.raises(Refused, match="not attached to a scheduler yet"):
        guest.status()
    with pytest.raises(Refused, match="no scheduler runs for .* to attach to"):
        guest.open()
    assert not (tmp_path / "state" / "host.lock").exists()  # it did not try to host

    first = SyncScheduler(config(tmp_path, jobs), tick_s=0.1)
    first.start()
    other = SharedScheduler(config(tmp_path, jobs))
    guest = SharedScheduler(config(tmp_path, jobs), guest=True)
    try:
        guest.open()
        other.open()
        assert (guest.mode, guest.attached_to["pid"]) == (Mode.ATTACHED, os.getpid())
        assert first.attached_consoles == 1  # the other console: a guest cannot take over
        events = guest.subscribe()
        guest.run_now("quick")
        assert finished(events, "quick").result is Result.SUCCESS
        other.shutdown()
        first.shutdown(grace=0)
        next_event(events, lambda e: e == StateChanged(None, "host-lost"))
        assert wait_until(lambda: guest.mode == Mode.WAITING)
        assert "cannot host it; waiting for the next host" in guest.reason
        waiting = guest.status()
        assert (waiting.running, waiting.host, waiting.jobs["quick"].running) == (False, None, False)
        with pytest.raises(Refused, match="comes back with the next"):
            guest.history("quick")

        second = SyncScheduler(config(tmp_path, jobs), tick_s=0.1)
        second.start()
        try:
            next_event(events, lambda e: e == StateChanged(None, "attached"))
            assert guest.mode == Mode.ATTACHED and guest.status().running
            assert [run.job for run in guest.history("quick")] == ["quick"]
        finally:
            second.shutdown(grace=0)
    finally:
        guest.shutdown()


def test_reload_through_the_socket_takes_the_new_config_and_refuses_a_broken_one(
    tmp_path, env, hosts
):
    jobs = """
        [jobs.first]
        command = "true"
        interval = "1h"
    """
    config = write_config(tmp_path, jobs)
    host = hosts(config)
    host.wait_ready()
    remote = RemoteControl(Path(_host_record(config).socket))
    try:
        write_config(tmp_path, jobs + """
        [jobs.second]
        command = "true"
        interval = "1h"
        """)
        assert remote.reload() == "config reloaded: 2 jobs"
        assert set(remote.status().jobs) == {"first", "second"}

        config.write_text(config.read_text() + "\n[jobs.third]\ninterval = 15\n")
        with pytest.raises(Refused, match="the new config is invalid; still running the previous"):
            remote.reload()
        assert set(remote.status().jobs) == {"first", "second"}
    finally:
        remote.close()


def test_a_host_that_goes_away_in_the_middle_of_a_request_is_one_line(tmp_path, env):
    """A host killed while it answers: the command says so in a line, never a traceback."""
    config = write_config(tmp_path, """
        [jobs.tick]
        command = "true"
        interval = "1h"
    """)
    state = tmp_path / "state"
    state.mkdir()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(state / "control.sock"))
    listener.listen(8)
    greeting = {"synctui": "0", "protocol": PROTOCOL_VERSION, "pid": os.getpid(),
                "mode": "headless", "config": str(config), "state_dir": str(state)}

    def greet_then_die() -> None:
        for _ in range(4):  # the command's connection: greeted, its request read, then cut
            connection, _ = listener.accept()
            connection.sendall(json.dumps(greeting).encode() + b"\n")
            connection.recv(65536)
            connection.close()

    server = threading.Thread(target=greet_then_die, daemon=True)
    server.start()
    try:
        done = synctui("status", "--config", str(config), env=env, cwd=tmp_path)
    finally:
        listener.close()
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert "went away; try again" in done.stderr
