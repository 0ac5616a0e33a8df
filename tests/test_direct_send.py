"""Over plain TCP the channel sends on the socket itself while the transport holds
nothing, and hands the rest to the transport when the socket is full. Whatever
mix of the two a connection goes through, the client must see every byte, in
order. Loopback only; a blocking client in a thread, the server on the test's
reactor."""

from __future__ import annotations

import random
import socket
import time

import pytest_twisted
from twisted.internet import reactor, threads
from twisted.internet.interfaces import ITCPTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from twisted_http import HTTPFactory, IRequestHandler, Request, Response, Router, ServerConfig
from twisted_http.testing import parse_responses

from .handlers import Held
from .security._loopback import Listening

# Large and small, and then many just under the transport's 64 KiB high-water
# mark: what the socket does not take of one of those leaves the transport
# below the mark, so the next pipelined request is answered at once.
SIZES = [10, 200_000, 1, 3_000_000, 5_000, 0, 1_500_000, 64, *range(40_000, 40_040)]


@implementer(IRequestHandler)
class Sized:
    """``/N`` answers N bytes of a pattern that shows any byte out of place."""


    def __init__(self, later: bool) -> None:
        self.later = later  # answer on a later reactor turn, as an app on a thread does

    def handle(self, request: Request, response: Response) -> bool:
        size = int(request.path_info.strip(b"/"))
        answer = (200, body_of(size), [(b"Content-Type", b"application/octet-stream")])
        if self.later:
            reactor.callLater(0, response.send, *answer)
        else:
            response.send(*answer)
        return True


def body_of(size: int) -> bytes:
    return (b"%08d" % size * (size // 8 + 1))[:size]


def _client(port: int, slow: bool) -> bytes:
    """All SIZES as keep-alive requests. The fast client sends each once the
    previous answer is in; the slow one pipelines them all and reads in small
    sips with pauses, so the server's socket fills while responses queue."""
    pauses = random.Random(6)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        if slow:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.connect(("127.0.0.1", port))
        requests = [
            b"GET /%d HTTP/1.1\r\nHost: a\r\n%s\r\n"
            % (size, b"Connection: close\r\n" if index == len(SIZES) - 1 else b"")
            for index, size in enumerate(SIZES)
        ]
        if slow:  # pipelined: each response is written while the last may still be queued
            sock.sendall(b"".join(requests))
        received = b""
        for index, request in enumerate(requests):
            if not slow:
                sock.sendall(request)
            while _complete(received) <= index:
                chunk = sock.recv(16384 if slow else 1 << 20)
                assert chunk, "the server closed early"
                received += chunk
                if slow:
                    time.sleep(pauses.choice([0, 0, 0.002]))
        assert sock.recv(1) == b""  # and then it closes
        return received


def _complete(data: bytes) -> int:
    """How many whole responses ``data`` holds."""
    try:
        return len(parse_responses(data))
    except ValueError:  # the last one is not all there yet
        return len(parse_responses(data[: data.rfind(b"HTTP/1.1 200 OK\r\n")]))


class SmallSendBuffer(HTTPFactory):
    """Its connections get a small kernel send buffer, so the socket fills often."""

    def buildProtocol(self, addr: object) -> object:
        channel = super().buildProtocol(addr)
        made = channel.connectionMade

        def connection_made() -> None:
            channel.transport.getHandle().setsockopt(  # type: ignore[attr-defined]
                socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
            made()

        channel.connectionMade = connection_made  # type: ignore[method-assign]
        return channel


async def _run(slow: bool) -> None:
    kind = SmallSendBuffer if slow else HTTPFactory
    server = Listening(kind(Router([("/", Sized(later=slow))]), ServerConfig(access_log=False)))
    try:
        raw = await threads.deferToThreadPool(
            reactor, reactor.getThreadPool(), _client, server.number, slow)
    finally:
        await server.stop()
    responses = parse_responses(raw)
    assert [r.status for r in responses] == [200] * len(SIZES)
    assert [r.body for r in responses] == [body_of(size) for size in SIZES]


@pytest_twisted.ensureDeferred
async def test_responses_of_every_size_arrive_whole_and_in_order() -> None:
    """A fast reader: most responses leave in one direct send."""
    await _run(slow=False)


@pytest_twisted.ensureDeferred
async def test_a_slow_reader_still_gets_every_byte_in_order() -> None:
    """A slow, pipelining reader fills the socket: direct sends, transport writes, and
    responses written while earlier bytes still wait in the transport."""
    await _run(slow=True)


@implementer(ITCPTransport)
class SocketBackedTransport(StringTransport):
    """A StringTransport over a real socket: the channel sends on the socket
    directly, and what it hands to the transport stays in ``value()``."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock

    def getHandle(self) -> socket.socket:  # noqa: N802 - Twisted's name
        return self._sock

    def setTcpNoDelay(self, enabled: bool) -> None:  # noqa: N802 - Twisted's name
        pass


def _drain(sock: socket.socket) -> bytes:
    parts = []
    while True:
        try:
            parts.append(sock.recv(1 << 20))
        except BlockingIOError:
            return b"".join(parts)


def test_a_direct_send_never_overtakes_bytes_the_transport_holds() -> None:
    """The socket fills mid-response, so the rest waits in the transport; the
    client then drains the socket. The next response must queue behind the
    rest, not jump into the now-empty socket ahead of it."""
    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        server_end.setblocking(False)
        client_end.setblocking(False)
        held = Held()
        factory = HTTPFactory(Router([("/", held)]), ServerConfig(access_log=False), Clock())
        channel = factory.buildProtocol(None)
        transport = SocketBackedTransport(server_end)
        channel.makeConnection(transport)
        channel.dataReceived(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
        held.pending[0][1].send(200, body_of(200_000))  # more than the socket takes
        assert transport.value(), "the socket should have filled"
        received = _drain(client_end)  # room again, with the rest still in the transport
        channel.dataReceived(b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        held.pending[1][1].send(200, body_of(10))
        received += _drain(client_end) + transport.value()  # the transport's bytes come next
    assert [r.body for r in parse_responses(received)] == [body_of(200_000), body_of(10)]


def test_a_close_after_everything_went_into_the_socket_sets_no_write_timer() -> None:
    """Connection: close answered whole through the socket: the transport holds nothing
    and closes on its next turn, so no write deadline is scheduled for the client; with
    bytes left in the transport, one is (the client must read them in time)."""
    for size, filled in ((10, False), (200_000, True)):
        server_end, client_end = socket.socketpair()
        with server_end, client_end:
            server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            server_end.setblocking(False)
            clock = Clock()
            held = Held()
            factory = HTTPFactory(Router([("/", held)]), ServerConfig(access_log=False), clock)
            channel = factory.buildProtocol(None)
            transport = SocketBackedTransport(server_end)
            channel.makeConnection(transport)
            channel.dataReceived(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            held.pending[0][1].send(200, body_of(size))
            assert transport.disconnecting
            assert bool(transport.value()) is filled
            assert len(clock.getDelayedCalls()) == (1 if filled else 0)
