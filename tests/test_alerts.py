"""Notifiers, pings and overdue runs, told by the installed `synctui --headless` to a real
HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from commandline import history, runs_of, synctui, write_config
from factories import wait_until
from test_metrics import get, metrics_url


class Receiver:
    """A local HTTP server that keeps every request and answers 200, 500 to a path
    starting /error; while `hold` is clear a request to a path starting /hang waits for it."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.hold = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._take()

            def do_POST(self) -> None:
                self._take()

            def _take(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size)
                receiver.requests.append({"method": self.command, "path": self.path,
                                          "body": body, "headers": dict(self.headers)})
                if self.path.startswith("/hang"):
                    receiver.hold.wait(30)
                self.send_response(500 if self.path.startswith("/error") else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, prefix: str) -> list[dict]:
        return [request for request in self.requests if request["path"].startswith(prefix)]

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def _counting_job(tmp_path: Path, fails: str) -> str:
    """A command whose runs fail (printing `boom N`) while their number matches `fails`."""
    count = tmp_path / "count"
    return (f"n=$(( $(cat {count} 2>/dev/null || echo 0) + 1 )); echo $n > {count};"
            f" echo boom $n; case $n in {fails}) exit 3;; esac")


def test_fail_fail_success_sends_one_failing_and_one_recovered_notice(
    tmp_path, env, hosts, receiver
):
    config = write_config(tmp_path, f"""
        [jobs.orders]
        command = "{_counting_job(tmp_path, '1|2')}"
        interval = "300ms"
        notify_after_failures = 1
        notify = ["{receiver.url}/hook/SECRET-TOKEN"]
    """)
    host = hosts(config, "--no-passthrough")
    assert wait_until(lambda: len(receiver.to("/hook")) >= 2)
    assert wait_until(lambda: len(runs_of(config, env, "orders")) >= 5)  # no more notices
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    notices = [json.loads(request["body"]) for request in receiver.to("/hook")]
    ids = sorted(run["id"] for run in runs_of(config, env, "orders"))
    assert [(n["event"], n["run_id"]) for n in notices] == [("failing", ids[0]),
                                                            ("recovered", ids[2])]
    failing = notices[0]
    assert failing["job"] == "orders" and failing["result"] == "failure"
    assert failing["exit_code"] == 3 and failing["error"] == "exit status 3: boom 1"
    assert failing["output"] == ["boom 1"] and failing["trigger"] in ("start", "scheduled")
    assert failing["duration_s"] > 0 and failing["started_at"] and failing["finished_at"]
    assert "SECRET-TOKEN" not in host.stderr()


def test_slack_and_ntfy_bodies(tmp_path, env, hosts, receiver):
    config = write_config(tmp_path, f"""
        [jobs.orders]
        command = "echo partial; exit 1"
        interval = "1h"
        run_on_start = true
        notify = [{{ url = "{receiver.url}/slack", format = "slack" }},
                  {{ url = "{receiver.url}/ntfy", format = "ntfy" }}]
    """)
    host = hosts(config, "--no-passthrough")
    assert wait_until(lambda: receiver.to("/slack") and receiver.to("/ntfy"))
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    slack = json.loads(receiver.to("/slack")[0]["body"])
    assert list(slack) == ["text"] and slack["text"].startswith("orders failing: run ")
    assert "partial" in slack["text"]
    ntfy = receiver.to("/ntfy")[0]
    assert ntfy["headers"]["Title"] == "synctui: orders failing"
    assert ntfy["headers"]["Priority"] == "high"
    assert ntfy["body"].decode().startswith("orders failing: run ")


def test_a_slow_run_is_told_overdue_while_it_runs(tmp_path, env, hosts, receiver):
    go = tmp_path / "go"
    told = tmp_path / "told"
    config = write_config(tmp_path, f"""
        [jobs.orders]
        command = "while [ ! -e {go} ]; do sleep 0.02; done"
        interval = "1h"
        run_on_start = true
        warn_after = "300ms"
        on_overdue = "echo $SYNCTUI_HOOK $SYNCTUI_RUN_ID >> {told}"
        notify = ["{receiver.url}/hook"]
    """)
    host = hosts(config, "--no-passthrough", "--metrics-port", "0")
    url = metrics_url(host)
    assert wait_until(lambda: receiver.to("/hook"))
    notice = json.loads(receiver.to("/hook")[0]["body"])
    assert notice["event"] == "overdue" and notice["result"] == "running"
    assert wait_until(lambda: told.exists() and told.read_text().startswith("on_overdue"))
    status, body = get(f"{url}/healthz")
    assert status == 503 and body.startswith("orders: overdue: run ")
    assert 'synctui_job_overdue{job="orders"} 1.0' in get(f"{url}/metrics")[1]
    checked = synctui("health", "--config", str(config), env=env, cwd=tmp_path)
    assert checked.returncode == 1 and checked.stdout.startswith("orders: overdue: ")
    assert runs_of(config, env, "orders")[0]["result"] == "running"  # still going
    go.touch()
    assert wait_until(lambda: get(f"{url}/healthz")[0] == 200)
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    assert len(receiver.to("/hook")) == 1


def test_a_notifier_that_hangs_or_fails_never_delays_the_runs(tmp_path, env, hosts, receiver):
    config = write_config(tmp_path, f"""
        [jobs.orders]
        command = "exit 1"
        interval = "200ms"
        notify = ["{receiver.url}/hang"]

        [jobs.billing]
        command = "exit 1"
        interval = "1h"
        run_on_start = true
        notify = ["http://127.0.0.1:{_closed_port()}/refused"]

        [jobs.audit]
        command = "exit 1"
        interval = "1h"
        run_on_start = true
        notify = ["{receiver.url}/error"]
    """)
    host = hosts(config, "--no-passthrough", "--metrics-port", "0")
    url = metrics_url(host)
    # The first notice hangs; the runs go on meanwhile, each telling its failure.
    assert wait_until(lambda: receiver.to("/hang"))
    assert wait_until(lambda: len(runs_of(config, env, "orders")) >= 5)
    assert len(receiver.to("/hang")) == 1
    receiver.hold.set()
    assert wait_until(lambda: len(receiver.to("/hang")) >= 5)
    # A notifier that cannot be reached is given up after its retries, logged and counted.
    assert wait_until(lambda: 'synctui_notify_failures_total{job="billing",what="failing"} 1.0'
                      in get(f"{url}/metrics")[1], timeout=20)
    assert "billing: failing to http://127.0.0.1:" in host.stderr()
    assert "/refused" not in host.stderr()
    # One that answers 500 is tried three times, then given up.
    assert wait_until(lambda: 'synctui_notify_failures_total{job="audit",what="failing"} 1.0'
                      in get(f"{url}/metrics")[1], timeout=20)
    assert len(receiver.to("/error")) == 3
    assert "audit: failing to http://127.0.0.1:" in host.stderr()
    assert "answered 500" in host.stderr()
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0


def _closed_port() -> int:
    """A local port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ping_url_speaks_the_healthchecks_protocol(tmp_path, env, receiver):
    config = write_config(tmp_path, f"""
        [jobs.orders]
        command = "{_counting_job(tmp_path, '2')}"
        ping_url = "{receiver.url}/ping/0b1f"
    """)
    for _ in range(2):
        done = synctui("--headless", "--once", "--config", str(config), env=env, cwd=tmp_path)
        assert done.returncode in (0, 1), done.stderr
    pings = receiver.to("/ping")
    paths = [request["path"].split("?")[0] for request in pings]
    assert paths == ["/ping/0b1f/start", "/ping/0b1f", "/ping/0b1f/start", "/ping/0b1f/3"]
    rids = [request["path"].split("?rid=")[1] for request in pings]
    assert rids[0] == rids[1] != rids[2] == rids[3]
    assert all(uuid.UUID(rid) for rid in rids)
    assert pings[1]["body"] == b"boom 1\n" and pings[3]["body"] == b"boom 2\n"


def test_ping_templates_fill_in_the_runs_outcome(tmp_path, env, receiver):
    config = write_config(tmp_path, f"""
        [jobs.orders]
        command = "echo no; exit 4"

        [jobs.orders.ping]
        start = "{receiver.url}/start?run={{run_id}}"
        failure = "{receiver.url}/push?status=down&msg={{message}}&code={{exit_code}}"
    """)
    done = synctui("--headless", "--once", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 1
    run_id = runs_of(config, env, "orders")[0]["id"]
    assert [request["path"] for request in receiver.requests] == [
        f"/start?run={run_id}", "/push?status=down&msg=exit%20status%204%3A%20no&code=4"]
    assert {request["method"] for request in receiver.requests} == {"GET"}


def test_check_shows_notifier_and_ping_urls_by_host_only(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.orders]
        command = "true"
        notify = ["https://hooks.example.com/services/T0/B0/SECRET"]
        ping_url = "https://hc-ping.example.com/SECRET-UUID"
    """)
    done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "https://hooks.example.com/…" in done.stdout
    assert "https://hc-ping.example.com/…" in done.stdout
    assert "SECRET" not in done.stdout + done.stderr


def test_bad_alerting_keys_are_one_line_errors_that_hide_the_url(tmp_path, env):
    for bad, said in [
        ('notify = ["ftp://host/SECRET"]', "notify: item 0: expected an http:// or https://"),
        ('notify = [{ url = "https://h/SECRET", format = "teams" }]', "notify: item 0: expected a format among json"),
        ('ping = { start = "https://h/SECRET/{nope}" }', "ping: start: unknown field {nope}"),
        ('warn_after = "soon"', 'warn_after: expected a duration like "10m", or "2x p95"'),
    ]:
        config = write_config(tmp_path, f"""
            [jobs.orders]
            command = "true"
            {bad}
        """)
        done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
        assert done.returncode == 2
        assert f"{config}: jobs.orders.{said}" in done.stderr
        assert "SECRET" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_missing_fire_times_is_told_once(tmp_path, env, hosts, receiver):
    config = write_config(tmp_path, f"""
        [jobs.orders]
        command = "true"
        interval = "200ms"
        notify = ["{receiver.url}/hook"]
    """)
    first = hosts(config, "--no-passthrough")
    assert wait_until(lambda: len(runs_of(config, env, "orders")) >= 1)
    first.send(signal.SIGTERM)
    assert first.exit_status() == 0
    time.sleep(0.5)  # fire times pass while no host runs: the next start misses them
    second = hosts(config, "--no-passthrough")
    assert wait_until(lambda: any(run["result"] == "missed"
                                  for run in history(config, env)))
    assert wait_until(lambda: history(config, env)[0]["result"] == "success"
                      and history(config, env)[1]["result"] == "success")
    second.send(signal.SIGTERM)
    assert second.exit_status() == 0
    notices = [json.loads(request["body"]) for request in receiver.to("/hook")]
    assert [n["event"] for n in notices] == ["missed"]
    assert notices[0]["text"].startswith("orders missed ")
