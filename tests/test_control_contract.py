"""The control contract: in-process (`SyncScheduler`), over the control socket (`RemoteControl`),
as a console attached to a host sees it (`SharedScheduler`), and the fallback
(`FallbackControl`, running due jobs itself)."""

from __future__ import annotations

import pytest

from contract import QUICK, ControlContract
from factories import config
from synctui.config.model import AutorefreshSettings
from synctui.scheduler.control import Refused
from synctui.scheduler.control_client import RemoteControl
from synctui.scheduler.fallback import FallbackControl
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


class TestTheFallback(ControlContract):
    """`FallbackControl`, with `[autorefresh] enabled`, over the store alone."""

    @pytest.fixture
    def control(self, tmp_path):
        made = []

        def begin(jobs):
            plain = config(tmp_path, jobs)
            fallback = FallbackControl(
                type(plain)(plain.scheduler, AutorefreshSettings(True, 3600), plain.control,
                            plain.jobs),
                reason="the store is locked", refresh_s=0.1,
            )
            fallback.begin()
            made.append(fallback)
            return fallback

        yield begin
        for fallback in made:
            fallback.shutdown(grace=0)

    def test_skip_next_drops_the_announced_next_run(self, control):
        """The fallback keeps no fire times of its own: a skip is refused, with what to do."""
        fallback = control({"quick": QUICK})
        announced = fallback.status().jobs["quick"].next_run
        with pytest.raises(Refused, match="no next fire time to skip; p pauses it"):
            fallback.skip_next("quick")
        assert fallback.status().jobs["quick"].next_run == announced
