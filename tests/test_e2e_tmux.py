"""The installed `synctui` console in a real terminal (tmux): keys in, screen text out."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from factories import wait_until
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.store import Store

SYNCTUI = Path(sys.executable).parent / "synctui"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    """A detached tmux session on a private server, 100x30, running one command."""

    def __init__(self, tmp_path: Path, command: str) -> None:
        self.socket = f"synctui-test-{uuid.uuid4().hex[:8]}"
        self.exit_file = tmp_path / "exit-status"
        script = f"cd {tmp_path} && {command}; echo $? > {self.exit_file}"
        self._tmux("new-session", "-d", "-x", "100", "-y", "30", script)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10)
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p")

    def press(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def shows(self, *texts: str, timeout: float = 15.0) -> bool:
        return wait_until(lambda: all(t in self.screen() for t in texts), timeout=timeout)

    def exit_status(self, timeout: float = 20.0) -> int | None:
        if not wait_until(lambda: self.exit_file.exists() and self.exit_file.read_text(), timeout):
            return None
        return int(self.exit_file.read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def terminal(tmp_path):
    opened = []

    def open_terminal(command: str) -> Terminal:
        term = Terminal(tmp_path, command)
        opened.append(term)
        return term

    yield open_terminal
    for term in opened:
        term.close()


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
