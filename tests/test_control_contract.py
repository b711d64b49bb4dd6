"""The control contract against the in-process implementation (`SyncScheduler`)."""

from __future__ import annotations

import pytest

from contract import ControlContract
from factories import config
from synctui.scheduler.sync_scheduler import SyncScheduler


@pytest.fixture
def control(tmp_path):
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
