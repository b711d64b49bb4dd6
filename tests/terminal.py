"""The installed `synctui` console in a real terminal: a tmux session, keys in, screen text out."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from factories import wait_until

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    """A detached tmux session on a private server, 100x30, running one command."""

    def __init__(self, tmp_path: Path, command: str) -> None:
        self.socket = f"synctui-test-{uuid.uuid4().hex[:8]}"
        self.exit_file = tmp_path / f"exit-status-{self.socket}"
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

