"""The installed `synctui` console in a real terminal (tmux): keys in, screen text out."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.store import Store
from installed import SYNCTUI
from terminal import needs_tmux

pytestmark = needs_tmux


def write_config(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "ops.toml"
    path.write_text(
        '[scheduler]\ntimezone = "UTC"\nstate_dir = "state"\nshutdown_grace_seconds = 1\n'
        f'[jobs.quick]\ncommand = "{command}"\ninterval = "1h"\nmanual_cooldown_seconds = 0\n'
    )
    return path


def test_run_pause_and_quit_from_the_keyboard(tmp_path, terminal):
    config = write_config(tmp_path, "echo hello-from-quick; sleep 0.3; echo quick-done")
    term = terminal(f"{SYNCTUI} --config {config}")
    assert term.shows("quick", "new", "running"), term.screen()
    term.press("r")
    assert term.shows("hello-from-quick", "quick-done", "success"), term.screen()
    term.press("p")
    assert term.shows("paused"), term.screen()
    term.press("q")
    assert term.exit_status() == 0, term.screen()
    store = Store(tmp_path / "state")
    (run,) = store.runs("quick")
    assert (run.trigger, run.result) == (Trigger.MANUAL, Result.SUCCESS)
    assert store.job_state("quick").paused
    assert store.host() is None  # the console let go of the state directory


def test_sighup_records_the_running_job_interrupted(tmp_path, terminal):
    config = write_config(tmp_path, "echo started; sleep 30")
    term = terminal(f"{SYNCTUI} --config {config}")
    assert term.shows("quick", "new"), term.screen()
    term.press("r")
    assert term.shows("started"), term.screen()
    host = Store(tmp_path / "state").host()
    os.kill(host.pid, signal.SIGHUP)  # as when the SSH link drops
    assert term.exit_status() is not None, term.screen()
    (run,) = Store(tmp_path / "state").runs("quick")
    assert run.result is Result.INTERRUPTED
