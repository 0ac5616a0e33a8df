"""The channel's timers on an injected Clock, checked at the exact edge of each deadline."""

from __future__ import annotations

from twisted_http import ServerConfig
from twisted_http.testing import FakeConnection

from .handlers import Fixed, Held

CONFIG = ServerConfig(
    first_request_timeout=10, keep_alive_timeout=5, head_timeout=20, body_timeout=30
)
GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
EPSILON = 0.001


def test_silent_connection_closed_after_first_request_timeout() -> None:
    """A connection that says nothing is closed at first_request_timeout, without a response."""
    conn = FakeConnection(Fixed(), CONFIG)
    conn.clock.advance(10 - EPSILON)
    assert not conn.closed
    conn.clock.advance(EPSILON)
    assert conn.closed and conn.written == b""


def test_idle_keep_alive_connection_closed_after_keep_alive_timeout() -> None:
    """After a response, an idle persistent connection lives keep_alive_timeout, then closes."""
    conn = FakeConnection(Fixed(), CONFIG)
    conn.send(GET)
    conn.clock.advance(5 - EPSILON)
    assert not conn.closed
    conn.clock.advance(EPSILON)
    assert conn.closed
    assert len(conn.responses()) == 1


def test_keep_alive_timer_restarts_for_each_request() -> None:
    """Each answered request gives the connection a fresh keep-alive period."""
    conn = FakeConnection(Fixed(), CONFIG)
    for _ in range(3):
        conn.clock.advance(4)
        conn.send(GET)
    conn.clock.advance(4)
    assert not conn.closed and len(conn.responses()) == 3


def test_trickled_head_is_cut_off_at_the_head_deadline() -> None:
    """Slowloris: a header line every few seconds does not extend the head deadline; 408."""
    conn = FakeConnection(Fixed(), CONFIG)
    conn.send(b"GET / HTTP/1.1\r\n")
    for second in range(1, 20):
        conn.clock.advance(1)
        conn.send(b"X-%d: a\r\n" % second)
    conn.clock.advance(1 - EPSILON)
    assert not conn.closed
    conn.clock.advance(EPSILON)
    [response] = conn.responses()
    assert response.status == 408 and conn.closed


def test_head_deadline_counts_from_the_first_byte() -> None:
    """Idle time before the first byte belongs to the idle timer, not the head deadline."""
    conn = FakeConnection(Fixed(), CONFIG)
    conn.clock.advance(9)
    conn.send(b"G")
    conn.clock.advance(20 - EPSILON)
    assert not conn.closed
    conn.send(b"ET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert conn.responses()[0].status == 200


def test_pipelined_request_gets_its_own_head_deadline() -> None:
    """A request already buffered behind a slow response is timed from when it is read."""
    held = Held()
    conn = FakeConnection(held, CONFIG)
    conn.send(GET + b"GET /2 HTTP/1.1\r\n")
    conn.clock.advance(100)  # the first response takes its time; no timer runs meanwhile
    assert not conn.closed
    held.pending[0][1].send(200)
    conn.clock.advance(20 - EPSILON)
    assert not conn.closed
    conn.clock.advance(EPSILON)
    assert [r.status for r in conn.responses()] == [200, 408]


def test_stalled_body_is_cut_off_at_the_body_timeout() -> None:
    """A body that stops arriving gets 408 after body_timeout without progress."""
    held = Held()
    conn = FakeConnection(held, CONFIG)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
    held.pending[0][0].body.read_all().addErrback(lambda failure: None)
    for _ in range(5):
        conn.clock.advance(29)
        conn.send(b"x")  # progress resets the timer
    conn.clock.advance(30 - EPSILON)
    assert not conn.closed
    conn.clock.advance(EPSILON)
    [response] = conn.responses()
    assert response.status == 408 and conn.closed


def test_no_body_timer_while_the_handler_holds_the_body_back() -> None:
    """A paused body is the handler's choice: no body timeout runs while it is paused."""
    held = Held()
    conn = FakeConnection(held, CONFIG)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
    body = held.pending[0][0].body
    body.read_all()
    body.pause()
    conn.clock.advance(1000)
    assert not conn.closed


def test_no_timer_while_a_response_is_produced() -> None:
    """A slow handler is not cut off by the request timers (its own limits are elsewhere)."""
    held = Held()
    conn = FakeConnection(held, CONFIG)
    conn.send(GET)
    conn.clock.advance(1000)
    assert not conn.closed
    held.pending[0][1].send(200)
    assert conn.responses()[0].status == 200


def test_timers_are_cancelled_when_the_connection_closes() -> None:
    """Nothing is left on the clock once a connection has gone."""
    conn = FakeConnection(Fixed(), CONFIG)
    conn.send(b"GET / HTTP/1.1\r\n")
    conn.lose()
    assert conn.clock.getDelayedCalls() == []
