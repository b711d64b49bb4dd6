"""A console attached to a scheduler another process hosts, driven with Pilot over a real
control socket: what it shows, what asks first, and quitting without stopping the host."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import factories
from commandline import synctui
from factories import wait_until
from installed import SYNCTUI
from pilot import badge, drive, notifications, until
from synctui.scheduler.records import Result
from synctui.scheduler.shared import SharedScheduler
from synctui.scheduler.sync_scheduler import SyncScheduler
from synctui.tui.app import SyncTuiApp
from synctui.tui.questions import ConfirmScreen, QuitScreen
from terminal import needs_tmux
from users import NOBODY, as_user, group_config, in_shell_as, needs_other_users, user_home

LONG = {"command": "echo started; sleep 30", "interval_s": 3600, "manual_cooldown_s": 0}


@pytest.fixture
def attached(tmp_path):
    """(app, host): a console attached to a scheduler hosted elsewhere (here: in this process)."""
    host = SyncScheduler(factories.config(tmp_path, {"long": LONG}), mode="headless", tick_s=0.1)
    host.start()
    console = SharedScheduler(host.config)
    console.open()
    app = SyncTuiApp(console, config=console.config, config_name="test", zone=ZoneInfo("UTC"),
                     demo=False)
    app.animation_level = "none"
    yield app, host
    console.shutdown(grace=0)
    host.shutdown(grace=0)


def test_stop_pause_all_and_cancel_ask_first_and_act_on_the_host(attached):
    app, host = attached

    async def scenario(pilot):
        await until(pilot, lambda: "attached" in badge(app) and app.selected is not None)
        details = str(app.query_one("#details").render())
        assert f"pid {os.getpid()} · headless" in details

        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert host.is_running  # "no" did nothing

        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: "every job paused" in notifications(app))
        # Told it is done, the console shows it at once: the next `P` resumes.
        assert host.status().paused and "paused" in badge(app)
        await pilot.press("P")  # resuming all asks nothing
        await until(pilot, lambda: not host.status().paused and "attached" in badge(app))

        await pilot.press("r")  # neither does a run
        await until(pilot, lambda: app.selected.running)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not host.status().jobs["long"].running)
        assert host.history("long")[0].result.value == "cancelled"

        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not host.is_running)
        await until(pilot, lambda: "stopped" in badge(app))

    drive(app, scenario)


def test_quitting_an_attached_console_leaves_the_host_running(attached):
    app, host = attached

    async def scenario(pilot):
        await until(pilot, lambda: "attached" in badge(app))
        await pilot.press("r")
        await until(pilot, lambda: host.status().jobs["long"].running)
        await pilot.press("q")  # no question: the runs are the host's

    drive(app, scenario)
    assert app.return_code == 0  # it quit, without asking
    assert host.is_running and host.status().jobs["long"].running


def test_quitting_a_hosting_console_with_one_attached_hands_over_after_the_run(tmp_path):
    gate = tmp_path / "gate"
    job = {"command": f"echo started; until [ -e {gate} ]; do sleep 0.05; done; echo done",
           "interval_s": 3600}
    host = SyncScheduler(factories.config(tmp_path, {"job": job}), tick_s=0.1)
    host.start()
    other = SharedScheduler(host.config, takeover_wait_s=0.1)
    other.open()
    app = SyncTuiApp(host, config=host.config, config_name="test", zone=ZoneInfo("UTC"),
                     demo=False)
    app.animation_level = "none"

    async def scenario(pilot):
        await until(pilot, lambda: app.selected is not None)
        await pilot.press("r")
        await until(pilot, lambda: app.selected.running)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        question = str(app.screen.query_one("#question").render())
        assert "job is running" in question and "1 other console is attached" in question
        await pilot.press("h")
        gate.touch()  # the run ends once the console has chosen to hand over after it
        await until(pilot, lambda: app.return_code is not None)

    try:
        drive(app, scenario)
        assert host.history("job")[0].result is Result.SUCCESS  # it ran to its end
        assert wait_until(lambda: other.hosting)
        assert other.status().running
    finally:
        other.shutdown(grace=0)
        host.shutdown(grace=0)


@needs_tmux
@needs_other_users
def test_a_control_group_member_attaches_steers_and_waits_for_the_next_host(
    shared_dir, env, hosts, terminal
):
    """A member of `[control] group` can neither read the store nor host: its console (the
    installed one, in a real terminal) attaches, steers, waits while no host runs and
    attaches to the next one."""
    path = group_config(shared_dir)
    member = user_home(shared_dir)
    first = hosts(path)
    first.wait_ready()
    assert synctui("run", "work", "--wait", "--config", str(path), env=env,
                   cwd=shared_dir).returncode == 0
    for private in (shared_dir / "state").glob("synctui.db*"):
        private.chmod(0o600)  # as under the unit's UMask=0077

    setting = " ".join(f"{name}={value}" for name, value in member.items() if name != "TERM")
    console = terminal(f"cd {shared_dir} && env -i TERM=$TERM {setting} "
                       + in_shell_as(NOBODY, f"{SYNCTUI} --config {path}"))
    assert console.shows("attached", f"pid {first.pid}"), console.screen()
    assert console.shows("hello from run 1"), console.screen()  # the group may read the log
    console.press("r")
    assert console.shows("hello from run 2", "✓ success"), console.screen()
    first.send(signal.SIGKILL)
    assert console.shows("… waiting", "its host is gone and this user cannot host"), console.screen()
    second = hosts(path)
    second.wait_ready()
    assert console.shows("attached", f"pid {second.pid}"), console.screen()
    console.press("r")
    assert console.shows("hello from run 3"), console.screen()
    console.press("q")
    assert console.exit_status() == 0
    assert second.process.poll() is None  # the console only detached
    with sqlite3.connect(shared_dir / "state" / "synctui.db") as db:
        runs = db.execute("SELECT trigger, result, host_pid FROM runs ORDER BY id").fetchall()
    assert runs == [("manual", "success", first.pid)] * 2 + [("manual", "success", second.pid)]
    assert (Path(member["HOME"]) / ".local/state/synctui/log/synctui-console.log").is_file()

    second.end()  # with no scheduler to attach to, the member is told so before any screen
    alone = as_user(NOBODY, [SYNCTUI, "--config", str(path)], member, shared_dir)
    assert alone.returncode == 2 and alone.stdout == ""
    assert alone.stderr.startswith("synctui: ") and alone.stderr.endswith(
        "; and no scheduler runs there that this user may attach to"
        " (is it owned by the service's user? try `sudo -u USER synctui ...`)\n"), alone.stderr
