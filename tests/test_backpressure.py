"""The client's reading paces the server: pipelining, the write timeout, closing, capacity."""

from __future__ import annotations

from twisted.internet.testing import StringTransport

from twisted_http import HTTPFactory, Router, ServerConfig
from twisted_http.testing import CLIENT_ADDRESS, FakeConnection, parse_responses

from .handlers import Fixed, Held

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
CONFIG = ServerConfig(write_timeout=60, keep_alive_timeout=1000)
EPSILON = 0.001


def test_no_pipelined_request_starts_while_the_client_is_not_reading() -> None:
    """With the send buffer full, buffered requests wait until the client catches up."""
    fixed = Fixed()
    conn = FakeConnection(fixed, CONFIG)
    conn.block_writes()
    conn.send(GET * 3)
    assert fixed.count == 0 and not conn.reading
    conn.unblock_writes()
    assert fixed.count == 3 and conn.reading
    assert len(conn.responses()) == 3


def test_a_response_that_fills_the_buffer_holds_back_the_next_request() -> None:
    """The buffer filling during one response stops the next one from being read."""
    fixed = Fixed()
    conn = FakeConnection(fixed, CONFIG)
    original = conn.transport.write

    def write_and_fill(data: bytes) -> None:
        original(data)
        conn.block_writes()  # as a TCP transport does past its high-water mark

    conn.transport.write = write_and_fill  # type: ignore[method-assign]
    conn.transport.writeSequence = lambda seq: write_and_fill(b"".join(seq))  # type: ignore[method-assign]
    conn.send(GET * 2)
    assert fixed.count == 1
    conn.unblock_writes()
    assert fixed.count == 2


def test_client_that_stops_reading_is_cut_off_at_the_write_timeout() -> None:
    """A send buffer that stays full for write_timeout aborts the connection."""
    held = Held()
    conn = FakeConnection(held, CONFIG)
    conn.send(GET)
    _, response = held.pending[0]
    finished: list[object] = []
    response.notify_finish().addBoth(finished.append)
    response.start(200)
    response.write(b"x" * 1000)
    conn.block_writes()
    conn.clock.advance(60 - EPSILON)
    assert not conn.closed
    conn.clock.advance(EPSILON)
    assert conn.transport.disconnected  # aborted: the unread bytes are dropped
    assert len(finished) == 1 and finished[0] is not None


def test_write_timeout_restarts_when_the_client_reads() -> None:
    """Progress (the buffer draining) clears the write timeout."""
    held = Held()
    conn = FakeConnection(held, CONFIG)
    conn.send(GET)
    for _ in range(3):
        conn.block_writes()
        conn.clock.advance(59)
        conn.unblock_writes()
    assert not conn.closed


def test_close_that_never_drains_is_aborted() -> None:
    """A closing connection whose client never reads is aborted after write_timeout."""
    conn = FakeConnection(Fixed(headers=((b"Connection", b"close"),)), CONFIG)
    conn.send(GET)
    assert conn.closed and not conn.transport.disconnected
    assert conn.transport.producer is None  # nothing holds the close back
    conn.clock.advance(60)
    assert conn.transport.disconnected


def test_connections_past_the_limit_are_turned_away() -> None:
    """Past max_connections a new connection gets 503 and a close; the others keep working."""
    factory = HTTPFactory(Router([("/", Fixed())]), ServerConfig(max_connections=2))
    transports = []
    for _ in range(3):
        protocol = factory.buildProtocol(CLIENT_ADDRESS)
        transport = StringTransport()
        protocol.makeConnection(transport)
        transports.append((protocol, transport))
    [turned_away] = parse_responses(transports[2][1].value())
    assert turned_away.status == 503 and turned_away.header(b"connection") == b"close"
    assert transports[2][1].disconnecting
    first, transport = transports[0]
    first.dataReceived(GET)
    assert parse_responses(transport.value())[0].status == 200
    first.connectionLost(None)  # type: ignore[arg-type]
    again = factory.buildProtocol(CLIENT_ADDRESS)
    again.makeConnection(StringTransport())
    assert factory.open_connections == 2  # the freed place was taken
