"""Load and leaks on real loopback sockets.

Short forms run in ``make test``; ``make load`` sets MINIHTTP_LOAD=long for the
full sizes the issue asks for: 200 concurrent connections x 50 requests of mixed
static and WSGI, and 10,000 connections opened and closed against a ``twistd``
child whose RSS is read from /proc before and after.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import Protocol
from twisted.python.threadpool import ThreadPool

from twisted_http import HTTPFactory, Router, StaticFiles
from twisted_http.testing import parse_responses
from twisted_http.wsgi.handler import WSGIHandler

from ..support import free_port
from ._loopback import Listening, connect, wait_until

LONG = os.environ.get("MINIHTTP_LOAD") == "long"
CONNECTIONS, REQUESTS = (200, 50) if LONG else (20, 10)
CYCLES = 10_000 if LONG else 1_500
ROOT = Path(__file__).resolve().parents[2]


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello " + environ["PATH_INFO"].encode("latin-1")]


class Sequential(Protocol):
    """Sends ``count`` keep-alive requests one after another, checking each answer."""

    def __init__(self, index: int, count: int, static_body: bytes) -> None:
        self.index, self.count, self.static_body = index, count, static_body
        self.sent = 0
        self.buffer = b""
        self.errors: list[str] = []
        self.done: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.next()

    def target(self, i: int) -> tuple[bytes, bytes]:
        if (self.index + i) % 2:
            return b"/file.txt", self.static_body
        path = b"/c%d/r%d" % (self.index, i)
        return b"/app" + path, b"hello " + path

    def next(self) -> None:
        assert self.transport is not None
        if self.sent == self.count:
            self.transport.loseConnection()
            return
        target, _ = self.target(self.sent)
        self.transport.write(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % target)

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        try:
            [response] = parse_responses(self.buffer)
        except ValueError:
            return  # not complete yet
        _, body = self.target(self.sent)
        if (response.status, response.body) != (200, body):
            self.errors.append(f"request {self.sent}: {response.status} {response.body[:40]!r}")
        self.buffer = b""
        self.sent += 1
        self.next()

    def connectionLost(self, reason: object = None) -> None:
        if self.sent < self.count:
            self.errors.append(f"closed after {self.sent} of {self.count}: {reason}")
        self.done.callback(None)


@pytest_twisted.ensureDeferred
async def test_concurrent_keep_alive_mixed_static_and_wsgi(tmp_path: Path) -> None:
    """CONNECTIONS concurrent connections x REQUESTS requests each, alternating a
    static file and a WSGI app: every response is the right one, zero errors."""
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    static_body = b"static " * 100
    (tmp_path / "file.txt").write_bytes(static_body)
    pool = ThreadPool(4, 10, "load")
    pool.start()
    handler = WSGIHandler(hello, thread_pool=pool, reactor=reactor)  # type: ignore[arg-type]
    server = Listening(HTTPFactory(Router([("/", StaticFiles(tmp_path)), ("/app", handler)])))
    start = time.monotonic()
    try:
        clients = [Sequential(i, REQUESTS, static_body) for i in range(CONNECTIONS)]
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server.number, timeout=10)
        await gatherResults([connectProtocol(endpoint, c) for c in clients])
        await wait_until(lambda: all(c.done.called for c in clients), 120 if LONG else 20)
        errors = [e for c in clients for e in c.errors]
        elapsed = time.monotonic() - start
        print(f"load: {CONNECTIONS} connections x {REQUESTS} requests in {elapsed:.1f} s, "
              f"{len(errors)} errors")
        assert errors == []
        assert sum(c.sent for c in clients) == CONNECTIONS * REQUESTS
    finally:
        await server.stop()
        pool.stop()


@pytest_twisted.ensureDeferred
async def test_connections_over_the_limit_are_turned_away_and_the_rest_served(
    tmp_path: Path,
) -> None:
    """max_connections=3: a fourth connection gets 503 with Connection: close and is
    closed at once; the three already open are still served afterwards."""
    from twisted_http import ServerConfig

    (tmp_path / "f.txt").write_bytes(b"ok")
    server = Listening(HTTPFactory(Router([("/", StaticFiles(tmp_path))]),
                                   ServerConfig(max_connections=3)))
    try:
        held = [await connect(server.number) for _ in range(3)]
        await wait_until(lambda: len(server.channels) == 3, 5)
        start = time.monotonic()
        extra = await connect(server.number)
        await wait_until(lambda: extra.closed_at is not None, 5)
        assert extra.closed_at is not None
        print(f"turned away in {extra.closed_at - start:.3f} s")
        assert extra.closed_at - start < 1.0
        [refusal] = parse_responses(extra.data)
        assert refusal.status == 503 and refusal.header(b"connection") == b"close"
        for client in held:
            client.send(b"GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        await wait_until(lambda: all(c.data.endswith(b"ok") for c in held), 5)
        assert [parse_responses(c.data)[0].status for c in held] == [200, 200, 200]
        held[0].transport.loseConnection()  # type: ignore[union-attr]
        await held[0].closed
        # The server counts a connection until its side is closed too.
        await wait_until(lambda: server.factory.open_connections == 2, 5)
        again = await connect(server.number)
        again.send(b"GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        await wait_until(lambda: again.data.endswith(b"ok"), 5)
        assert parse_responses(again.data)[0].status == 200
    finally:
        await server.stop()


# -- leaks: a twistd child, its RSS before and after ---------------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _cycle(port: int, target: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_connections_opened_and_closed_leave_memory_flat(tmp_path: Path) -> None:
    """CYCLES connections, each one request (static or WSGI) and a close, against
    ``twistd -n minihttp``: the child's RSS after them is within 2 MiB of its RSS
    after a warm-up of 500."""
    (tmp_path / "file.txt").write_bytes(b"static" * 100)
    port = free_port()
    twistd = Path(sys.executable).parent / "twistd"
    process = subprocess.Popen(
        [str(twistd), "--nodaemon", "--pidfile=", f"--logfile={tmp_path / 'twistd.log'}",
         "minihttp", "--port", f"tcp:{port}:interface=127.0.0.1", "--no-access-log",
         "--static", str(tmp_path), "--pythonpath", str(ROOT),
         "--wsgi", "/app=tests.apps.simple:hello"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "twistd did not start"
                time.sleep(0.1)
        targets = [b"/file.txt", b"/app/x"]
        for i in range(500):
            assert _cycle(port, targets[i % 2]).startswith(b"HTTP/1.1 200 ")
        before = _rss_kib(process.pid)
        start = time.monotonic()
        for i in range(CYCLES):
            assert _cycle(port, targets[i % 2]).startswith(b"HTTP/1.1 200 ")
            assert time.monotonic() - start < 300
        after = _rss_kib(process.pid)
        print(f"leak: {CYCLES} connections in {time.monotonic() - start:.1f} s; "
              f"twistd RSS {before} KiB before, {after} KiB after ({after - before:+d} KiB)")
        assert after - before < 2048
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
