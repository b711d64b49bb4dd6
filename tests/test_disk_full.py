"""A full disk under the store, for real: the state directory on a small tmpfs (mounted
here, which needs root; CI runs as root), filled to its last byte, then freed."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from factories import job, request, wait_until
from synctui.scheduler.events import EventBus
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.runner import Runner
from synctui.scheduler.store import Store, StoreFull
from store_contract import T0


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    place = tmp_path / "disk"
    place.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(place)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"no tmpfs here: {done.stderr.strip()}")
    yield place
    subprocess.run(["umount", "-l", str(place)], check=True)


def _fill(place: Path) -> Path:
    """Write until the disk refuses; the file that filled it."""
    filler = place / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    with filler.open("ab", buffering=0) as out:  # and the last few bytes
        for size in (4096, 512, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError:
                pass
    return filler


def _store_on(place: Path) -> Store:
    store = Store(place / "state")
    # An empty write-ahead log: every write needs room the disk no longer has.
    with sqlite3.connect(store.path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store


def test_a_write_to_a_full_disk_says_so_and_leaves_the_store_intact(small_disk, caplog):
    store = _store_on(small_disk)
    filler = _fill(small_disk)
    with pytest.raises(StoreFull, match=r"synctui\.db: cannot write the history store: the disk"
                                        r" is full"):
        store.begin_run("orders", Trigger.MANUAL, T0, T0)
    filler.unlink()
    record = store.begin_run("orders", Trigger.MANUAL, T0, T0)
    assert store.run(record.id).result is Result.RUNNING
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_result_that_finds_the_disk_full_is_recorded_once_there_is_room(small_disk, caplog):
    caplog.set_level(logging.INFO, "synctui")
    store = _store_on(small_disk)
    runner = Runner(store, EventBus())
    gate = small_disk.parent / "gate"
    handle = runner.start(request(job(command=f"while [ ! -e {gate} ]; do sleep 0.02; done")))
    # Its process session stored: the run is going, with nothing left to write but its end.
    assert wait_until(lambda: store.orphans()[0].session is not None)
    filler = _fill(small_disk)
    gate.touch()  # the job ends on a full disk
    assert not handle.wait(timeout=2.5).finished_at, "recorded with no room?"
    assert "its result (success) waits for room" in caplog.text
    filler.unlink()
    record = handle.wait(timeout=10)
    assert handle.done and record.result is Result.SUCCESS
    assert store.run(record.id).result is Result.SUCCESS
    assert "its result recorded, the disk has room again" in caplog.text
    assert not [entry for entry in caplog.records if entry.exc_info]
