"""The other ends of the control-socket bench: a bare line server and a crowd of
subscribers (each run as a helper process), a line client, and the hosts it measures."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import _common

# A bare line server. argv: socket path, mode (threads | asyncio-pool), sized reply bytes.
# A request line containing `"sized"` gets a line of that many bytes; any other is echoed.
ECHO_SERVER = r"""
import os, socket, sys
path, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
blob = b'{"id":0,"ok":true,"result":"' + b"x" * max(size - 30, 0) + b'"}\n'
def reply(raw):
    return blob if b'"sized"' in raw else raw
if mode == "threads":
    import threading
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    def serve(connection):
        connection.sendall(b'{"greeting":true}\n')
        lines = connection.makefile("rb")
        for raw in lines:
            connection.sendall(reply(raw))
        connection.close()
    print("ready", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()
else:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(max_workers=4)
    async def serve(reader, writer):
        loop = asyncio.get_running_loop()
        writer.write(b'{"greeting":true}\n')
        await writer.drain()
        while True:
            raw = await reader.readline()
            if not raw:
                break
            writer.write(await loop.run_in_executor(pool, reply, raw))
            await writer.drain()
        writer.close()
    async def main():
        server = await asyncio.start_unix_server(serve, path=path, limit=65536)
        print("ready", flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())
"""

# N subscribers of one host. argv: socket path, count, mode (read | stall).
# Prints "ready" once every connection's subscribe was answered; in read mode, on
# SIGTERM, prints per-connection counts of events by type as JSON.
SUBSCRIBERS = r"""
import json, selectors, signal, socket, sys
path, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def readline(connection, buffer):
    while b"\n" not in buffer:
        chunk = connection.recv(65536)
        if not chunk:
            raise SystemExit("the host hung up")
        buffer += chunk
    head, _, rest = buffer.partition(b"\n")
    return head, rest
connections = []
for n in range(count):
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    greeting, rest = readline(connection, b"")
    assert b'"protocol"' in greeting, greeting
    connection.sendall(b'{"id":1,"op":"subscribe","client":"console"}\n')
    answer, rest = readline(connection, rest)
    assert b'"ok":true' in answer, answer
    connections.append([connection, rest])
print("ready", flush=True)
if mode == "stall":
    while True:
        signal.pause()
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
counts = [{} for _ in connections]
selector = selectors.DefaultSelector()
for n, (connection, _) in enumerate(connections):
    connection.setblocking(False)
    selector.register(connection, selectors.EVENT_READ, n)
def take(n, data):
    entry = connections[n]
    entry[1] += data
    *lines, entry[1] = entry[1].split(b"\n")
    for text in lines:
        kind = text.split(b'"type":"', 1)[1].split(b'"', 1)[0].decode() if b'"type":"' in text else "?"
        counts[n][kind] = counts[n].get(kind, 0) + 1
for n, (connection, rest) in enumerate(connections):
    connections[n][1] = b""
    take(n, rest)
closed = 0
while not stop:
    for key, _ in selector.select(0.1):
        try:
            data = key.fileobj.recv(262144)
        except BlockingIOError:
            continue
        if not data:
            selector.unregister(key.fileobj)
            closed += 1
            continue
        take(key.data, data)
print(json.dumps({"counts": counts, "closed_by_host": closed}), flush=True)
"""


class LineClient:
    """A blocking Unix-socket connection that sends a line and reads one back."""

    def __init__(self, path: Path) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.settimeout(30)
        self.socket.connect(str(path))
        self.buffer = bytearray()
        self.greeting = self.readline()

    def readline(self) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                head = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return head
            chunk = self.socket.recv(262144)
            if not chunk:
                raise RuntimeError("the server hung up")
            self.buffer += chunk

    def round_trip(self, request: bytes) -> tuple[float, bytes]:
        began = time.perf_counter_ns()
        self.socket.sendall(request)
        reply = self.readline()
        return (time.perf_counter_ns() - began) / 1e6, reply

    def close(self) -> None:
        self.socket.close()


def start_host(config: Path, tmp: Path, env: dict, name: str) -> tuple[subprocess.Popen, Path]:
    """A `synctui --headless` host; returns it and its socket (from `status --json`)."""
    with (tmp / f"{name}.out").open("wb") as out, (tmp / f"{name}.err").open("wb") as err:
        host = subprocess.Popen([str(_common.SYNCTUI), "--headless", "--config", str(config)],
                                stdout=out, stderr=err, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if host.poll() is not None:
            raise RuntimeError(f"{name}: synctui --headless exited {host.returncode}:\n"
                               + (tmp / f"{name}.err").read_text()[-2000:])
        done = subprocess.run([str(_common.SYNCTUI), "status", "--json", "--config", str(config)],
                              capture_output=True, text=True, env=env)
        if done.returncode == 0:
            socket_path = (json.loads(done.stdout).get("host") or {}).get("socket")
            if socket_path and Path(socket_path).exists():
                return host, Path(socket_path)
        time.sleep(0.2)
    host.kill()
    raise RuntimeError(f"{name}: no control socket in `status --json` after 30 s")


def stop_host(host: subprocess.Popen, tmp: Path, name: str) -> str:
    if host.poll() is None:
        host.send_signal(signal.SIGTERM)
    status = host.wait(timeout=30)
    errors = (tmp / f"{name}.err").read_text()
    _common.RESULTS_DIR.mkdir(exist_ok=True)  # kept for reading, next to the results
    (_common.RESULTS_DIR / f"control_socket.{name}.log").write_text(errors)
    if status != 0:
        raise RuntimeError(f"{name}: synctui --headless exited {status}:\n{errors[-2000:]}")
    return errors


def start_helper(code: str, *argv: str) -> subprocess.Popen:
    helper = subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE,
                              text=True)
    ready = helper.stdout.readline()
    if ready.strip() != "ready":
        helper.kill()
        raise RuntimeError(f"helper did not start: {ready!r}")
    return helper


def end_helper(helper: subprocess.Popen) -> None:
    if helper.poll() is None:
        helper.kill()
    helper.wait()
