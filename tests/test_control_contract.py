"""The control contract: in-process (`SyncScheduler`), over the control socket (`RemoteControl`),
and as a console attached to a host sees it (`SharedScheduler`)."""

from __future__ import annotations

import pytest

from contract import ControlContract
from factories import config
from synctui.scheduler.control_client import RemoteControl
from synctui.scheduler.shared import SharedScheduler
from synctui.scheduler.sync_scheduler import SyncScheduler


@pytest.fixture
def hosted(tmp_path):
    """Start a `SyncScheduler` serving its control socket; all are shut down at the end."""
    started = []

    def start(jobs):
        scheduler = SyncScheduler(config(tmp_path, jobs), tick_s=0.1)
        scheduler.start()
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        scheduler.shutdown(grace=0)


class TestInProcess(ControlContract):
    """`SyncScheduler` keeps the contract."""

    @pytest.fixture
    def control(self, hosted):
        return hosted


class TestOverTheSocket(ControlContract):
    """`RemoteControl`, attached to a host through its real Unix socket, keeps it too."""

    @pytest.fixture
    def control(self, hosted):
        clients = []

        def attach(jobs):
            scheduler = hosted(jobs)
            client = RemoteControl(scheduler.server.path, client="console")
            clients.append(client)
            return client

        yield attach
        for client in clients:
            client.close()


class TestAConsoleAttached(ControlContract):
    """`SharedScheduler`, the console's hold on the scheduler, attached to another host."""

    @pytest.fixture
    def control(self, hosted):
        consoles = []

        def attach(jobs):
            scheduler = hosted(jobs)
            console = SharedScheduler(scheduler.config)
            console.open()
            consoles.append(console)
            return console

        yield attach
        for console in consoles:
            console.shutdown(grace=0)
