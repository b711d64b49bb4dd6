"""Re-syncs and backfills: `run --full`, `run --since`, `backfill`, and the watermark they
move or leave, asserted on what each real run was told."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from commandline import SYNCTUI, history, synctui, write_config
from factories import wait_until
from synctui.scheduler.backfill import BadMoment, Step, parse_moment, windows
from synctui.scheduler.schema import MIGRATIONS
from synctui.scheduler.store import Store

BERLIN = ZoneInfo("Europe/Berlin")

# Each run appends what it was told: trigger|last success|full|window start|window end.
# It fails while the file `fail` names its window's start, and sleeps while `slow` exists.
_JOB = """
    [jobs.sync]
    command = '''
    printf '%s|%s|%s|%s|%s\\n' "$SYNCTUI_TRIGGER" "$SYNCTUI_LAST_SUCCESS_AT" "$SYNCTUI_FULL" \\
        "$SYNCTUI_WINDOW_START" "$SYNCTUI_WINDOW_END" >> seen.txt
    if [ -e slow ]; then echo $$ > job.pid; exec sleep 300; fi
    if [ -e fail ] && [ "$(cat fail)" = "$SYNCTUI_WINDOW_START" ]; then echo broken; exit 1; fi
    '''
    interval = "1h"
"""


def _seen(folder) -> list[list[str]]:
    path = folder / "seen.txt"
    return [line.split("|") for line in path.read_text().splitlines()] if path.exists() else []


def _run(config, env, *args):
    done = synctui("run", "sync", "--wait", *args, "--config", str(config), env=env,
                   cwd=config.parent)
    assert done.returncode == 0, done.stderr
    return history(config, env, "--job", "sync")[0]


def _started(run: dict, zone) -> str:
    return datetime.fromisoformat(run["started_at"]).astimezone(zone).isoformat(
        timespec="microseconds")


def _state(config):
    store = Store(config.parent / "state")
    try:
        return store.job_state("sync")
    finally:
        store.close()


@pytest.mark.timeout(60)
def test_full_and_since_runs_are_told_their_start_and_move_the_watermark_only_when_covering(
    tmp_path, env,
):
    config = write_config(tmp_path, _JOB, zone="America/Sao_Paulo")
    zone = ZoneInfo("America/Sao_Paulo")
    first = _run(config, env)
    second = _run(config, env)
    assert _seen(tmp_path)[-1] == ["manual", _started(first, zone), "", "", ""]

    # A --since after the watermark is told its moment, and moves nothing.
    _run(config, env, "--since", "2099-01-01T00:00")
    assert _seen(tmp_path)[-1][:3] == ["manual", "2099-01-01T00:00:00.000000-03:00", ""]
    assert _state(config).watermark == datetime.fromisoformat(second["started_at"])
    assert _state(config).last_success_started_at == datetime.fromisoformat(second["started_at"])
    _run(config, env)
    assert _seen(tmp_path)[-1][1] == _started(second, zone)  # not 2099, not the --since run

    # A --since at or before the watermark covers everything since: it moves it.
    before = _run(config, env, "--since", "2020-01-01T00:00:00+00:00")
    assert _seen(tmp_path)[-1][1] == "2019-12-31T21:00:00.000000-03:00"
    _run(config, env)
    assert _seen(tmp_path)[-1][1] == _started(before, zone)

    full = _run(config, env, "--full")
    assert _seen(tmp_path)[-1] == ["manual", "", "1", "", ""]
    _run(config, env)
    assert _seen(tmp_path)[-1] == ["manual", _started(full, zone), "", "", ""]


def test_a_bad_since_is_a_one_line_error(tmp_path, env):
    config = write_config(tmp_path, _JOB)
    bad = synctui("run", "sync", "--since", "yesterday", "--config", str(config), env=env,
                  cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "synctui: run --since: 'yesterday' is not an ISO-8601 time (2026-01-03 or"
        " 2026-01-03T04:00, optionally with an offset)"]
    both = synctui("run", "sync", "--since", "2026-01-01", "--full", "--config", str(config),
                   env=env, cwd=tmp_path)
    assert both.returncode == 2 and "not allowed with" in both.stderr
    assert not _seen(tmp_path)


def _backfill(config, env, *args, timeout=30):
    return synctui("backfill", "sync", "--from", "2026-03-28", "--to", "2026-03-31", *args,
                   "--config", str(config), env=env, cwd=config.parent, timeout=timeout)


@pytest.mark.timeout(60)
def test_a_backfill_runs_each_day_of_the_zone_stops_at_a_failure_and_resumes(tmp_path, env):
    config = write_config(tmp_path, _JOB, zone="Europe/Berlin")
    (tmp_path / "fail").write_text("2026-03-29T00:00:00.000000+01:00\n")
    failed = _backfill(config, env)
    assert failed.returncode == 1, failed.stderr
    lines = [line for line in failed.stderr.splitlines() if line.startswith("window")]
    assert re.fullmatch(r"window 1/3 2026-03-28T00:00\+01:00 → 2026-03-29T00:00\+01:00:"
                        r" success in [\d.]+s", lines[0]), lines
    assert re.fullmatch(r"window 2/3 2026-03-29T00:00\+01:00 → 2026-03-30T00:00\+02:00:"
                        r" failure in [\d.]+s: exit status 1: broken", lines[1]), lines
    assert len(lines) == 2 and "run it again to resume" in failed.stderr

    (tmp_path / "fail").unlink()
    resumed = _backfill(config, env)
    assert resumed.returncode == 0, resumed.stderr
    assert "window 1/3 2026-03-28T00:00+01:00 → 2026-03-29T00:00+01:00: succeeded before," \
           " skipped" in resumed.stderr
    assert re.search(r"^window 3/3 2026-03-30T00:00\+02:00 → 2026-03-31T00:00\+02:00: success",
                     resumed.stderr, re.M)
    # Each run was told its window (the day across the DST change has 23 hours), and that
    # window's start as the moment to sync from.
    assert _seen(tmp_path) == [
        ["backfill", "2026-03-28T00:00:00.000000+01:00", "",
         "2026-03-28T00:00:00.000000+01:00", "2026-03-29T00:00:00.000000+01:00"],
        ["backfill", "2026-03-29T00:00:00.000000+01:00", "",
         "2026-03-29T00:00:00.000000+01:00", "2026-03-30T00:00:00.000000+02:00"],
        ["backfill", "2026-03-29T00:00:00.000000+01:00", "",
         "2026-03-29T00:00:00.000000+01:00", "2026-03-30T00:00:00.000000+02:00"],
        ["backfill", "2026-03-30T00:00:00.000000+02:00", "",
         "2026-03-30T00:00:00.000000+02:00", "2026-03-31T00:00:00.000000+02:00"],
    ]
    assert [run["trigger"] for run in history(config, env)] == ["backfill"] * 4
    # Backfill successes move no watermark and count for no freshness.
    assert _state(config).watermark is None and _state(config).last_success_started_at is None
    _run(config, env)
    assert _seen(tmp_path)[-1] == ["manual", "", "", "", ""]
    assert _backfill(config, env).stderr.count("succeeded before, skipped") == 3


@pytest.mark.timeout(60)
def test_a_backfill_goes_through_the_running_scheduler(tmp_path, env, hosts):
    config = write_config(tmp_path, _JOB, zone="Europe/Berlin")
    host = hosts(config)
    host.wait_ready()
    done = _backfill(config, env, "--step", "36h")
    assert done.returncode == 0, done.stderr
    assert "2 windows through the running scheduler" in done.stderr
    assert re.search(r"^window 2/2 2026-03-29T13:00\+02:00 → 2026-03-31T00:00\+02:00: success",
                     done.stderr, re.M)
    host.wait_for(r"sync: run \d+ started \(backfill, window 2/2 2026-03-29T13:00\+02:00 →"
                  r" 2026-03-31T00:00\+02:00\)")
    assert [row[0] for row in _seen(tmp_path)] == ["backfill", "backfill"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "SIGTERM"])
def test_a_stopped_backfill_ends_the_window_run_and_starts_no_other(tmp_path, env, signum):
    config = write_config(tmp_path, _JOB, zone="Europe/Berlin")
    (tmp_path / "slow").touch()
    backfill = subprocess.Popen(
        [SYNCTUI, "backfill", "sync", "--from", "2026-03-28", "--to", "2026-03-31",
         "--config", str(config)], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    assert wait_until(lambda: (tmp_path / "job.pid").exists())
    backfill.send_signal(signum)
    assert backfill.wait(20) == 1
    stderr = backfill.stderr.read()
    assert "stopped; run it again to resume" in stderr
    ((run),) = history(config, env)
    assert (run["trigger"], run["result"]) == ("backfill", "interrupted")
    assert len(_seen(tmp_path)) == 1


def test_windows_are_calendar_steps_in_the_zone():
    start, end = parse_moment("2026-10-24", BERLIN), parse_moment("2026-10-27", BERLIN)
    lengths = [(b - a).total_seconds() / 3600 for a, b in windows(start, end, Step.parse("1d"), BERLIN)]
    assert lengths == [24, 25, 24]
    hourly = windows(start, parse_moment("2026-10-24T03:30", BERLIN), Step.parse("2h"), BERLIN)
    assert [b - a for a, b in hourly][-1].total_seconds() == 3600 * 1.5
    months = windows(parse_moment("2026-01-31", BERLIN), parse_moment("2026-04-30", BERLIN),
                     Step.parse("1mo"), BERLIN)
    assert [a.astimezone(BERLIN).day for a, _ in months] == [31, 28, 31]
    weeks = windows(start, parse_moment("2026-11-07", BERLIN), Step.parse("1w"), BERLIN)
    assert len(weeks) == 2
    for bad in ("1y", "0d", "d", "1.5h"):
        with pytest.raises(BadMoment, match="is not a step"):
            Step.parse(bad)
    with pytest.raises(BadMoment, match="--from must be before its --to"):
        windows(end, start, Step.parse("1d"), BERLIN)
    assert parse_moment("2026-01-03T04:00Z", BERLIN) == datetime(2026, 1, 3, 4, tzinfo=timezone.utc)


def test_an_older_store_takes_its_watermark_from_the_last_success(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    old = sqlite3.connect(state / "synctui.db")
    for script in MIGRATIONS[:3]:
        old.executescript(script)
    moment = datetime(2026, 1, 3, 4, tzinfo=timezone.utc)
    old.execute("INSERT INTO job_state (job, last_success_started_at) VALUES ('sync', ?)",
                (moment.timestamp(),))
    old.execute("PRAGMA user_version = 3")
    old.commit()
    old.close()
    store = Store(state)
    assert store.job_state("sync").watermark == moment
    store.close()


def test_run_with_offers_a_full_resync_and_a_since_in_the_console(tmp_path):
    from pilot import drive, notifications, until
    from synctui.scheduler.sync_scheduler import SyncScheduler
    from synctui.tui.app import SyncTuiApp
    from synctui.tui.run_with import RunWithScreen

    import factories

    seen = tmp_path / "seen.txt"
    command = (f'echo "$SYNCTUI_LAST_SUCCESS_AT|$SYNCTUI_FULL" >> {seen}')
    scheduler = SyncScheduler(factories.config(
        tmp_path, {"sync": {"command": command, "interval_s": 3600, "manual_cooldown_s": 0}}),
        mode="console")
    app = SyncTuiApp(scheduler, config=scheduler.config, config_name="test",
                     zone=ZoneInfo("UTC"), demo=False)
    app.animation_level = "none"
    scheduler.start()

    async def scenario(pilot):
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, RunWithScreen))
        await pilot.press(*"soon", "enter")
        await until(pilot, lambda: "'soon' is not an ISO-8601 time" in str(
            app.screen.query_one("#problem").render()))
        await pilot.press("ctrl+f")
        await until(pilot, lambda: "sync: run 1 started (full)" in notifications(app))
        await until(pilot, lambda: seen.exists() and len(seen.read_text().splitlines()) == 1)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, RunWithScreen))
        await pilot.press(*"2026-01-03T04:00", "enter")
        await until(pilot, lambda: "sync: run 2 started (since 2026-01-03T04:00:00+00:00)"
                    in notifications(app))
        await until(pilot, lambda: len(seen.read_text().splitlines()) == 2)

    try:
        drive(app, scenario)
    finally:
        scheduler.shutdown(grace=0)
    assert seen.read_text().splitlines() == ["|1", "2026-01-03T04:00:00.000000+00:00|"]


@pytest.mark.timeout(60)
def test_the_console_log_shows_the_backfill_window_and_its_progress(tmp_path, env, hosts):
    config = write_config(tmp_path, _JOB, zone="Europe/Berlin")
    host = hosts(config)
    host.wait_ready()
    done = _backfill(config, env)
    assert done.returncode == 0, done.stderr
    # The window's note leads the run's output, which the console's log shows live and
    # `synctui logs` shows after.
    assert done.stdout.splitlines()[0] == (
        "[synctui] window 1/3 2026-03-28T00:00+01:00 → 2026-03-29T00:00+01:00")
    run = history(config, env)[0]
    logs = synctui("logs", "sync", "--run", str(run["id"]), "--config", str(config), env=env,
                   cwd=tmp_path)
    assert logs.stdout.splitlines()[0] == (
        "[synctui] window 3/3 2026-03-30T00:00+02:00 → 2026-03-31T00:00+02:00")
