"""Driving the installed `synctui` command in real processes, for the CLI and headless tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

from factories import wait_until
from installed import SYNCTUI

_NOT_INHERITED = (
    "SYNCTUI_CONFIG", "STATE_DIRECTORY", "SYNC_INTERVAL_MINUTES", "SCHEDULER_TIMEZONE",
    "AUTOREFRESH_INTERVAL_MINUTES", "ENABLE_AUTOREFRESH_FALLBACK", "PYTHONPATH",
)


# --- helpers shared with test_cli.py ------------------------------------------------


def isolated_env(root: Path) -> dict[str, str]:
    """The environment with HOME and every XDG directory inside `root`, where `python -m`
    never imports from the working directory (`PYTHONSAFEPATH`)."""
    home = root / "home"
    places = {
        "HOME": home, "XDG_CONFIG_HOME": home / ".config", "XDG_STATE_HOME": home / ".local/state",
        "XDG_DATA_HOME": home / ".local/share", "XDG_CACHE_HOME": home / ".cache",
        "XDG_RUNTIME_DIR": root / "runtime",
    }
    for place in places.values():
        place.mkdir(mode=0o700, parents=True, exist_ok=True)
    environ = {
        name: value for name, value in os.environ.items()
        if name not in _NOT_INHERITED and not name.startswith("XDG_")
    }
    return {**environ, "PYTHONSAFEPATH": "1", **{name: str(place) for name, place in places.items()}}


def write_config(
    folder: Path, jobs: str, *, zone: str = "UTC", grace: float = 0.5,
    name: str = "synctui.toml",
) -> Path:
    """A config file in `folder` with its state directory there too, and the given jobs."""
    path = folder / name
    path.write_text(
        "[scheduler]\n"
        f'timezone = "{zone}"\n'
        f'state_dir = "{folder / "state"}"\n'
        f"shutdown_grace_seconds = {grace}\n\n" + textwrap.dedent(jobs),
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def synctui(*args: str, env: dict[str, str], cwd: Path, timeout: float = 20):
    """Run the installed `synctui` with `args` to its end."""
    return subprocess.run(
        [SYNCTUI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def history(config: Path, env: dict[str, str], *args: str) -> list[dict]:
    """`synctui history --json` of the config, newest first."""
    done = synctui("history", "--json", "--limit", "1000", "--config", str(config), *args,
                   env=env, cwd=config.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def runs_of(config: Path, env: dict[str, str], job: str) -> list[dict]:
    """The job's runs that really ran (skip records left out), newest first."""
    return [run for run in history(config, env, "--job", job) if run["result"] != "skipped"]


class Host:
    """A `synctui --headless` process whose stdout and stderr go to files the test polls."""

    def __init__(self, config: Path, env: dict[str, str], args: tuple[str, ...], number: int):
        self.config = config
        self.out = config.parent / f"host{number}.out"
        self.err = config.parent / f"host{number}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [SYNCTUI, "--headless", "--config", str(config), *args],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=config.parent,
            )
        self.pid = self.process.pid

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, *, stdout: bool = False, timeout: float = 10.0) -> re.Match:
        """The first match of the regular expression in stderr (or stdout), waiting for it."""
        read = self.stdout if stdout else self.stderr
        assert wait_until(lambda: re.search(pattern, read(), re.M) or self.process.poll() is not None,
                          timeout), f"no {pattern!r} in {timeout}s:\n{read()}"
        found = re.search(pattern, read(), re.M)
        assert found, f"the host exited ({self.process.returncode}) before {pattern!r}:\n{self.stderr()}"
        return found

    def wait_ready(self) -> None:
        self.wait_for(r"running headless")

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def exit_status(self, timeout: float = 10.0) -> int:
        return self.process.wait(timeout)

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
