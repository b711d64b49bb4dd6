"""The built-in demo: its jobs sync real SQLite files in child processes, as synctui runs them."""

from __future__ import annotations

import dataclasses
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from factories import request
from synctui.config.model import Config
from synctui.demo import demo_config
from synctui.demo.shop import BATCH_SIZE
from synctui.scheduler.records import Result
from synctui.scheduler.runner import Runner


@pytest.fixture
def demo(tmp_path):
    """The demo's config, its jobs made instant."""
    config = demo_config(tmp_path / "state", "America/Sao_Paulo")
    jobs = {
        name: dataclasses.replace(job, env={**job.env, "SYNCTUI_DEMO_SPEED": "0"})
        for name, job in config.jobs.items()
    }
    return dataclasses.replace(config, jobs=jobs)


@pytest.fixture
def zoned_runner(store, bus):
    # A zone with an offset, so the job has to compare times in UTC itself.
    return Runner(store, bus, zone=ZoneInfo("America/Sao_Paulo"))


def orders(demo: Config, database: str) -> list[tuple]:
    path = demo.scheduler.state_dir / "demo" / database
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT * FROM orders ORDER BY id").fetchall()


def run_child(demo: Config, function: str, run_id: int, last_success: str = "") -> str:
    """Run a demo job in a child interpreter by hand; its output, or an error if it failed."""
    env = {
        **os.environ,
        **demo.jobs["orders"].env,
        "SYNCTUI_JOB": "orders",
        "SYNCTUI_RUN_ID": str(run_id),
        "SYNCTUI_TRIGGER": "manual",
        "SYNCTUI_ATTEMPT": "1",
        "SYNCTUI_SCHEDULED_AT": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "SYNCTUI_LAST_SUCCESS_AT": last_success,
    }
    child = subprocess.run(
        [sys.executable, "-m", "synctui.scheduler.callable_child", f"synctui.demo.shop:{function}"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=30,
    )
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, child.args, child.stdout)
    return child.stdout


def upserted(output: str) -> int:
    return sum(int(n) for n in re.findall(r"^batch \d+/\d+: upserted (\d+) rows$", output, re.M))


def test_first_run_copies_every_order(zoned_runner, demo):
    record = zoned_runner.run(request(demo.jobs["orders"]))
    assert record.result is Result.SUCCESS, record.error
    output = record.log_path.read_text()
    source = orders(demo, "source.db")
    assert len(source) > 200
    assert f"fetched {len(source)} orders (first sync: copying everything)\n" in output
    assert upserted(output) == len(source)
    assert output.endswith(f"replica now holds {len(source)} orders\n")
    assert orders(demo, "replica.db") == source


def test_next_run_copies_only_what_changed_since_the_last_success_started(zoned_runner, demo):
    first = zoned_runner.run(request(demo.jobs["orders"]))
    second = zoned_runner.run(request(demo.jobs["orders"]))
    assert second.result is Result.SUCCESS, second.error

    since = first.started_at.astimezone(timezone.utc).isoformat(timespec="microseconds")
    source = orders(demo, "source.db")
    changed = [row for row in source if row[3] >= since]
    assert 0 < len(changed) < len(source) / 4
    output = second.log_path.read_text()
    assert f"fetched {len(changed)} changed orders since {since}\n" in output
    assert upserted(output) == len(changed)
    assert orders(demo, "replica.db") == source


def test_failing_run_leaves_only_whole_batches_and_the_next_run_catches_up(demo):
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_child(demo, "sync_orders", run_id=5)  # 5 % 6 == 5: a simulated outage
    output = failed.value.output
    assert failed.value.returncode == 1
    assert output.splitlines()[-1] == "ConnectionError: upstream shop API timed out (simulated)"
    assert "replica now holds" not in output

    source = set(orders(demo, "source.db"))
    replica = orders(demo, "replica.db")
    assert 0 < len(replica) == upserted(output) < len(source)
    assert len(replica) % BATCH_SIZE == 0  # the failing batch was rolled back whole
    assert set(replica) <= source

    # Last success never moved, so the next run copies everything again.
    run_child(demo, "sync_orders", run_id=6)
    assert orders(demo, "replica.db") == orders(demo, "source.db")


def test_report_summarises_the_replica(zoned_runner, demo):
    empty = zoned_runner.run(request(demo.jobs["report"]))
    assert empty.result is Result.SUCCESS, empty.error
    assert "replica holds 0 orders" in empty.log_path.read_text()

    zoned_runner.run(request(demo.jobs["orders"]))
    replica = orders(demo, "replica.db")
    record = zoned_runner.run(request(demo.jobs["report"]))
    assert record.result is Result.SUCCESS, record.error
    total = sum(row[2] for row in replica) / 100
    assert record.log_path.read_text() == (
        f"replica holds {len(replica)} orders worth ${total:,.2f}\n"
        f"newest change: {max(row[3] for row in replica)}\n"
    )


def test_demo_config_keeps_its_state_under_the_given_directory(tmp_path):
    config = demo_config(tmp_path, "Europe/Lisbon")
    assert config.name == "demo" and config.path is None
    assert config.scheduler.state_dir == tmp_path
    assert config.scheduler.timezone == "Europe/Lisbon"
    assert config.scheduler.catch_up == "last"
    assert set(config.jobs) == {"orders", "report"}

    sync, report = config.jobs["orders"], config.jobs["report"]
    assert sync.callable == "synctui.demo.shop:sync_orders" and sync.command is None
    assert sync.interval_s == 30.0 and sync.cron is None and sync.run_on_start
    assert (sync.timeout_s, sync.retries, sync.retry_backoff_s) == (60.0, 1, 5.0)
    assert report.callable == "synctui.demo.shop:report"
    assert report.interval_s is None and report.cron.expression == "* * * * *"
    assert report.cron.cron == "* * * * *"
    for job in (sync, report):
        assert dict(job.env) == {"SYNCTUI_DEMO_DIR": str(tmp_path / "demo")}


def test_demo_imports_neither_textual_nor_rich():
    probe = (
        "import sys, synctui.demo, synctui.demo.shop; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
