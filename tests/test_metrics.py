"""`--metrics-port`: `/metrics`, `/healthz` and `/livez` over real HTTP, and `synctui health`.

Hosts are the installed `synctui --headless` in real processes (port 0: the
system picks a free port, which the log names); counting cancelled and
interrupted runs drives a scheduler in this process, with the same server.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from commandline import synctui, write_config
from factories import config, finished, wait_until
from synctui.scheduler.metrics import DURATION_BUCKETS, MetricsServer
from synctui.scheduler.records import Result
from synctui.scheduler.sync_scheduler import SyncScheduler

RESULTS = ("success", "failure", "timeout", "cancelled", "interrupted", "skipped", "replaced")
HEALTH_STATES = ("new", "up", "late", "down", "paused")


def get(url: str) -> tuple[int, str]:
    """The status and body of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of `/metrics`, by name and labels."""
    status, body = get(f"{url}/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body) for sample in family.samples
    }


def runs(samples, job: str, result: str) -> float:
    return samples[("synctui_runs_total", frozenset({("job", job), ("result", result)}))]


def metrics_url(host) -> str:
    return host.wait_for(r"metrics on (http://\S+)/metrics").group(1)


# --- the series -------------------------------------------------------------------


def test_every_series_exists_before_the_first_run(tmp_path, env, hosts):
    config_path = write_config(tmp_path, """
        [jobs.orders]
        command = "true"
        interval = "1h"

        [jobs.nightly]
        command = "true"
        cron = "30 2 * * *"
    """)
    host = hosts(config_path, "--metrics-port", "0")
    url = metrics_url(host)
    host.wait_ready()  # the series exist from the first scrape; next runs, once it hosts
    samples = scrape(url)

    for job in ("orders", "nightly"):
        for result in RESULTS:
            assert runs(samples, job, result) == 0
        labels = frozenset({("job", job)})
        assert samples[("synctui_run_duration_seconds_count", labels)] == 0
        buckets = {float(dict(key[1])["le"]) for key in samples
                   if key[0] == "synctui_run_duration_seconds_bucket" and ("job", job) in key[1]}
        assert buckets == {*map(float, DURATION_BUCKETS), float("inf")}
        assert buckets >= {0.1, 3600.0}
        for name in ("last_success", "last_run"):
            assert samples[(f"synctui_job_{name}_timestamp_seconds", labels)] == 0  # never
        assert samples[("synctui_job_next_run_timestamp_seconds", labels)] > 0
        assert samples[("synctui_job_running", labels)] == 0
        assert samples[("synctui_job_paused", labels)] == 0
        assert samples[("synctui_job_healthy", labels)] == 1
        states = {state: samples[("synctui_job_health", frozenset({("job", job), ("state", state)}))]
                  for state in HEALTH_STATES}
        assert states == {"new": 1, "up": 0, "late": 0, "down": 0, "paused": 0}
    assert samples[("synctui_scheduler_running", frozenset())] == 1
    assert samples[("synctui_scheduler_heartbeat_timestamp_seconds", frozenset())] > 0
    assert not any(name.endswith("_created") for name, _ in samples)


def test_runs_of_each_result_are_counted_by_job(tmp_path, env, hosts):
    config_path = write_config(tmp_path, """
        [jobs.ok]
        command = "true"
        interval = "200ms"

        [jobs.bad]
        command = "exit 3"
        interval = "200ms"

        [jobs.hung]
        command = "sleep 30"
        interval = "200ms"
        timeout_seconds = "200ms"
        kill_grace_seconds = 0

        [jobs.slow]
        command = "sleep 0.5"
        interval = "200ms"

        [jobs.newest]
        command = "sleep 30"
        interval = "300ms"
        overlap = "replace"
        kill_grace_seconds = 0
    """)
    host = hosts(config_path, "--metrics-port", "0", "--no-passthrough")
    url = metrics_url(host)
    wanted = {("ok", "success"), ("bad", "failure"), ("hung", "timeout"), ("slow", "skipped"),
              ("newest", "replaced")}

    assert wait_until(lambda: all(runs(scrape(url), *pair) >= 1 for pair in wanted), timeout=15)
    samples = scrape(url)
    for job in ("ok", "bad", "hung"):
        counted = sum(runs(samples, job, result) for result in RESULTS)
        assert samples[("synctui_run_duration_seconds_count", frozenset({("job", job)}))] in (
            counted, counted + 1)  # a run may finish between the two series' reads
    ok = frozenset({("job", "ok")})
    assert samples[("synctui_job_last_success_timestamp_seconds", ok)] > 0
    assert samples[("synctui_job_healthy", ok)] == 1
    bad = frozenset({("job", "bad")})
    assert samples[("synctui_job_health", frozenset({("job", "bad"), ("state", "down")}))] == 1
    assert samples[("synctui_job_healthy", bad)] == 0
    assert samples[("synctui_job_last_success_timestamp_seconds", bad)] == 0
    assert samples[("synctui_job_last_run_timestamp_seconds", bad)] > 0
    assert samples[("synctui_job_running", frozenset({("job", "newest")}))] == 1


def test_runs_asked_for_through_the_control_socket_are_counted(tmp_path, env, hosts):
    config_path = write_config(tmp_path, """
        [jobs.idle]
        command = "true"
        interval = "1h"
    """)
    host = hosts(config_path, "--metrics-port", "0")
    url = metrics_url(host)
    done = synctui("run", "idle", "--wait", "--config", str(config_path), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert wait_until(lambda: runs(scrape(url), "idle", "success") == 1)


def test_cancelled_and_interrupted_runs_are_counted(tmp_path):
    scheduler = SyncScheduler(config(tmp_path, {
        "sleeper": {"command": "sleep 30", "interval_s": 3600, "manual_cooldown_s": 0},
    }), tick_s=0.1)
    events = scheduler.subscribe()
    server = MetricsServer("127.0.0.1", 0)
    try:
        with server.serving(scheduler):
            scheduler.start()
            scheduler.run_now("sleeper")
            scheduler.cancel("sleeper")
            assert finished(events).result is Result.CANCELLED
            # Its slot is freed just after the result is announced.
            assert wait_until(lambda: _started(scheduler, "sleeper"))
            scheduler.end_runs_now()
            assert finished(events).result is Result.INTERRUPTED
            samples = scrape(server.url)
            assert runs(samples, "sleeper", "cancelled") == 1
            assert runs(samples, "sleeper", "interrupted") == 1
    finally:
        scheduler.shutdown(grace=0)
        scheduler.store.close()


def test_livez_fails_when_the_loop_ticks_but_a_due_fire_time_never_reaches_the_lifecycle(
    tmp_path, monkeypatch, env
):
    scheduler = SyncScheduler(config(tmp_path, {
        "often": {"command": "true", "interval_s": 0.2},
    }), tick_s=0.1)
    scheduler.lifecycle.fires.wedged_after = timedelta(seconds=0.5)
    events = scheduler.subscribe()
    server = MetricsServer("127.0.0.1", 0)
    try:
        with server.serving(scheduler):
            scheduler.start()
            for _ in range(4):  # fire times handed over in time: live
                assert finished(events).result is Result.SUCCESS
            assert get(f"{server.url}/livez")[0] == 200
            # APScheduler's loop goes on waking (the watchdog still ticks) but hands
            # over nothing more.
            monkeypatch.setattr(scheduler._aps, "_process_jobs", lambda: 3600)
            assert wait_until(lambda: get(f"{server.url}/livez")[0] == 503, timeout=5)
            status, body = get(f"{server.url}/livez")
            assert re.fullmatch(r"not live: often: its fire time \S+ was never dealt with\n", body)
            # The heartbeat says so too, for `health --liveness` from outside.
            config_path = write_config(tmp_path, """
                [jobs.often]
                command = "true"
                interval = "200ms"
            """)
            assert wait_until(lambda: scheduler.store.host().wedged is not None, timeout=10)
            live = synctui("health", "--liveness", "--config", str(config_path), env=env,
                           cwd=tmp_path)
            assert live.returncode == 1
            assert re.fullmatch(rf"not live: scheduler pid \d+ ticks but is wedged: often: its"
                                rf" fire time \S+ was never dealt with\n", live.stdout)
    finally:
        scheduler.shutdown(grace=0)
        scheduler.store.close()


def _started(scheduler: SyncScheduler, name: str) -> bool:
    from synctui.scheduler.control import Refused

    try:
        scheduler.run_now(name)
    except Refused:
        return False
    return True


# --- health and liveness through new → up → down → up ------------------------------


def _health(config_path: Path, env, *args: str):
    return synctui("health", "--config", str(config_path), *args, env=env, cwd=config_path.parent)


def test_health_and_liveness_through_new_up_down_up_and_with_the_host_stopped(tmp_path, env, hosts):
    go, fail = tmp_path / "go", tmp_path / "fail"
    config_path = write_config(tmp_path, f"""
        [jobs.gated]
        command = "while [ ! -e {go} ]; do sleep 0.02; done; echo checked; test ! -e {fail}"
        interval = "300ms"
    """)
    host = hosts(config_path, "--metrics-port", "0", "--no-passthrough")
    url = metrics_url(host)
    host.wait_for(r"gated: run \d+ started")

    # new: the first run is still waiting for `go`.
    assert get(f"{url}/healthz") == (200, "healthy: gated new (never succeeded)\n")
    assert get(f"{url}/livez")[0] == 200
    checked = _health(config_path, env)
    assert (checked.returncode, checked.stdout) == (0, "healthy: gated new (never succeeded)\n")
    live = _health(config_path, env, "--liveness")
    assert live.returncode == 0 and live.stdout.startswith(f"live: scheduler pid {host.pid}")

    # up
    go.touch()
    assert wait_until(lambda: get(f"{url}/healthz") == (200, "healthy: gated up\n"))
    assert _health(config_path, env).stdout == "healthy: gated up\n"

    # down: the job fails; the scheduler itself stays live.
    fail.touch()
    assert wait_until(lambda: get(f"{url}/healthz")[0] == 503)
    # The job runs every 300 ms: one may be going as health is asked (a loaded machine).
    failed = (r"(last run failure: exit status 1: checked"
              r"|last finished run: exit status 1: checked \(run \d+ is going\))")
    down = rf"gated: down: {failed}; last success \d+s ago\n"
    assert re.fullmatch(down, get(f"{url}/healthz")[1])
    checked = _health(config_path, env)
    assert checked.returncode == 1
    assert re.fullmatch(down, checked.stdout)
    as_json = json.loads(_health(config_path, env, "--json").stdout)
    assert as_json["jobs"]["gated"].pop("last_success_age_s") >= 0
    assert re.fullmatch(failed, as_json["jobs"]["gated"].pop("reason"))
    assert as_json == {"healthy": False, "jobs": {"gated": {"health": "down"}}}
    assert get(f"{url}/livez")[0] == 200
    assert _health(config_path, env, "--liveness").returncode == 0

    # up again
    fail.unlink()
    assert wait_until(lambda: get(f"{url}/healthz") == (200, "healthy: gated up\n"))
    assert _health(config_path, env).returncode == 0
    assert json.loads(_health(config_path, env, "--json").stdout)["healthy"] is True

    # the host stopped: nothing listens; health answers from the store; not live.
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/livez", timeout=5)
    assert _health(config_path, env).returncode == 0  # its last runs succeeded
    live = _health(config_path, env, "--liveness")
    assert (live.returncode, live.stdout) == (
        1, "not live: no scheduler is running for this state directory\n")
    assert json.loads(_health(config_path, env, "--liveness", "--json").stdout) == {
        "live": False, "reason": "no scheduler is running for this state directory"}


def test_health_with_no_host_reports_a_failed_job_and_an_unknown_job_is_a_usage_error(
    tmp_path, env
):
    config_path = write_config(tmp_path, """
        [jobs.fine]
        command = "true"
        interval = "1h"

        [jobs.broken]
        command = "echo no luck; exit 3"
        interval = "1h"
    """)
    synctui("--headless", "--once", "--config", str(config_path), env=env, cwd=tmp_path)
    checked = _health(config_path, env)
    assert (checked.returncode, checked.stdout) == (
        1, "broken: down: last run failure: exit status 3: no luck; never succeeded\n")
    assert _health(config_path, env, "--job", "fine").returncode == 0
    for args in (("--job", "nope"), ("--job", "nope", "--liveness")):
        unknown = _health(config_path, env, *args)
        assert unknown.returncode == 2
        assert unknown.stderr == f"synctui: no job named 'nope' in {config_path} (jobs: fine, broken)\n"


# --- refusing to serve ---------------------------------------------------------------


def test_a_taken_port_is_one_line_and_exit_2_before_anything_starts(tmp_path, env):
    config_path = write_config(tmp_path, """
        [jobs.job]
        command = "true"
        interval = "200ms"
        run_on_start = true
    """)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = synctui("--headless", "--config", str(config_path), "--metrics-port", str(port),
                       env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"synctui: cannot serve metrics on 127.0.0.1:{port}: Address already in use\n")
    assert not (tmp_path / "state" / "logs").exists()  # no run started


@pytest.mark.parametrize("args, message", [
    (("--headless", "--metrics-port", "0", "--metrics-host", "192.0.2.1"),
     "synctui: cannot serve metrics on 192.0.2.1:0: Cannot assign requested address"),
    (("--headless", "--metrics-host", "127.0.0.1"), "synctui: --metrics-host goes with --metrics-port"),
    (("--headless", "--once", "--metrics-port", "9"),
     "synctui: --metrics-port and --metrics-host go with --headless, not --once"),
    (("status", "--metrics-port", "9"), None),  # the subcommand does not know the flag
    (("--metrics-port", "9", "status"), "synctui: --metrics-port and --metrics-host go with --headless"),
    (("--headless", "--metrics-port", "65536"),
     "synctui: error: argument --metrics-port: expected a port number from 0 to 65535, got '65536'"),
    (("--headless", "--metrics-port", "http"),
     "synctui: error: argument --metrics-port: expected a port number from 0 to 65535, got 'http'"),
], ids=["address-not-here", "host-without-port", "once", "after-subcommand", "not-headless",
        "port-too-big", "port-not-a-number"])
def test_metrics_flags_misused_are_exit_2(tmp_path, env, args, message):
    config_path = write_config(tmp_path, """
        [jobs.job]
        command = "true"
        interval = "1h"
    """)
    done = synctui(*args, "--config", str(config_path), env=env, cwd=tmp_path)
    assert done.returncode == 2
    if message is not None:
        assert done.stderr.splitlines()[-1] == message
        assert "Traceback" not in done.stderr


def test_unknown_paths_are_404_and_metrics_are_also_at_the_root(tmp_path, env, hosts):
    config_path = write_config(tmp_path, """
        [jobs.job]
        command = "true"
        interval = "1h"
    """)
    url = metrics_url(hosts(config_path, "--metrics-port", "0"))
    assert get(f"{url}/nope") == (404, "not here: try /metrics, /healthz or /livez\n")
    status, body = get(f"{url}/")
    assert status == 200 and re.search(r"^synctui_runs_total", body, re.M)


def test_a_reload_adds_and_drops_series_and_a_pause_shows(tmp_path, env, hosts):
    config_path = write_config(tmp_path, """
        [jobs.kept]
        command = "true"
        interval = "1h"

        [jobs.dropped]
        command = "true"
        interval = "1h"
    """)
    host = hosts(config_path, "--metrics-port", "0")
    url = metrics_url(host)
    write_config(tmp_path, """
        [jobs.kept]
        command = "true"
        interval = "1h"

        [jobs.added]
        command = "true"
        interval = "1h"
    """)
    host.send(signal.SIGHUP)
    host.wait_for(r"config reloaded")
    samples = scrape(url)
    jobs = {dict(labels).get("job") for name, labels in samples if name == "synctui_runs_total"}
    assert jobs == {"kept", "added"}
    assert runs(samples, "added", "timeout") == 0

    paused = synctui("pause", "kept", "--config", str(config_path), env=env, cwd=tmp_path)
    assert paused.returncode == 0, paused.stderr
    samples = scrape(url)
    kept = frozenset({("job", "kept")})
    assert samples[("synctui_job_paused", kept)] == 1
    assert samples[("synctui_job_health", kept | {("state", "paused")})] == 1
    assert samples[("synctui_job_next_run_timestamp_seconds", kept)] == 0
    assert get(f"{url}/healthz") == (200, "healthy: kept paused (never succeeded), added new (never succeeded)\n")


def test_a_standby_serves_too_and_counts_as_live(tmp_path, env, hosts):
    config_path = write_config(tmp_path, """
        [jobs.broken]
        command = "exit 3"
        interval = "1h"
        run_on_start = true
    """)
    first = hosts(config_path, "--metrics-port", "0")
    first.wait_for(r"broken: run \d+ failure")
    second = hosts(config_path, "--metrics-port", "0")
    url = metrics_url(second)
    second.wait_for(r"waiting as its standby")
    assert get(f"{url}/livez") == (200, "live: waiting to host (standby for the running scheduler)\n")
    assert get(f"{url}/healthz") == (503, "broken: down: last run failure: exit status 3; never succeeded\n")
    assert scrape(url)[("synctui_job_healthy", frozenset({("job", "broken")}))] == 0


def test_an_ipv6_address_is_served(tmp_path, env, hosts):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    config_path = write_config(tmp_path, """
        [jobs.job]
        command = "true"
        interval = "1h"
    """)
    url = metrics_url(hosts(config_path, "--metrics-port", "0", "--metrics-host", "::1"))
    assert url.startswith("http://[::1]:")
    assert get(f"{url}/livez")[0] == 200
