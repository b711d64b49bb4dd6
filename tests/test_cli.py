"""Every `synctui` subcommand, run as the installed command against real state.

The state comes from real runs (`synctui --headless --once`, or a live
`synctui --headless` host), in a temporary directory with its own HOME and XDG
directories.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from factories import wait_until
from installed import PYTHON
from synctui import __version__
from commandline import SYNCTUI, history, isolated_env, synctui, write_config
from synctui.scheduler.store import Store

ZONE = "America/Sao_Paulo"

_JOBS = """
    [jobs.ok]
    command = "echo ok run $SYNCTUI_RUN_ID"
    interval = "1h"

    [jobs.bad]
    command = "echo oops; exit 3"
    interval = "1h"

    [jobs.weekly]
    command = ["true"]
    cron = "0 3 * * 0"
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """A state directory holding two runs of `ok`, then one of every job (`bad` fails)."""
    root = tmp_path_factory.mktemp("ran")
    env = isolated_env(root)
    config = write_config(root, _JOBS, zone=ZONE)
    for args in (["--job", "ok"], ["--job", "ok"], []):
        synctui("--headless", "--once", "--config", str(config), *args, env=env, cwd=root)
    state = SimpleNamespace(root=root, env=env, config=config)
    state.runs = history(config, env)
    assert [(r["job"], r["result"]) for r in state.runs] == [
        ("weekly", "success"), ("bad", "failure"), ("ok", "success"), ("ok", "success"),
        ("ok", "success"),
    ]
    return state


def cli(state, *args: str, config: Path | None = None):
    """`synctui ARGS --config CONFIG` in the state's environment."""
    return synctui(*args, "--config", str(config or state.config), env=state.env, cwd=state.root)


def _usage_error_lines(done) -> list[str]:
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("synctui: ") for line in lines), done.stderr
    return lines


# --- --version ------------------------------------------------------------------------


def test_version_is_the_same_from_the_script_and_from_python_m(tmp_path, env):
    script = synctui("--version", env=env, cwd=tmp_path)
    module = subprocess.run([PYTHON, "-m", "synctui", "--version"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=20)
    assert re.fullmatch(r"synctui \d+\.\d+\.\d+\n", script.stdout)
    assert script.stdout == module.stdout == f"synctui {__version__}\n"
    assert script.returncode == module.returncode == 0


# --- status ---------------------------------------------------------------------------

_JOB_KEYS = {
    "schedule", "paused", "running", "running_run_id", "last_run", "last_result", "last_run_id",
    "last_trigger", "last_error", "last_duration_s", "next_run", "success_rate", "p50_duration_s",
    "p95_duration_s", "freshness_s", "health", "after", "waits_on", "needed_by",
}


def test_status_table_shows_every_job_with_no_host(ran):
    done = cli(ran, "status")
    assert done.returncode == 0, done.stderr
    header, blank, titles, *rows = done.stdout.splitlines()
    assert header.startswith("synctui ■ stopped · config ")
    assert f"zone {ZONE}" in header
    assert titles.split() == ["JOB", "HEALTH", "LAST", "RUN", "RESULT", "DURATION", "NEXT", "RUN",
                              "SCHEDULE"]
    table = {row.split()[0]: row for row in rows}
    assert table.keys() == {"ok", "bad", "weekly"}
    assert re.match(r"ok +up +\d{4}-\d\d-\d\d [\d:]{8} \(\d+s ago\) +✓ success +[\d.]+s +- +every 1h$",
                    table["ok"])
    assert "down" in table["bad"] and "✗ failure" in table["bad"]
    assert table["weekly"].endswith("cron 0 3 * * 0")


def test_status_json_has_the_keys_of_the_spec_in_the_configured_zone(ran):
    done = cli(ran, "status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert {"running", "interval_minutes", "last_run", "last_result", "next_run", "paused",
            "timezone", "host", "jobs"} <= status.keys()
    assert status["running"] is False and status["next_run"] is None and status["host"] is None
    assert status["timezone"] == ZONE and status["interval_minutes"] == 15
    assert status["paused"] is False
    # The last run is the one whose process started last: in --once's wave, not always
    # the newest record.
    newest = max(ran.runs, key=lambda run: datetime.fromisoformat(run["started_at"]))
    assert status["last_result"] == newest["result"]
    assert status["last_run"].endswith("-03:00")
    assert datetime.fromisoformat(status["last_run"]) == datetime.fromisoformat(newest["started_at"])

    jobs = status["jobs"]
    assert jobs.keys() == {"ok", "bad", "weekly"}
    for job in jobs.values():
        assert _JOB_KEYS <= job.keys()
        assert job["next_run"] is None and job["running"] is False
        assert job["last_run"].endswith("-03:00")
    ok, bad = jobs["ok"], jobs["bad"]
    assert (ok["health"], ok["success_rate"], ok["last_trigger"]) == ("up", 1.0, "once")
    assert ok["last_run_id"] == max(r["id"] for r in ran.runs if r["job"] == "ok")
    assert 0 <= ok["p50_duration_s"] <= ok["p95_duration_s"] < 5
    assert ok["last_duration_s"] > 0 and ok["freshness_s"] >= 0
    assert (bad["health"], bad["success_rate"], bad["freshness_s"]) == ("down", 0.0, None)
    assert bad["last_error"] == "exit status 3: oops"


def test_status_short_is_one_line(ran):
    done = cli(ran, "status", "--short")
    assert done.returncode == 0
    assert done.stdout == "synctui ■ stopped · 2 up 1 down\n"


def test_status_job_shows_only_that_job(ran):
    table = cli(ran, "status", "--job", "ok").stdout.splitlines()
    assert [row.split()[0] for row in table[3:]] == ["ok"]
    status = json.loads(cli(ran, "status", "--json", "--job", "bad").stdout)
    assert status["jobs"].keys() == {"bad"}
    # The top-level keys speak of that job too, not of the newest run of any job.
    assert status["last_result"] == "failure"
    assert status["last_run"] == status["jobs"]["bad"]["last_run"]
    assert cli(ran, "status", "--short", "--job", "ok").stdout == "synctui ■ stopped · 1 up\n"
    unknown = cli(ran, "status", "--job", "nope")
    assert unknown.returncode == 2
    assert _usage_error_lines(unknown) == [
        f"synctui: no job named 'nope' in {ran.config} (jobs: ok, bad, weekly)"
    ]


def test_status_with_a_live_host_says_it_runs_and_when_next(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.tick]
        command = "true"
        interval = "500ms"

        [jobs.weekly]
        command = ["true"]
        cron = "0 3 * * 0"
    """, zone=ZONE)
    host = hosts(config)
    host.wait_ready()
    done = synctui("status", "--json", "--config", str(config), env=env, cwd=tmp_path)
    status = json.loads(done.stdout)
    assert status["running"] is True
    assert status["host"]["pid"] == host.pid and status["host"]["mode"] == "headless"
    assert status["host"]["config"] == str(config)
    assert status["next_run"].endswith("-03:00")
    upcoming = datetime.fromisoformat(status["next_run"]) - datetime.now(ZoneInfo(ZONE))
    assert timedelta(seconds=-5) < upcoming < timedelta(seconds=5)  # tick's, not weekly's
    weekly = datetime.fromisoformat(status["jobs"]["weekly"]["next_run"])
    assert (weekly.weekday(), weekly.hour, weekly.minute) == (6, 3, 0)  # Sunday 03:00 -03
    only = synctui("status", "--json", "--job", "weekly", "--config", str(config), env=env,
                   cwd=tmp_path)
    assert json.loads(only.stdout)["next_run"] == status["jobs"]["weekly"]["next_run"]

    short = synctui("status", "--short", "--config", str(config), env=env, cwd=tmp_path)
    assert short.stdout.startswith("synctui ▶ running · ")
    table = synctui("status", "--config", str(config), env=env, cwd=tmp_path)
    assert f"host pid {host.pid} (headless)" in table.stdout.splitlines()[0]

    liveness = synctui("health", "--liveness", "--config", str(config), env=env, cwd=tmp_path)
    assert liveness.returncode == 0
    assert liveness.stdout.startswith(f"live: scheduler pid {host.pid} ticked ")


def test_liveness_holds_while_the_config_on_disk_is_broken_under_a_running_host(
    tmp_path, env, hosts
):
    config = write_config(tmp_path, """
        [jobs.tick]
        command = "true"
        interval = "1h"
    """)
    host = hosts(config)
    host.wait_ready()
    config.write_text(config.read_text() + '\n[jobs.new]\ncommand = "true"\ninterval = "bogus"\n')
    liveness = synctui("health", "--liveness", "--json", "--config", str(config), env=env,
                       cwd=tmp_path)
    assert liveness.returncode == 0, liveness.stderr
    assert json.loads(liveness.stdout)["live"] is True
    [warning] = liveness.stderr.splitlines()
    assert warning.startswith(f"synctui: warning: {config}: jobs.new.interval: expected a duration")
    assert warning.endswith(" (a running scheduler goes on with the config it read before)")
    # Where the broken part is the state directory itself, it cannot tell which host to ask.
    config.write_text(config.read_text().replace('state_dir = "', 'state_dir = 7 #"'))
    lost = synctui("health", "--liveness", "--config", str(config), env=env, cwd=tmp_path)
    assert lost.returncode == 2 and "scheduler.state_dir" in lost.stderr


# --- history --------------------------------------------------------------------------


def test_history_lists_runs_newest_first(ran):
    done = cli(ran, "history")
    assert done.returncode == 0
    titles, *rows = done.stdout.splitlines()
    assert titles.split() == ["ID", "JOB", "TRIGGER", "STARTED", "DURATION", "RESULT", "DETAIL"]
    assert [int(row.split()[0]) for row in rows] == [run["id"] for run in ran.runs]
    [bad] = [row for row in rows if " bad " in row]
    assert re.search(r"once +\d{4}-\d\d-\d\d [\d:]{8} +[\d.]+s +✗ failure +exit status 3: oops$", bad)


def test_history_json_job_and_limit(ran):
    runs = json.loads(cli(ran, "history", "--json").stdout)
    assert runs == ran.runs
    assert {"id", "job", "trigger", "result", "attempt", "scheduled_at", "started_at",
            "finished_at", "duration_s", "exit_code", "signal", "error"} <= runs[0].keys()
    [bad] = [run for run in runs if run["job"] == "bad"]
    assert (bad["exit_code"], bad["signal"], bad["trigger"]) == (3, None, "once")

    ok = json.loads(cli(ran, "history", "--json", "--job", "ok").stdout)
    assert [run["id"] for run in ok] == [run["id"] for run in runs if run["job"] == "ok"]
    assert len(ok) == 3
    newest = json.loads(cli(ran, "history", "--json", "--job", "ok", "--limit", "1").stdout)
    assert newest == ok[:1]
    assert len(cli(ran, "history", "--limit", "2").stdout.splitlines()) == 3  # titles + 2

    zero = cli(ran, "history", "--limit", "0")
    assert zero.returncode == 2 and "expected a positive whole number" in zero.stderr


# --- logs -----------------------------------------------------------------------------


def test_logs_prints_the_latest_run_or_the_one_asked_for(ran):
    ok = [run["id"] for run in ran.runs if run["job"] == "ok"]
    latest = cli(ran, "logs", "ok")
    assert latest.returncode == 0
    assert latest.stdout == f"ok run {ok[0]}\n"
    assert cli(ran, "logs", "ok", "--run", str(ok[-1])).stdout == f"ok run {ok[-1]}\n"
    assert cli(ran, "logs", "bad").stdout == "oops\n"

    other = next(run["id"] for run in ran.runs if run["job"] == "bad")
    mismatch = cli(ran, "logs", "ok", "--run", str(other))
    assert mismatch.returncode == 2
    assert _usage_error_lines(mismatch) == [f"synctui: ok has no run {other}"]


def test_logs_follow_prints_lines_as_they_come_and_returns_when_the_run_ends(
    tmp_path, env, hosts
):
    config = write_config(tmp_path, """
        [jobs.talk]
        command = "for i in $(seq 1 15); do echo line-$i; sleep 0.1; done"
        interval = "1h"
        run_on_start = true
    """)
    host = hosts(config)
    host.wait_for(r"^talk\| line-1$", stdout=True)
    follow = subprocess.Popen(
        [PYTHON, "-m", "synctui", "logs", "talk", "-f", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        seen = [(line.rstrip("\n"), time.monotonic()) for line in follow.stdout]
        assert follow.wait(timeout=10) == 0, follow.stderr.read()
    finally:
        follow.kill()
        follow.wait()
    assert [line for line, _ in seen] == [f"line-{i}" for i in range(1, 16)]
    assert seen[-1][1] - seen[0][1] > 0.4  # read over the run's second, not all at the end
    [run] = history(config, env)
    assert run["result"] == "success" and run["trigger"] == "start"


# --- check and init -------------------------------------------------------------------


def test_check_prints_the_next_five_fire_times_in_the_zone(ran):
    done = cli(ran, "check")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{ran.config}: ok · 3 jobs · zone {ZONE} · state {ran.root / 'state'}"
    at = lines.index("weekly: cron 0 3 * * 0")
    assert lines[at + 1] == "  At 03:00 on Sunday"
    sundays = [re.fullmatch(r"  Sun (\d{4}-\d\d-\d\d) 03:00:00 -03", line)
               for line in lines[at + 2:at + 7]]
    assert all(sundays), lines[at + 2:at + 7]
    days = [date.fromisoformat(sunday.group(1)) for sunday in sundays]
    assert [b - a for a, b in zip(days, days[1:])] == [timedelta(days=7)] * 4
    today = datetime.now(ZoneInfo(ZONE)).date()
    assert timedelta(0) <= days[0] - today <= timedelta(days=7)
    at = lines.index("ok: every 1h")
    hourly = [datetime.strptime(line.strip()[4:23], "%Y-%m-%d %H:%M:%S")
              for line in lines[at + 1:at + 6]]
    assert [b - a for a, b in zip(hourly, hourly[1:])] == [timedelta(hours=1)] * 4


def test_check_explains_each_schedule_and_notes_a_change_of_offset(tmp_path, env):
    # Noon on 1 January and on 1 July: each listed fire is on the other side of a change.
    config = write_config(tmp_path, """
        [jobs.seasons]
        command = ["true"]
        cron = "0 12 1 jan,jul *"

        [jobs.month_end]
        command = ["true"]
        cron = "30 2 L * *"
    """, zone="Europe/Berlin")
    done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = lines.index("seasons: cron 0 12 1 jan,jul *")
    assert lines[at + 1] == "  At 12:00 on the first day of January and July"
    listed = lines[at + 2:at + 11]
    fires, notes = listed[0::2], listed[1::2]
    assert all(re.fullmatch(r"  \w{3} \d{4}-0[17]-01 12:00:00 CES?T", line) for line in fires), listed
    changes = {"  -- Europe/Berlin changes offset here: CET (UTC+01:00) to CEST (UTC+02:00)",
               "  -- Europe/Berlin changes offset here: CEST (UTC+02:00) to CET (UTC+01:00)"}
    assert set(notes) == changes, listed
    at = lines.index("month_end: cron 30 2 L * *")
    assert lines[at + 1] == "  At 02:30 on the last day of every month"


def test_check_refuses_a_six_field_cron_naming_the_file_and_key(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.secs]
        command = ["true"]
        cron = "0 30 2 * * *"
    """)
    done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert _usage_error_lines(done) == [
        f"synctui: {config}: jobs.secs.cron: expected 5 fields (minute hour day-of-month month"
        ' day-of-week), got 6 in "0 30 2 * * *"; a seconds (or year) field is not supported'
    ]


def test_check_names_a_job_whose_command_does_not_exist(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.fine]
        command = ["true"]

        [jobs.ghost]
        command = ["no-such-command-anywhere", "--sync"]
    """)
    done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert _usage_error_lines(done) == [
        f"synctui: {config}: jobs.ghost: command: 'no-such-command-anywhere' not found or not"
        " executable"
    ]
    assert done.stdout == ""


def test_check_needs_no_state_and_creates_none(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.fine]
        command = ["true"]
    """)
    done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0]
    assert header.endswith(f"state {tmp_path / 'state'} (created at the first start)"), header
    assert not (tmp_path / "state").exists()

    (tmp_path / "state").write_text("not a directory")
    broken = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert broken.returncode == 2
    assert _usage_error_lines(broken) == [
        f"synctui: {config}: scheduler.state_dir: {tmp_path / 'state'} is not a directory"]


def test_init_writes_an_example_that_check_accepts_and_never_overwrites(tmp_path, env):
    target = tmp_path / "mine.toml"
    done = synctui("init", str(target), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {target}; edit it, then `synctui check --config {target}`\n"
    assert target.stat().st_mode & 0o777 == 0o600
    written = target.read_text(encoding="utf-8")
    checked = synctui("check", "--config", str(target), env=env, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "example: every 5m" in checked.stdout and "nightly: cron 30 2 * * mon-fri" in checked.stdout

    again = synctui("init", str(target), env=env, cwd=tmp_path)
    assert again.returncode == 2
    assert _usage_error_lines(again) == [f"synctui: {target}: already exists; not overwriting it"]
    assert target.read_text(encoding="utf-8") == written

    nowhere = synctui("init", str(tmp_path / "missing" / "x.toml"), env=env, cwd=tmp_path)
    assert nowhere.returncode == 2 and "cannot write" in nowhere.stderr


# --- run --------------------------------------------------------------------------------


def test_run_wait_exits_with_the_run_result_and_prints_its_output(tmp_path, env):
    config = write_config(tmp_path, _JOBS)
    good = synctui("run", "ok", "--wait", "--config", str(config), env=env, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout == "ok run 1\n"
    assert re.search(r"^run 1: success in [\d.]+s$", good.stderr, re.M)

    failed = synctui("run", "bad", "--wait", "--config", str(config), env=env, cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stdout == "oops\n"
    assert re.search(r"^run 2: failure in [\d.]+s: exit status 3: oops$", failed.stderr, re.M)
    no_wait = synctui("run", "bad", "--config", str(config), env=env, cwd=tmp_path)
    assert no_wait.returncode == 0  # only --wait reports the job's result

    unknown = synctui("run", "nope", "--config", str(config), env=env, cwd=tmp_path)
    assert unknown.returncode == 2
    assert _usage_error_lines(unknown)[0].startswith("synctui: no job named 'nope'")
    assert [(r["job"], r["trigger"]) for r in history(config, env)] == [
        ("bad", "manual"), ("bad", "manual"), ("ok", "manual"),
    ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_run_here_stopped_by_a_signal_ends_its_job_and_is_recorded(tmp_path, env, signum):
    config = write_config(tmp_path, """
        [jobs.long]
        command = "echo $$ > job.pid; echo started; exec sleep 300"
        interval = "1h"
    """)
    here = subprocess.Popen([SYNCTUI, "run", "long", "--wait", "--config", str(config)],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert here.stdout.readline() == "started\n"
    job = int((tmp_path / "job.pid").read_text())
    here.send_signal(signum)
    assert here.wait(10) == 1  # the run did not succeed
    assert wait_until(lambda: not _alive(job)), "the job outlived the synctui that ran it"
    [run] = history(config, env)
    assert run["result"] in ("cancelled", "interrupted"), run


def _alive(pid: int) -> bool:
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return False


def test_a_run_here_refuses_to_run_beside_another_one_shot(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.slow]
        command = "echo started; sleep 30"
        interval = "1h"
    """)
    first = subprocess.Popen([SYNCTUI, "run", "slow", "--wait", "--config", str(config)],
                             env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert first.stdout.readline() == "started\n"
        second = synctui("run", "slow", "--config", str(config), env=env, cwd=tmp_path)
        assert second.returncode == 2, second.stderr
        assert _usage_error_lines(second)[0].endswith("(a `run` or `--once`): try again when it ends")
        assert [run["id"] for run in history(config, env)] == [1]  # never two at once
    finally:
        first.terminate()
        first.wait(10)


# --- pause and resume -----------------------------------------------------------------


def _status(config: Path, env) -> dict:
    done = synctui("status", "--json", "--config", str(config), env=env, cwd=config.parent)
    return json.loads(done.stdout)


def wait_for_status(config: Path, env, predicate, timeout: float = 5.0) -> bool:
    return wait_until(lambda: predicate(_status(config, env)), timeout, interval=0.1)


_REMEMBERED = " (no scheduler is running: remembered for the next one)"


def test_pause_and_resume_are_remembered_in_the_store(tmp_path, env):
    config = write_config(tmp_path, _JOBS, zone=ZONE)
    synctui("--headless", "--once", "--job", "ok", "--config", str(config), env=env, cwd=tmp_path)

    paused = synctui("pause", "ok", "--config", str(config), env=env, cwd=tmp_path)
    assert (paused.returncode, paused.stdout) == (0, f"paused ok{_REMEMBERED}\n")
    status = _status(config, env)
    assert (status["jobs"]["ok"]["paused"], status["jobs"]["ok"]["health"]) == (True, "paused")
    assert status["jobs"]["bad"]["paused"] is False and status["paused"] is False
    healthy = synctui("health", "--config", str(config), env=env, cwd=tmp_path)
    assert healthy.returncode == 0
    assert re.fullmatch(r"healthy: ok paused \(last success \d+s ago\), bad new \(never succeeded\),"
                        r" weekly new \(never succeeded\)\n", healthy.stdout)

    assert synctui("pause", "--config", str(config), env=env, cwd=tmp_path).stdout == (
        f"paused ok, bad, weekly{_REMEMBERED}\n"
    )
    assert _status(config, env)["paused"] is True
    synctui("resume", "ok", "--config", str(config), env=env, cwd=tmp_path)
    status = _status(config, env)
    assert (status["jobs"]["ok"]["paused"], status["jobs"]["ok"]["health"]) == (False, "up")
    assert status["jobs"]["bad"]["health"] == "paused" and status["paused"] is False
    resumed = synctui("resume", "--config", str(config), env=env, cwd=tmp_path)
    assert resumed.stdout == f"resumed ok, bad, weekly{_REMEMBERED}\n"
    assert not any(job["paused"] for job in _status(config, env)["jobs"].values())


# --- steering that needs the host ---------------------------------------------------------

_NO_HOST = [
    (["cancel", "ok"], 1, "no scheduler is running: nothing to cancel"),
    (["skip", "ok"], 1, "no scheduler is running: there is no next run to skip"),
    (["stop"], 0, "no scheduler is running: already stopped"),
    (["start"], 1, "no scheduler is running; start one with `synctui --headless` or `synctui`"),
    (["restart"], 1, "no scheduler is running; start one with `synctui --headless` or `synctui`"),
]


@pytest.mark.parametrize("args, status, message", _NO_HOST, ids=[a[0] for a, _, _ in _NO_HOST])
def test_steering_with_no_host_says_so(ran, args, status, message):
    done = cli(ran, *args)
    assert (done.returncode, done.stderr, done.stdout) == (status, f"synctui: {message}\n", "")


def test_steering_an_unknown_job_is_a_usage_error(ran):
    for verb in ("cancel", "skip", "pause", "resume"):
        done = cli(ran, verb, "nope")
        assert done.returncode == 2, verb
        assert _usage_error_lines(done)[0].startswith("synctui: no job named 'nope'")


def test_with_a_live_host_pause_acts_through_it_at_once(tmp_path, env, hosts):
    config = write_config(tmp_path, _JOBS)
    host = hosts(config)
    host.wait_ready()
    paused = synctui("pause", "ok", "--config", str(config), env=env, cwd=tmp_path)
    assert paused.returncode == 0
    assert paused.stdout == (
        f"paused ok (through the running scheduler (pid {host.pid}, headless))\n"
    )
    status = _status(config, env)  # at once: the host answers status itself
    assert (status["jobs"]["ok"]["health"], status["jobs"]["ok"]["next_run"]) == ("paused", None)
    assert status["jobs"]["bad"]["next_run"] is not None
    host.wait_for(r"ok: paused$")


def test_a_pause_written_behind_a_hosts_back_is_taken_at_its_tick(tmp_path, env, hosts):
    """A pause that only reached the store (a host that could not be reached, an older
    synctui) is still applied: the host re-reads every job's pause at each tick."""
    config = write_config(tmp_path, _JOBS)
    host = hosts(config)
    host.wait_ready()
    store = Store(tmp_path / "state")
    store.set_paused("ok", True)
    store.close()
    # The host takes the pause at its watchdog tick: every 5 s (TICK_S, not configurable).
    host.wait_for(r"ok: paused \(from the command line\)", timeout=8)
    assert wait_for_status(config, env, lambda s: s["jobs"]["ok"]["next_run"] is None)


# --- health -------------------------------------------------------------------------------


def test_health_is_0_for_new_jobs(tmp_path, env):
    config = write_config(tmp_path, _JOBS)
    done = synctui("health", "--config", str(config), env=env, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (
        0, "healthy: ok new (never succeeded), bad new (never succeeded),"
           " weekly new (never succeeded)\n")


def test_health_is_1_with_a_reason_when_the_last_run_failed(ran):
    done = cli(ran, "health")
    assert done.returncode == 1
    assert done.stdout == "bad: down: last run failure: exit status 3: oops; never succeeded\n"
    only_ok = cli(ran, "health", "--job", "ok")
    assert (only_ok.returncode, only_ok.stdout) == (0, "healthy: ok up\n")
    report = json.loads(cli(ran, "health", "--json").stdout)
    ages = {name: job.pop("last_success_age_s") for name, job in report["jobs"].items()}
    assert report == {"healthy": False, "jobs": {
        "ok": {"health": "up", "reason": None},
        "bad": {"health": "down", "reason": "last run failure: exit status 3: oops"},
        "weekly": {"health": "up", "reason": None},
    }}
    assert ages["bad"] is None and ages["ok"] >= 0 and ages["weekly"] >= 0


def test_health_liveness_is_1_with_no_host(ran):
    done = cli(ran, "health", "--liveness")
    assert (done.returncode, done.stdout) == (
        1, "not live: no scheduler is running for this state directory\n")
    report = json.loads(cli(ran, "health", "--liveness", "--json").stdout)
    assert report == {"live": False, "reason": "no scheduler is running for this state directory"}


# --- bad configs --------------------------------------------------------------------------

_BAD = {
    "unknown-key": (b'[scheduler]\ntimezone = "UTC"\ncatchup = true\n[jobs.a]\ncommand = "true"\n',
                    'scheduler.catchup: unknown key (did you mean "catch_up"?)'),
    "bad-duration": (b'[scheduler]\ntimezone = "UTC"\n[jobs.a]\ncommand = "true"\ninterval = "1x"\n',
                     "jobs.a.interval: expected a duration"),
    "bare-interval": (b'[scheduler]\ntimezone = "UTC"\n[jobs.a]\ncommand = "true"\ninterval = 15\n',
                      "jobs.a.interval: expected a duration"),
    "bad-toml": (b'[scheduler\ntimezone = "UTC"\n', "invalid TOML"),
    "not-utf-8": (b'[scheduler]\ntimezone = "\xff\xfe"\n', "expected UTF-8 text"),
    "missing": (None, "no such config file (given with --config)"),
}


@pytest.mark.parametrize("name", _BAD)
def test_a_bad_config_is_a_clean_usage_error_naming_the_file(tmp_path, env, name):
    content, problem = _BAD[name]
    config = tmp_path / "broken.toml"
    if content is not None:
        config.write_bytes(content)
    for args in (["status"], ["check"], ["--headless"]):
        done = synctui(*args, "--config", str(config), env=env, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        lines = _usage_error_lines(done)
        assert all(str(config) in line for line in lines), lines
        assert any(problem in line for line in lines), lines
    assert not (tmp_path / "state").exists()


# --- the fast paths ---------------------------------------------------------------------

_FAST = [
    (["--version"], 0),
    (["status"], 0), (["status", "--json"], 0), (["status", "--short"], 0),
    (["history"], 0), (["history", "--json"], 0),
    (["logs", "ok"], 0),
    (["health"], 1), (["health", "--json"], 1), (["health", "--liveness"], 1),
]
_PROBE = """
import json, sys
from synctui.cli import main
try:
    status = main(sys.argv[2:])
except SystemExit as leaving:
    status = leaving.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"apscheduler", "textual"})
with open(sys.argv[1], "w") as out:
    json.dump({"status": status, "heavy": heavy}, out)
"""


@pytest.mark.parametrize("args, status", _FAST, ids=[" ".join(args) for args, _ in _FAST])
def test_fast_paths_import_neither_apscheduler_nor_textual(ran, tmp_path, args, status):
    result = tmp_path / "probe.json"
    config = [] if args == ["--version"] else ["--config", str(ran.config)]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(result), *args, *config],
        env=ran.env, cwd=ran.root, capture_output=True, text=True, timeout=20,
    )
    assert done.stdout, done.stderr  # the command did its work
    assert json.loads(result.read_text()) == {"status": status, "heavy": []}


def test_with_the_host_stopped_a_job_whose_fire_time_passes_goes_down(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.often]
        command = "true"
        interval = "300ms"
        grace_minutes = 0
    """)
    host = hosts(config)
    host.wait_for(r"often: run \d+ success")
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    # Its next fire time passes with nobody to run it: down, not `up` for ever.
    assert wait_until(lambda: synctui("health", "--config", str(config), env=env,
                                      cwd=tmp_path).returncode == 1, timeout=5)
    done = synctui("health", "--config", str(config), env=env, cwd=tmp_path)
    assert done.stdout.startswith("often: down: ")


def test_the_console_on_a_broken_state_directory_is_a_clean_error(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.a]
        command = "true"
        interval = "1h"
    """)
    (tmp_path / "state").write_text("a file, not a directory")
    done = synctui("--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = _usage_error_lines(done)
    assert line.startswith(f"synctui: {tmp_path / 'state'}: cannot use the state directory: ")
    assert "attach" not in line  # not a `[control] group` member's case: nothing to attach to
