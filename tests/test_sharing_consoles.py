"""Consoles sharing one scheduler with each other and with headless hosts, in real terminals:
attach, handover between runs, takeover, and exactly one host for every fire time."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

from commandline import write_config
from factories import wait_until
from synctui.scheduler.store import Store
from installed import SYNCTUI
from terminal import needs_tmux

pytestmark = needs_tmux


def _host_pid(config: Path) -> int | None:
    store = Store(config.parent / "state")
    try:
        host = store.host()
        return host.pid if host else None
    finally:
        store.close()


def _runs(config: Path) -> list[tuple[int, str, float, float | None, int]]:
    """(id, result, scheduled_at, started_at, host pid) of every run that ran, oldest first."""
    with sqlite3.connect(config.parent / "state" / "synctui.db") as db:
        return db.execute(
            "SELECT id, result, scheduled_at, started_at, host_pid FROM runs"
            " WHERE result NOT IN ('skipped', 'missed') ORDER BY id"
        ).fetchall()


def test_a_console_hands_over_to_a_headless_between_runs_then_attaches(
    tmp_path, env, hosts, terminal
):
    config = write_config(tmp_path, """
        [jobs.work]
        command = "echo begin $SYNCTUI_RUN_ID; sleep 0.6; echo end $SYNCTUI_RUN_ID"
        interval = "300ms"
    """)
    console = terminal(f"{SYNCTUI} --config {config}")
    assert console.shows("work", "▶ running"), console.screen()
    assert wait_until(lambda: len(_runs(config)) >= 2)
    console_pid = _host_pid(config)

    headless = hosts(config)
    headless.wait_for(r"waiting as its standby")
    headless.wait_for(r"the hosting console says: handing over between runs")
    headless.wait_for(r"took over hosting from pid")
    assert _host_pid(config) == headless.pid
    headless.wait_for(r"^work\| begin \d+$", stdout=True)  # its own runs go on
    assert console.shows("⇄ attached"), console.screen()

    runs = _runs(config)
    assert "interrupted" not in [result for _, result, *_ in runs]  # between runs, truly
    pids = [pid for *_, pid in runs]
    switch = pids.index(headless.pid)
    assert set(pids[:switch]) == {console_pid} and set(pids[switch:]) == {headless.pid}

    console.press("q")  # attached: quits at once, and the host goes on
    assert console.exit_status() == 0, console.screen()
    assert _host_pid(config) == headless.pid and headless.process.poll() is None


def test_two_consoles_and_a_headless_run_each_fire_time_exactly_once(
    tmp_path, env, hosts, terminal
):
    config = write_config(tmp_path, """
        [jobs.tick]
        command = "echo $SYNCTUI_SCHEDULED_AT"
        interval = "100ms"
    """)
    first = terminal(f"{SYNCTUI} --config {config}")
    assert first.shows("tick", "▶ running"), first.screen()
    second = terminal(f"{SYNCTUI} --config {config}")
    assert second.shows("tick", "⇄ attached"), second.screen()
    assert wait_until(lambda: len(_runs(config)) >= 30, timeout=20)
    headless = hosts(config)
    headless.wait_for(r"took over hosting from pid")
    assert first.shows("⇄ attached") and second.shows("⇄ attached")
    assert wait_until(lambda: len(_runs(config)) >= 110, timeout=30)

    runs = _runs(config)
    scheduled = [at for _, _, at, *_ in runs]
    assert scheduled == sorted(scheduled) and len(set(scheduled)) == len(scheduled)
    # One host at a time: no two fire times closer than the interval allows...
    gaps = [later - earlier for earlier, later in zip(scheduled, scheduled[1:])]
    assert min(gaps) > 0.05, f"two runs {min(gaps) * 1000:.0f} ms apart"
    # ...and the hosts follow each other, never interleave.
    pids = [pid for *_, pid in runs]
    blocks = [pid for n, pid in enumerate(pids) if n == 0 or pid != pids[n - 1]]
    assert len(blocks) == len(set(blocks)) == 2, blocks
    assert blocks[1] == headless.pid


def test_quitting_a_hosting_console_hands_over_to_an_attached_one(tmp_path, env, terminal):
    config = write_config(tmp_path, """
        [jobs.tick]
        command = "echo tick"
        interval = "200ms"
    """)
    first = terminal(f"{SYNCTUI} --config {config}")
    assert first.shows("tick", "▶ running"), first.screen()
    first_pid = _host_pid(config)
    second = terminal(f"{SYNCTUI} --config {config}")
    assert second.shows("⇄ attached"), second.screen()

    first.press("q")
    # (The question's wording depends on whether a run is going at that moment.)
    assert first.shows("Hand over (h)"), first.screen()
    first.press("h")
    assert first.exit_status() == 0, first.screen()
    assert wait_until(lambda: _host_pid(config) not in (None, first_pid))
    assert second.shows("▶ running"), second.screen()
    count = len(_runs(config))
    assert wait_until(lambda: len(_runs(config)) >= count + 3)  # its runs go on
    assert [result for _, result, *_ in _runs(config)].count("interrupted") == 0
    second.press("q")
    # A tick may be running as it quits: then it is asked, and lets the run finish.
    asked = "Let it finish (w)"
    assert wait_until(lambda: second.exit_file.exists() or asked in second.screen())
    if asked in second.screen():
        second.press("w")
    assert second.exit_status() == 0, second.screen()


def test_when_a_hosting_console_is_killed_one_attached_console_takes_over(tmp_path, terminal):
    config = write_config(tmp_path, """
        [jobs.work]
        command = "echo begin; sleep 30"
        interval = "1h"
        run_on_start = true
    """)
    first = terminal(f"{SYNCTUI} --config {config}")
    assert first.shows("work", "▶ running", "begin"), first.screen()
    first_pid = _host_pid(config)
    others = [terminal(f"{SYNCTUI} --config {config}") for _ in range(2)]
    for other in others:
        assert other.shows("⇄ attached"), other.screen()

    os.kill(first_pid, signal.SIGKILL)
    assert wait_until(lambda: _host_pid(config) not in (None, first_pid), timeout=10)

    def badges() -> list[str]:
        screens = [other.screen() for other in others]
        return sorted("host" if "▶ running" in screen else "attached" if "⇄ attached" in screen
                      else "?" for screen in screens)

    assert wait_until(lambda: badges() == ["attached", "host"]), [o.screen() for o in others]
    killed, *after = _runs(config)
    assert (killed[1], killed[4]) == ("interrupted", first_pid)  # recorded by the new host
    assert {run[4] for run in after} == {_host_pid(config)}  # which runs the job on from there
