"""A headless host serving its console, and what the tests ask of it over HTTP."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import NamedTuple

import aiohttp


class Served(NamedTuple):
    host: object  # commandline.Host
    url: str
    operator: str
    viewer: str


def serve(hosts, config: Path) -> Served:
    """Start `synctui --headless --serve 0` on `config`; its address and its tokens."""
    host = hosts(config, "--serve", "0")
    url = host.wait_for(r"serving the console on (http://\S+/);")[1]
    operator = host.wait_for(r"operators, who steer: +\S+\?token=(\S+)")[1]
    viewer = host.wait_for(r"viewers, who watch: +\S+\?token=(\S+)")[1]
    host.wait_ready()
    return Served(host, url, operator, viewer)


def fetch(url: str, **headers: str) -> tuple[int, str]:
    """A GET of `url`: its status and its page."""
    async def get() -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers=headers) as response:
                return response.status, await response.text()

    return asyncio.run(get())


def sessions_started(host) -> list[int]:
    """The pids of the console processes the host's server started, in order."""
    return [int(pid) for pid in re.findall(r"console for \S+: pid (\d+)", host.stderr())]
