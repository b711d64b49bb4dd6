"""Shared fixtures: a real store in a temporary state directory, a bus and a runner."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from commandline import Host, isolated_env
from installed import check_installed
from month_of_runs import write_month
from terminal import Terminal
from synctui.scheduler.events import EventBus
from synctui.scheduler.runner import Runner
from synctui.scheduler.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "state")
    yield store
    store.close()


@pytest.fixture(scope="session")
def month(tmp_path_factory) -> Path:
    """The state directory of a month of runs (`month_of_runs`), written once a session:
    tests read it and never write to it."""
    state_dir = tmp_path_factory.mktemp("month") / "state"
    write_month(state_dir).close()
    return state_dir


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def runner(store, bus):
    return Runner(store, bus)


@pytest.fixture(autouse=True)
def _no_inherited_config(monkeypatch):
    for name in ("SYNCTUI_CONFIG", "SYNC_INTERVAL_MINUTES", "SCHEDULER_TIMEZONE",
                 "AUTOREFRESH_INTERVAL_MINUTES", "ENABLE_AUTOREFRESH_FALLBACK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", os.environ.get("PATH", os.defpath))


@pytest.fixture
def env(tmp_path):
    return isolated_env(tmp_path)


@pytest.fixture
def shared_dir():
    """A directory other users may traverse (pytest's own temporary directories are private)."""
    place = Path(tempfile.mkdtemp(prefix="synctui-group-"))
    place.chmod(0o711)
    yield place
    shutil.rmtree(place)


@pytest.fixture
def hosts(env):
    """Start `synctui --headless` processes (`hosts.with_env(config, environ)` in another
    environment); whatever is still running is stopped at the end."""
    started: list[Host] = []

    def start(config: Path, *args: str) -> Host:
        return with_env(config, env, *args)

    def with_env(config: Path, environment: dict[str, str], *args: str) -> Host:
        host = Host(config, environment, args, len(started))
        started.append(host)
        return host

    start.with_env = with_env
    yield start
    for host in started:
        host.end()


@pytest.fixture
def terminal(tmp_path):
    """Open `synctui` consoles in real terminals (tmux); all are closed at the end."""
    opened: list[Terminal] = []

    def open_terminal(command: str) -> Terminal:
        term = Terminal(tmp_path, command)
        opened.append(term)
        return term

    yield open_terminal
    for term in opened:
        term.close()


def pytest_sessionstart(session):
    with tempfile.TemporaryDirectory() as root:
        check_installed(isolated_env(Path(root)))
