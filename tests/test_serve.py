"""The console served to browsers, at the HTTP layer: the installed `synctui --headless
--serve 0` in a real process, asked over real HTTP and websockets (aiohttp's client)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import stat
import subprocess

import aiohttp
import pytest

from commandline import history, synctui, write_config
from factories import wait_until
from installed import SYNCTUI
from serving import fetch, serve, sessions_started

pytestmark = pytest.mark.timeout(60)

JOBS = """
[serve]
max_sessions = 1

[jobs.hello]
command = "echo hello"
interval = "1h"
"""


@pytest.fixture
def served(tmp_path, hosts):
    return serve(hosts, write_config(tmp_path, JOBS))


async def drawn_until(websocket, text: bytes) -> bytes:
    """What the console draws until `text` shows."""
    drawn = b""
    while text not in drawn:
        message = await asyncio.wait_for(websocket.receive(), 20)
        assert message.type == aiohttp.WSMsgType.BINARY, message
        drawn += message.data
    return drawn


def test_the_tokens_are_kept_private_and_nobody_gets_in_without_one(served, tmp_path):
    host, url, operator, viewer = served
    tokens = tmp_path / "state" / "serve-tokens.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert operator != viewer and operator in tokens.read_text() and viewer in tokens.read_text()
    assert fetch(url)[0] == 401
    assert fetch(f"{url}?token=wrong")[0] == 401
    origin = url.rstrip("/")
    assert fetch(f"{url}ws", Origin=origin)[0] == 401
    assert fetch(f"{url}ws/wrong", Origin=origin)[0] == 401
    status, page = fetch(f"{url}?token={viewer}")
    assert status == 200
    assert f"/ws/{viewer}" in page
    assert sessions_started(host) == []


def test_a_websocket_from_another_sites_page_is_refused(served):
    host, url, operator, _ = served
    status, page = fetch(f"{url}ws/{operator}", Origin="http://evil.example")
    assert status == 403 and "own page only" in page
    assert fetch(f"{url}ws/{operator}")[0] == 403  # no Origin at all
    assert sessions_started(host) == []


def test_a_session_runs_one_console_until_its_tab_closes_and_the_next_finds_it_full(served):
    host, url, operator, _ = served
    origin = url.rstrip("/")

    async def session() -> tuple[bytes, int, str]:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{url}ws/{operator}?width=100&height=30",
                                         origin=origin) as websocket:
                drawn = await drawn_until(websocket, b"hello")  # the jobs table
                async with client.get(f"{url}?token={operator}") as full:
                    page = await full.text()
                return drawn, full.status, page

    drawn, full_status, full_page = asyncio.run(session())
    assert full_status == 503 and "at most 1 console " in full_page
    [pid] = sessions_started(host)
    host.wait_for(rf"the operator console of pid {pid} ended")
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10)


def test_a_viewers_console_steers_nothing(served, env):
    host, url, _, viewer = served

    async def session() -> bytes:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{url}ws/{viewer}?width=100&height=30",
                                         origin=url.rstrip("/")) as websocket:
                await drawn_until(websocket, b"hello")
                await websocket.send_json(["stdin", "r"])
                await websocket.send_json(["stdin", "?"])
                return await drawn_until(websocket, b"shows a run's output")  # the help, after `r`

    drawn = asyncio.run(session())
    assert b"Run the selected job now" not in drawn  # the help lists no steering key
    assert history(host.config, env) == []  # `r` ran nothing
    assert "on a read-only connection" not in host.stderr()  # nor was a request even sent


def test_a_tab_left_alone_past_idle_timeout_is_ended(tmp_path, hosts):
    host, url, operator, _ = serve(hosts, write_config(
        tmp_path, JOBS.replace("max_sessions = 1", 'max_sessions = 1\nidle_timeout = "2s"')))

    async def session() -> tuple[aiohttp.WSMsgType, float]:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{url}ws/{operator}?width=100&height=30",
                                         origin=url.rstrip("/")) as websocket:
                await drawn_until(websocket, b"hello")
                drawn_at = asyncio.get_running_loop().time()
                while (message := await asyncio.wait_for(websocket.receive(), 30)).type \
                        == aiohttp.WSMsgType.BINARY:
                    pass  # the console's countdowns go on drawing; nobody types
                return message.type, asyncio.get_running_loop().time() - drawn_at

    closed, after = asyncio.run(session())
    assert closed in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert after < 10
    [pid] = sessions_started(host)
    host.wait_for(rf"the operator console of pid {pid} was idle for 2s: ended")
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10)


def test_new_tokens_lock_the_old_ones_out_of_a_running_server(served, env, tmp_path):
    host, url, operator, viewer = served
    assert fetch(f"{url}?token={operator}")[0] == 200
    with socket.create_server(("127.0.0.1", 0)) as taken:
        refused = synctui("serve", "--new-token", "--port", str(taken.getsockname()[1]),
                          "--config", str(host.config), env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "cannot serve on 127.0.0.1:" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert fetch(f"{url}?token={operator}")[0] == 200  # a server that could not start changed nothing
    err = tmp_path / "rotate.err"
    with err.open("wb") as log:
        rotating = subprocess.Popen(
            [SYNCTUI, "serve", "--new-token", "--port", "0", "--config", str(host.config)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)
    try:
        assert wait_until(lambda: "viewers, who watch" in err.read_text(), 20), err.read_text()
    finally:
        rotating.terminate()
        assert rotating.wait(20) == 0
    new_operator = re.search(r"operators, who steer: +\S+\?token=(\S+)", err.read_text())[1]
    assert new_operator != operator
    assert fetch(f"{url}?token={operator}")[0] == 401
    assert fetch(f"{url}?token={viewer}")[0] == 401
    assert fetch(f"{url}?token={new_operator}")[0] == 200  # the host's server took them at once


def test_behind_a_proxy_the_page_points_at_the_proxy_and_its_origin_is_let_in(served):
    host, url, operator, _ = served
    proxy = {"X-Forwarded-Host": "sync.example:8443", "X-Forwarded-Proto": "https",
             "X-Forwarded-Prefix": "/synctui"}
    status, page = fetch(f"{url}?token={operator}", **proxy)
    assert status == 200
    assert f'data-session-websocket-url="wss://sync.example:8443/synctui/ws/{operator}"' in page
    assert 'href="/synctui/static/css/xterm.css"' in page

    async def session(**headers: str) -> bytes:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{url}ws/{operator}?width=100&height=30",
                                         headers=headers) as websocket:
                return await drawn_until(websocket, b"hello")

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        asyncio.run(session(Origin="https://sync.example:8443"))  # the proxy said nothing
    assert refused.value.status == 403
    assert b"hello" in asyncio.run(session(Origin="https://sync.example:8443", **proxy))
