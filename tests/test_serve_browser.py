"""The served console in a real browser: headless Chromium opens the page the installed
`synctui --headless --serve 0` serves, draws the console and types into it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest

from browser import Browser, needs_chromium
from commandline import history, runs_of, synctui, write_config
from factories import wait_until
from installed import SYNCTUI
from serving import serve, sessions_started

pytestmark = [pytest.mark.timeout(120), needs_chromium]

JOBS = """
[jobs.orders]
command = "echo synced 42 rows"
interval = "1h"
"""

README = Path(__file__).resolve().parents[1] / "README.md"
NGINX_BIN = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")

NGINX = """
daemon off;
pid {here}/nginx.pid;
error_log {here}/error.log;
{user}
events {{}}
http {{
    access_log off;
    client_body_temp_path {here}/body;
    proxy_temp_path {here}/proxy;
    fastcgi_temp_path {here}/fastcgi;
    uwsgi_temp_path {here}/uwsgi;
    scgi_temp_path {here}/scgi;
    server {{
        listen 127.0.0.1:{port};
        {location}
    }}
}}
"""

OPEN_WEBSOCKET = """
const [address, done] = arguments;
const socket = new WebSocket(address);
socket.onopen = () => { socket.close(); done("opened"); };
socket.onerror = () => done("refused");
"""


@pytest.fixture(scope="module")
def browser():
    opened = Browser()
    yield opened
    opened.quit()


@pytest.fixture
def served(tmp_path, hosts):
    return serve(hosts, write_config(tmp_path, JOBS))


def test_an_operator_sees_the_jobs_runs_one_and_closing_the_tab_ends_its_console(
        served, browser, env):
    host, url, operator, _ = served
    browser.open_tab(f"{url}?token={operator}")
    assert browser.shows("orders"), browser.drawn()
    [pid] = sessions_started(host)
    browser.press("r")
    assert browser.shows("synced 42 rows"), browser.drawn()  # the run's output, in the log tail
    assert [run["result"] for run in runs_of(host.config, env, "orders")] == ["success"]
    browser.close_tab()
    host.wait_for(rf"the operator console of pid {pid} ended")
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10)


def test_a_viewer_presses_r_and_nothing_runs(served, browser, env):
    host, url, _, viewer = served
    browser.open_tab(f"{url}?token={viewer}")
    assert browser.shows("orders"), browser.drawn()
    browser.press("r")
    browser.press("?")
    assert browser.shows("shows a run's output"), browser.drawn()  # the help, drawn after `r`
    assert "Run the selected job now" not in browser.drawn()  # it lists no steering key
    assert history(host.config, env) == []
    assert "on a read-only connection" not in host.stderr()  # no request was even sent
    browser.close_tab()


def test_without_a_token_neither_page_nor_websocket_starts_a_console(served, browser):
    host, url, operator, _ = served
    browser.open_tab(url)
    assert "A token is needed" in browser.page_text()
    websocket = url.replace("http://", "ws://")
    assert browser.script(OPEN_WEBSOCKET, f"{websocket}ws") == "refused"
    assert browser.script(OPEN_WEBSOCKET, f"{websocket}ws/not-a-token") == "refused"
    assert sessions_started(host) == []
    browser.driver.get(f"{url}?token={operator}")  # the same page, with the token this time
    assert browser.script(OPEN_WEBSOCKET, f"{websocket}ws/{operator}") == "opened"
    browser.close_tab()


def test_another_sites_page_cannot_open_a_console(served, browser, tmp_path):
    host, url, operator, _ = served
    site = tmp_path / "elsewhere"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>elsewhere</title>")
    elsewhere = ThreadingHTTPServer(("127.0.0.1", 0),
                                    partial(SimpleHTTPRequestHandler, directory=str(site)))
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    try:
        browser.open_tab(f"http://127.0.0.1:{elsewhere.server_port}/index.html")
        websocket = url.replace("http://", "ws://")
        assert browser.script(OPEN_WEBSOCKET, f"{websocket}ws/{operator}") == "refused"
        browser.close_tab()
    finally:
        elsewhere.shutdown()
    assert re.search(r"refused a console to \S+: its page came from http://127\.0\.0\.1:\d+",
                     host.stderr())
    assert sessions_started(host) == []


def test_the_21st_session_gets_the_full_page(served, browser):
    host, url, operator, _ = served
    origin = url.rstrip("/")
    opened, release = asyncio.Event(), asyncio.Event()

    async def twenty_consoles() -> None:
        async with aiohttp.ClientSession() as client:
            async def console() -> None:
                async with client.ws_connect(f"{url}ws/{operator}?width=80&height=24",
                                             origin=origin) as websocket:
                    await asyncio.wait_for(websocket.receive(), 60)
                    await release.wait()
            tasks = [asyncio.create_task(console()) for _ in range(20)]
            while len(sessions_started(host)) < 20:
                await asyncio.sleep(0.1)
            opened.set()
            await release.wait()
            await asyncio.gather(*tasks)

    loop = asyncio.new_event_loop()
    consoles = threading.Thread(target=loop.run_until_complete, args=(twenty_consoles(),))
    consoles.start()
    try:
        assert wait_until(opened.is_set, 90)
        browser.open_tab(f"{url}?token={operator}")
        assert "Every console is in use" in browser.page_text()
        assert "at most 20 consoles" in browser.page_text()
        browser.close_tab()
    finally:
        loop.call_soon_threadsafe(release.set)
        consoles.join(60)
        loop.close()
    assert len(sessions_started(host)) == 20


def test_with_no_host_a_tab_waits_and_no_scheduler_starts(tmp_path, browser, env):
    config = write_config(tmp_path, JOBS)
    err = tmp_path / "serve.err"
    with err.open("wb") as log:
        server = subprocess.Popen([SYNCTUI, "serve", "--config", str(config), "--port", "0"],
                                  stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                                  cwd=tmp_path)
    try:
        assert wait_until(lambda: "operators, who steer" in err.read_text(), 20), err.read_text()
        address = re.search(r"operators, who steer: +(\S+)", err.read_text())[1]
        browser.open_tab(address)
        assert browser.shows("waiting for its host"), browser.drawn()
        status = synctui("status", "--json", "--config", str(config), env=env, cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["host"] is None
        browser.close_tab()
    finally:
        server.terminate()
        assert server.wait(20) == 0


@pytest.mark.skipif(NGINX_BIN is None, reason="nginx is not installed (make tools installs it)")
def test_behind_the_readmes_nginx_example_the_console_works_under_its_prefix(
        served, browser, env, tmp_path):
    host, url, operator, _ = served
    location = re.search(r"```nginx\n(.*?)```", README.read_text(), re.S)[1]
    location = location.replace("127.0.0.1:8080", url.removeprefix("http://").rstrip("/"))
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    here = tmp_path / "nginx"
    here.mkdir()
    (here / "nginx.conf").write_text(NGINX.format(
        here=here, port=port, location=location,
        user="user root;" if os.geteuid() == 0 else ""))
    proxy = subprocess.Popen([NGINX_BIN, "-c", str(here / "nginx.conf"), "-p", str(here)],
                             stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: _answers(port) or proxy.poll() is not None, 10)
        assert proxy.poll() is None, proxy.stderr.read().decode()
        browser.open_tab(f"http://127.0.0.1:{port}/synctui/?token={operator}")
        assert browser.shows("orders"), browser.drawn()
        browser.press("r")
        assert browser.shows("synced 42 rows"), browser.drawn()
        assert [run["result"] for run in runs_of(host.config, env, "orders")] == ["success"]
        browser.close_tab()
    finally:
        proxy.terminate()
        proxy.wait(10)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
