"""Slow clients: each is cut off at its configured bound, and memory stays bounded meanwhile.

Each attack is checked twice: on FakeConnection with a Clock at the exact edge
(one tick before the bound the connection lives, at the bound it is cut off),
and once on a real loopback socket with short bounds, timed with the wall
clock. docs/security.md lists the measured figures.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest_twisted
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from zope.interface import implementer

from twisted_http import HTTPFactory, Request, Response, Router, ServerConfig, StaticFiles
from twisted_http.testing import FakeConnection

from ..handlers import Calls, Fixed
from ._loopback import Listening, connect, send_buffer_size, sleep, wait_until
from ._support import Recorder, refused

EPSILON = 0.001
CONFIG = ServerConfig(first_request_timeout=10, keep_alive_timeout=15, head_timeout=20,
                      body_timeout=30, write_timeout=60)


# -- on the fake transport, at the exact edges ------------------------------------------------


def test_trickled_head_cut_off_at_head_timeout_with_bounded_buffer() -> None:
    """Slowloris: one header line every 5 seconds. The head deadline counts from
    the first byte and is not moved by progress: 408 at exactly head_timeout.
    Meanwhile the head can never grow past max_head_size (431 if it tries)."""
    recorder = Recorder()
    conn = FakeConnection(recorder, CONFIG)
    conn.send(b"GET / HTTP/1.1\r\n")
    for i in range(3):
        conn.clock.advance(5)
        conn.send(b"X-Slow-%d: a\r\n" % i)
    conn.clock.advance(5 - EPSILON)
    assert not conn.closed and conn.written == b""
    conn.clock.advance(EPSILON)
    refused(conn, 408)
    assert recorder.seen == []


def test_trickled_head_cannot_outgrow_max_head_size() -> None:
    """A trickle that sends big lines instead of slow ones hits max_head_size first."""
    conn = FakeConnection(Fixed(), ServerConfig(max_head_size=4096, max_request_line=1024))
    conn.send(b"GET / HTTP/1.1\r\n")
    for i in range(10):
        if conn.closed:
            break
        conn.send(b"X-%d: %s\r\n" % (i, b"a" * 1000))
    refused(conn, 431)


def test_trickled_body_cut_off_when_progress_stops_for_body_timeout() -> None:
    """A body trickled one byte every body_timeout - 1 ms keeps the connection (it is
    a progress timeout: a slow upload is allowed); the first gap of a full
    body_timeout gets 408. The whole trickle is bounded by max_body_size bytes."""
    recorder = Recorder()
    conn = FakeConnection(recorder, CONFIG)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
    for _ in range(5):
        conn.clock.advance(30 - EPSILON)
        conn.send(b"x")
    assert not conn.closed
    conn.clock.advance(30 - EPSILON)
    assert not conn.closed
    conn.clock.advance(EPSILON)
    refused(conn, 408)
    assert recorder.bodies == []


def test_silent_connection_closed_at_first_request_timeout() -> None:
    """A connection that says nothing is closed at first_request_timeout, nothing sent."""
    conn = FakeConnection(Fixed(), CONFIG)
    conn.clock.advance(10 - EPSILON)
    assert not conn.closed
    conn.clock.advance(EPSILON)
    assert conn.closed and conn.written == b""


@implementer(IPushProducer)
class Firehose:
    """A streaming body: 64 KiB every 10 ms for as long as it is not paused."""

    CHUNK = b"x" * 65536

    def __init__(self, clock: Clock, response: Response) -> None:
        self.clock, self.response = clock, response
        self.paused = False
        self.stopped = False
        self.sent = 0
        self.call = clock.callLater(0.01, self.tick)

    def tick(self) -> None:
        if self.stopped:
            return
        if not self.paused:
            self.response.write(self.CHUNK)
            self.sent += len(self.CHUNK)
        self.call = self.clock.callLater(0.01, self.tick)

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        self.stopped = True


def firehose_handler(clock: Clock, hoses: list[Firehose]) -> Calls:
    def handle(request: Request, response: Response) -> None:
        response.start(200, [(b"Content-Type", b"application/octet-stream")])
        hose = Firehose(clock, response)
        response.register_producer(hose, True)
        hoses.append(hose)

    return Calls(handle)


def test_client_that_never_reads_is_cut_off_at_write_timeout_with_nothing_piling_up() -> None:
    """A client that never reads: the transport's buffer stays over its high-water
    mark. The response's producer is paused, so nothing more piles up in the
    server, and at exactly write_timeout the connection is aborted."""
    clock = Clock()
    hoses: list[Firehose] = []
    conn = FakeConnection(firehose_handler(clock, hoses), CONFIG, clock)
    conn.request(b"GET", b"/")
    clock.advance(0.05)
    conn.block_writes()
    written = len(conn.written)
    assert hoses[0].paused
    for _ in range(59):
        clock.advance(1)
    clock.advance(1 - EPSILON)
    assert not conn.transport.disconnected
    assert len(conn.written) == written  # nothing more was buffered while blocked
    clock.advance(EPSILON)
    assert conn.transport.disconnected  # aborted, not a graceful close
    assert hoses[0].stopped or hoses[0].paused


def test_close_that_never_drains_is_aborted_at_write_timeout() -> None:
    """After a response with Connection: close, the close waits for the buffer to
    drain; a client that never reads it is aborted at write_timeout."""
    conn = FakeConnection(Fixed(body=b"x" * 1000), CONFIG)
    conn.request(b"GET", b"/", [(b"Connection", b"close")])
    assert conn.closed and not conn.transport.disconnected
    conn.clock.advance(60 - EPSILON)
    assert not conn.transport.disconnected
    conn.clock.advance(EPSILON)
    assert conn.transport.disconnected


def test_reading_again_before_write_timeout_keeps_the_connection() -> None:
    """A client that falls behind and catches up within write_timeout is served on."""
    clock = Clock()
    hoses: list[Firehose] = []
    conn = FakeConnection(firehose_handler(clock, hoses), CONFIG, clock)
    conn.request(b"GET", b"/")
    conn.block_writes()
    clock.advance(60 - EPSILON)
    conn.unblock_writes()
    clock.advance(60)
    assert not conn.transport.disconnected and not hoses[0].paused


# -- on real sockets ---------------------------------------------------------------------------

SHORT = ServerConfig(first_request_timeout=0.5, keep_alive_timeout=0.5, head_timeout=0.5,
                     body_timeout=0.5, write_timeout=0.5)


class ReactorLikeClock(Clock):
    """A Clock that refuses a negative delay, as the real reactor's callLater does
    (``assert delay >= 0`` in ReactorBase.callLater)."""

    def callLater(self, delay: float, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]  # noqa: N802
        assert delay >= 0, f"{delay} is not greater than or equal to 0 seconds"
        return super().callLater(delay, *args, **kwargs)


def test_head_deadline_survives_a_late_timer() -> None:
    """The first byte comes 1 ms after connecting, so the head deadline is 1 ms after
    the idle timer's call; the reactor runs that call 2 ms late (a busy loop). The
    408 must still come, not an exception out of the timer."""
    clock = ReactorLikeClock()
    conn = FakeConnection(Fixed(), ServerConfig(first_request_timeout=10, head_timeout=10), clock)
    clock.advance(0.001)
    conn.send(b"GET / HTTP/1.1\r\n")  # head deadline 10.001, the scheduled call at 10
    clock.advance(10.002 - 0.001)  # the call runs 2 ms late, after the deadline
    clock.advance(1)
    refused(conn, 408)


@pytest_twisted.ensureDeferred
async def test_socket_trickled_head_is_cut_off() -> None:
    """Loopback: a header line every 100 ms; 408 and closed about head_timeout
    (0.5 s) after the first byte."""
    server = Listening(HTTPFactory(Router([("/", Fixed())]), SHORT))
    try:
        client = await connect(server.number)
        start = time.monotonic()
        client.send(b"GET / HTTP/1.1\r\n")
        for i in range(20):
            if client.closed_at is not None:
                break
            await sleep(0.1)
            if client.closed_at is None:
                client.send(b"X-%d: a\r\n" % i)
        await wait_until(lambda: client.closed_at is not None, 2.5)
        assert client.closed_at is not None
        elapsed = client.closed_at - start
        assert 0.45 <= elapsed < 1.5, elapsed
        assert client.data.startswith(b"HTTP/1.1 408 ")
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_socket_stalled_body_is_cut_off() -> None:
    """Loopback: a POST that sends 1 byte of its body and stops; 408 about
    body_timeout (0.5 s) later."""
    server = Listening(HTTPFactory(Router([("/", Recorder())]), SHORT))
    try:
        client = await connect(server.number)
        client.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nx")
        start = time.monotonic()
        await wait_until(lambda: client.closed_at is not None, 2.5)
        assert client.closed_at is not None
        elapsed = client.closed_at - start
        assert 0.45 <= elapsed < 1.5, elapsed
        assert client.data.startswith(b"HTTP/1.1 408 ")
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_socket_silent_connection_is_closed() -> None:
    """Loopback: a connection that sends nothing is closed, without a response,
    about first_request_timeout (0.5 s) after it opened."""
    server = Listening(HTTPFactory(Router([("/", Fixed())]), SHORT))
    try:
        start = time.monotonic()
        client = await connect(server.number)
        await wait_until(lambda: client.closed_at is not None, 2.5)
        assert client.closed_at is not None
        elapsed = client.closed_at - start
        assert 0.45 <= elapsed < 1.5, elapsed
        assert client.data == b""
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_socket_client_that_never_reads_is_cut_off_with_bounded_memory(
    tmp_path: Path,
) -> None:
    """Loopback: a client asks for a 32 MiB file and never reads. The server
    holds only a socket buffer's worth for it (not the file), and aborts the
    connection about write_timeout (0.5 s) after its buffer stopped draining."""
    (tmp_path / "big.bin").write_bytes(b"\0" * (32 << 20))
    server = Listening(HTTPFactory(Router([("/", StaticFiles(tmp_path))]), SHORT))
    try:
        client = await connect(server.number)
        assert client.transport is not None
        client.transport.pauseProducing()  # stop reading: the kernel buffers fill
        client.send(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        await wait_until(lambda: bool(server.channels), 5)
        channel = server.channels[0]
        start = time.monotonic()
        peak = 0
        while not channel.transport.disconnected:
            peak = max(peak, send_buffer_size(channel))
            assert time.monotonic() - start < 5, "never cut off"
            await sleep(0.02)
        elapsed = time.monotonic() - start
        print(f"never-reading client: cut off after {elapsed:.2f} s, "
              f"server buffer peak {peak} bytes")
        assert 0.45 <= elapsed < 2.0, elapsed
        assert peak < 4 << 20, peak  # a few socket buffers at most, never the 32 MiB file
    finally:
        await server.stop()
