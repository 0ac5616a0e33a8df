"""HTTPChannel on StringTransport: persistence, pipelining, HEAD, framing, Expect, errors."""

from __future__ import annotations

import gc

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python.failure import Failure

from twisted_http import HTTPFactory, Request, Response, Router, ServerConfig
from twisted_http.testing import CLIENT_ADDRESS, FakeConnection, request_bytes

from .handlers import Calls, Declines, Echo, Fixed, Held

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def get(path: bytes = b"/", *headers: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    lines = [b"GET %s %s" % (path, version), *headers]
    if version == b"HTTP/1.1" and not any(h.lower().startswith(b"host:") for h in headers):
        lines.insert(1, b"Host: a")
    return b"\r\n".join(lines) + b"\r\n\r\n"


# -- a response's head -------------------------------------------------------


def test_response_has_status_date_server_and_length() -> None:
    """A plain response carries its status line, Date, Server and Content-Length."""
    conn = FakeConnection(Fixed(body=b"hello"))
    conn.send(GET)
    [response] = conn.responses()
    assert (response.status, response.reason, response.body) == (200, b"OK", b"hello")
    assert response.header(b"date") == b"Thu, 01 Jan 1970 00:00:00 GMT"
    assert response.header(b"server") == b"minihttp"
    assert response.header(b"content-length") == b"5"


@pytest.mark.parametrize("name", [b"Date", b"server"])
def test_a_handler_may_set_date_or_server_itself(name: bytes) -> None:
    """A handler's own Date or Server replaces the server's, never doubles it."""
    conn = FakeConnection(Fixed(headers=((name, b"mine"),)))
    conn.send(GET)
    [response] = conn.responses()
    assert response.headers.get_all(name.lower()) == [b"mine"]
    other = b"server" if name.lower() == b"date" else b"date"
    assert len(response.headers.get_all(other)) == 1


def test_send_writes_one_content_length_even_when_the_handler_gives_it() -> None:
    """send() frames the body itself: a matching Content-Length is not doubled."""
    conn = FakeConnection(Fixed(body=b"hello", headers=((b"Content-Length", b"5"),)))
    conn.send(GET)
    [response] = conn.responses()
    assert response.headers.get_all(b"content-length") == [b"5"]
    assert response.body == b"hello"


def test_send_refuses_a_content_length_that_is_not_the_bodys() -> None:
    """A Content-Length that contradicts send()'s body is a handler bug: 500, never sent."""
    conn = FakeConnection(Fixed(body=b"hello", headers=((b"Content-Length", b"9"),)))
    conn.send(GET)
    [response] = conn.responses()
    assert response.status == 500
    assert b"hello" not in conn.written


def test_date_follows_the_clock() -> None:
    """The Date header is the factory clock's time, refreshed as the clock moves."""
    clock = Clock()
    clock.advance(86400 + 3661)
    conn = FakeConnection(Fixed(), clock=clock)
    conn.send(GET)
    [response] = conn.responses()
    assert response.header(b"date") == b"Fri, 02 Jan 1970 01:01:01 GMT"


def test_whole_and_bytewise_feeding_give_the_same_bytes() -> None:
    """Feeding a pipelined stream one byte at a time gives exactly the same output."""
    stream = get(b"/a") + request_bytes(
        b"POST", b"/b", [(b"Host", b"a"), (b"Transfer-Encoding", b"chunked")],
        b"3\r\nabc\r\n0\r\n\r\n",
    ) + get(b"/c", b"Connection: close")
    whole, bytewise = FakeConnection(Echo()), FakeConnection(Echo())
    whole.send(stream)
    bytewise.send_bytewise(stream)
    assert whole.written == bytewise.written
    assert [r.body for r in whole.responses()] == [b"GET /a ", b"POST /b abc", b"GET /c "]


# -- persistence (RFC 9112 §9.3) ----------------------------------------------


def test_http11_keeps_the_connection_open() -> None:
    """HTTP/1.1 persists by default: no Connection header, transport left open."""
    conn = FakeConnection(Fixed())
    conn.send(GET)
    [response] = conn.responses()
    assert response.header(b"connection") is None
    assert not conn.closed


def test_http11_connection_close_is_honoured() -> None:
    """A 1.1 request with Connection: close gets the same in the response, then a close."""
    conn = FakeConnection(Fixed())
    conn.send(get(b"/", b"Connection: close"))
    [response] = conn.responses()
    assert response.header(b"connection") == b"close"
    assert conn.closed


def test_http10_closes_by_default() -> None:
    """HTTP/1.0 without keep-alive is answered with Connection: close and closed."""
    conn = FakeConnection(Fixed())
    conn.send(get(version=b"HTTP/1.0"))
    [response] = conn.responses()
    assert response.header(b"connection") == b"close"
    assert conn.closed


def test_http10_keep_alive_when_asked() -> None:
    """HTTP/1.0 with Connection: keep-alive persists and says so."""
    conn = FakeConnection(Fixed())
    conn.send(get(b"/", b"Connection: keep-alive", version=b"HTTP/1.0") * 2)
    responses = conn.responses()
    assert len(responses) == 2
    assert all(r.header(b"connection") == b"keep-alive" for r in responses)
    assert not conn.closed


def test_handler_connection_close_closes() -> None:
    """A handler may ask for the connection to close after its response."""
    conn = FakeConnection(Fixed(headers=((b"Connection", b"close"),)))
    conn.send(GET + GET)
    assert len(conn.responses()) == 1
    assert conn.closed


# -- pipelining ---------------------------------------------------------------


def test_pipelined_requests_answered_in_order_when_produced_later() -> None:
    """Pipelined requests wait, unparsed, until the earlier response is finished."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(get(b"/1") + get(b"/2") + get(b"/3"))
    assert [r.path_info for r, _ in held.pending] == [b"/1"]
    assert not conn.reading
    held.pending[0][1].send(200, b"one")
    assert [r.path_info for r, _ in held.pending] == [b"/1", b"/2"]
    held.pending[1][1].send(200, b"two")
    held.pending[2][1].send(200, b"three")
    assert [r.body for r in conn.responses()] == [b"one", b"two", b"three"]
    assert conn.reading


def test_reading_pauses_once_bytes_arrive_while_a_response_is_pending() -> None:
    """While a response is pending nothing is parsed; the first byte that arrives
    meanwhile pauses the transport, so at most one read waits, and the finished
    response resumes both. A client that just waits costs no pause at all."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET)
    assert not conn.reading and not conn.socket_paused  # nothing waits: no pause needed
    conn.send(b"GET /2 HTTP/1.1\r\n")
    assert conn.socket_paused
    assert len(held.pending) == 1
    held.pending[0][1].send(200)
    assert conn.reading and not conn.socket_paused
    conn.send(b"Host: a\r\n\r\n")
    assert [r.path_info for r, _ in held.pending] == [b"/", b"/2"]


def test_response_finished_later_starts_the_next_request() -> None:
    """A response finished from a later reactor turn lets the buffered request through."""
    def later(request: Request, response: Response) -> None:
        conn.clock.callLater(1, response.send, 200, request.path_info)

    conn = FakeConnection(Calls(later))
    conn.send(get(b"/x") + get(b"/y"))
    assert conn.responses() == []
    conn.clock.advance(1)
    conn.clock.advance(1)
    assert [r.body for r in conn.responses()] == [b"/x", b"/y"]


# -- HEAD, 204, 304 -----------------------------------------------------------


def test_head_gets_headers_but_never_a_body() -> None:
    """HEAD keeps GET's Content-Length but nothing the handler writes reaches the wire."""
    conn = FakeConnection(Fixed(body=b"0123456789"))
    conn.send(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + GET)
    head, after = conn.responses([b"HEAD", b"GET"])
    assert head.header(b"content-length") == b"10"
    assert head.body == b""
    assert after.body == b"0123456789"  # the stream stayed in sync


def test_head_with_streamed_body_sends_no_chunks() -> None:
    """A handler that streams without a length sends nothing of it after HEAD."""

    def stream(request: Request, response: Response) -> None:
        response.start(200)
        response.write(b"part")
        response.finish()

    conn = FakeConnection(Calls(stream))
    conn.send(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert conn.written.endswith(b"\r\n\r\n")
    assert b"part" not in conn.written
    assert b"chunked" not in conn.written


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    """204 and 304 never carry a body, whatever the handler writes."""

    def respond(request: Request, response: Response) -> None:
        response.start(status)
        response.write(b"ignored")
        response.finish()

    conn = FakeConnection(Calls(respond))
    conn.send(GET + GET)
    first, second = conn.responses()
    assert first.status == second.status == status
    assert b"ignored" not in conn.written
    assert b"Transfer-Encoding" not in conn.written


def test_204_drops_a_content_length() -> None:
    """RFC 9110 §8.6: no Content-Length on a 204, even if the handler gives one."""
    conn = FakeConnection(Fixed(status=204, body=b""))
    conn.send(GET)
    assert b"Content-Length" not in conn.written


# -- response framing ----------------------------------------------------------


def _streaming(request: Request, response: Response) -> None:
    response.start(200, [(b"Content-Type", b"text/plain")])
    response.write(b"hello ")
    response.write(b"world")
    response.finish()


def test_chunked_on_http11_when_no_length() -> None:
    """With no Content-Length, a 1.1 response is chunked and the connection persists."""
    conn = FakeConnection(Calls(_streaming))
    conn.send(GET)
    [response] = conn.responses()
    assert response.chunked and response.body == b"hello world"
    assert b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n" in conn.written
    assert not conn.closed


def test_close_delimited_on_http10_when_no_length() -> None:
    """With no Content-Length, a 1.0 response ends with the connection."""
    conn = FakeConnection(Calls(_streaming))
    conn.send(get(b"/", b"Connection: keep-alive", version=b"HTTP/1.0"))
    [response] = conn.responses()
    assert response.body == b"hello world" and not response.chunked
    assert response.header(b"connection") == b"close"
    assert conn.closed


def test_head_is_held_until_the_first_body_bytes() -> None:
    """A small response leaves in one write: the head waits for the body."""
    conn = FakeConnection(Fixed(body=b"abc"))
    writes: list[bytes] = []
    write, write_sequence = conn.transport.write, conn.transport.writeSequence
    conn.transport.write = lambda data: (writes.append(data), write(data))  # type: ignore[method-assign]
    conn.transport.writeSequence = lambda seq: (writes.append(b"".join(seq)), write_sequence(seq))  # type: ignore[method-assign]
    conn.send(GET)
    assert len(writes) == 1 and writes[0].endswith(b"\r\n\r\nabc")


@pytest.mark.parametrize(
    ("declared", "written"),
    [(b"3", b"abcdef"), (b"10", b"abc")],
    ids=["more-than-declared", "less-than-declared"],
)
def test_body_not_matching_content_length_closes(declared: bytes, written: bytes) -> None:
    """A body that breaks its Content-Length: only the declared bytes are sent, then a close."""

    def respond(request: Request, response: Response) -> None:
        response.start(200, [(b"Content-Length", declared)])
        response.write(written)
        response.finish()

    conn = FakeConnection(Calls(respond))
    conn.send(GET + GET)
    assert conn.written.endswith(b"\r\n\r\n" + written[: int(declared)])
    assert conn.written.count(b"HTTP/1.1") == 1
    assert conn.closed


@pytest.mark.parametrize(
    "header",
    [
        (b"X-Bad", b"a\r\nSet-Cookie: x=1"),
        (b"X-Bad", b"a\nb"),
        (b"X-Bad", b"a\x00b"),
        (b"Bad Name", b"v1-injected"),
        (b"Bad:Name", b"v2-injected"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"upgrade"),
    ],
)
def test_unsafe_response_headers_become_a_500(header: tuple[bytes, bytes]) -> None:
    """Response splitting is impossible: a bad header from a handler is a 500, never sent."""
    conn = FakeConnection(Fixed(headers=(header,)))
    conn.send(GET)
    [response] = conn.responses()
    assert response.status == 500
    assert header[1] not in conn.written


def test_a_remembered_header_name_does_not_vouch_for_its_value() -> None:
    """Response field names are remembered once checked; every value is still checked."""
    good = FakeConnection(Fixed(headers=((b"X-Seen", b"fine"),)))
    good.send(GET)
    assert good.responses()[0].status == 200
    bad = FakeConnection(Fixed(headers=((b"X-Seen", b"a\r\nSet-Cookie: x=1"),)))
    bad.send(GET)
    assert bad.responses()[0].status == 500
    assert b"Set-Cookie" not in bad.written


def test_remembered_response_header_names_are_bounded() -> None:
    """A handler inventing header names cannot grow the server's memory of names."""
    from twisted_http.wire import headers as _headers

    for i in range(_headers.MAX_TOKEN_NAMES + 50):
        conn = FakeConnection(Fixed(headers=((b"X-Made-Up-%d" % i, b"1"),)))
        conn.send(GET)
        assert b"X-Made-Up-%d: 1\r\n" % i in conn.written
    assert len(_headers._TOKEN_NAMES) == _headers.MAX_TOKEN_NAMES


# -- request bodies --------------------------------------------------------------


def test_content_length_body_reaches_the_handler() -> None:
    """A Content-Length body is delivered whole and the next request follows."""
    conn = FakeConnection(Echo())
    post = request_bytes(b"POST", b"/p", [(b"Host", b"a"), (b"Content-Length", b"5")], b"hello")
    conn.send(post + GET)
    assert [r.body for r in conn.responses()] == [b"POST /p hello", b"GET / "]


def test_chunked_body_reaches_the_handler_with_trailers() -> None:
    """A chunked body is de-chunked; its trailers are kept on the body."""
    echo = Echo()
    conn = FakeConnection(echo)
    conn.send(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Sum: 9\r\n\r\n"
    )
    [response] = conn.responses()
    assert response.body == b"POST / wikipedia"
    assert echo.seen[0].body.trailers.get(b"x-sum") == b"9"


def test_body_is_not_read_until_the_handler_asks() -> None:
    """Until a handler claims the body, the channel reads none of it."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n")
    assert not conn.reading
    request, response = held.pending[0]
    collected = request.body.read_all()
    assert conn.reading
    conn.send(b"abc")
    assert collected.result == b"abc"  # type: ignore[attr-defined]


def test_body_pause_stops_reading() -> None:
    """A receiver's pause stops the channel reading until it resumes."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc")
    request, _ = held.pending[0]
    parts: list[bytes] = []

    class Receiver:
        def body_received(self, data: bytes) -> None:
            parts.append(data)
            request.body.pause()

        def body_finished(self) -> None:
            parts.append(b"<end>")

        def body_failed(self, reason: BaseException) -> None:
            raise AssertionError(reason)

    request.body.deliver_to(Receiver())  # type: ignore[arg-type]
    assert parts == [b"abc"] and not conn.reading
    request.body.resume()
    assert conn.reading
    conn.send(b"def")
    assert parts == [b"abc", b"def", b"<end>"]


def test_small_unread_body_is_discarded_and_the_connection_kept() -> None:
    """A handler that ignores a small body: the body is skipped, not parsed as a request."""
    conn = FakeConnection(Fixed())
    conn.send(request_bytes(b"POST", b"/", [(b"Host", b"a"), (b"Content-Length", b"16")],
                            b"GET /evil HTTP/1") + GET)
    responses = conn.responses()
    assert len(responses) == 2 and all(r.status == 200 for r in responses)
    assert not conn.closed


def test_large_unread_body_closes_the_connection() -> None:
    """Over max_discard_size, an unread body ends the connection after the response."""
    conn = FakeConnection(Fixed(), ServerConfig(max_discard_size=10))
    conn.send(request_bytes(b"POST", b"/", [(b"Host", b"a"), (b"Content-Length", b"11")],
                            b"GET / HTTP/") + GET)
    [response] = conn.responses()
    assert response.header(b"connection") == b"close"
    assert conn.closed


def test_unread_chunked_body_closes_the_connection() -> None:
    """An unread chunked body has no known end; the connection closes after the response."""
    conn = FakeConnection(Fixed())
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    [response] = conn.responses()
    assert response.header(b"connection") == b"close"
    assert conn.closed


# -- Expect: 100-continue (RFC 9110 §10.1.1) ---------------------------------------

EXPECT = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"


def test_100_continue_is_sent_when_the_handler_reads() -> None:
    """100 Continue goes out when the handler asks for the body, before the final status."""
    conn = FakeConnection(Echo())
    conn.send(EXPECT)
    assert conn.written == b"HTTP/1.1 100 Continue\r\n\r\n"
    conn.send(b"abc")
    interim, final = conn.responses()
    assert (interim.status, final.status, final.body) == (100, 200, b"POST / abc")
    assert not conn.closed


def test_no_100_continue_when_the_handler_answers_without_reading() -> None:
    """A handler answering without the body: no 100, its final status, then a close."""
    conn = FakeConnection(Fixed(status=403, body=b"no"))
    conn.send(EXPECT)
    [response] = conn.responses()
    assert response.status == 403
    assert b"100 Continue" not in conn.written
    assert response.header(b"connection") == b"close" and conn.closed


def test_no_100_continue_for_a_request_refused_on_its_head() -> None:
    """A body over the limit gets 413 straight away, never 100 Continue."""
    conn = FakeConnection(Echo(), ServerConfig(max_body_size=2))
    conn.send(EXPECT)
    [response] = conn.responses()
    assert response.status == 413
    assert b"100 Continue" not in conn.written


def test_no_100_continue_on_http10() -> None:
    """HTTP/1.0 clients never get 100 Continue (the expectation is ignored)."""
    conn = FakeConnection(Echo())
    conn.send(b"POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc")
    [response] = conn.responses()
    assert response.status == 200 and b"100 Continue" not in conn.written


def test_unknown_expectation_gets_417() -> None:
    """An expectation other than 100-continue is refused with 417."""
    conn = FakeConnection(Echo())
    conn.send(b"GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n")
    [response] = conn.responses()
    assert response.status == 417 and conn.closed


# -- bad requests ----------------------------------------------------------------------

SMALL = ServerConfig(max_request_line=64, max_header_line=64, max_head_size=256, max_headers=4,
                     max_body_size=10)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /" + b"a" * 70 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET /" + b"a" * 100, 414),  # no CRLF yet, already too long
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"b" * 70 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: 1\r\n" * 4 + b"\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        (b"A" * 100 + b" / HTTP/1.1\r\nHost: a\r\n\r\n", 501),  # RFC 9110 §9.1, not 414
        (b"A" * 100, 501),  # no CRLF yet, and already longer than any method
        (b"A(" * 50, 400),
        (b"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400),  # empty Host: RFC 9110 §4.2.1
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        (b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n", 400),  # TLS to a plain port
    ],
)
def test_bad_requests_are_answered_and_closed(data: bytes, status: int) -> None:
    """Each limit or syntax error gets its status, a short body, Connection: close, and a close."""
    fixed = Fixed()
    conn = FakeConnection(fixed, SMALL)
    conn.send(data)
    [response] = conn.responses()
    assert response.status == status
    assert response.header(b"connection") == b"close"
    assert 0 < len(response.body) < 400
    assert conn.closed
    assert fixed.count == 0


def test_http_1_2_is_answered_as_http_1_1() -> None:
    """RFC 9112 §2.3: a higher 1.x minor version is processed as 1.1 and answered HTTP/1.1."""
    conn = FakeConnection(Fixed())
    conn.send(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n" + GET)
    first, second = conn.responses()  # parse_responses takes only "HTTP/1.1" status lines
    assert (first.status, second.status) == (200, 200)
    assert not conn.closed  # persistent, as 1.1 is


def test_no_handler_runs_before_the_whole_head_is_in() -> None:
    """RFC 9110 §5.3: a later field could change everything, so the head is read to its end."""
    fixed = Fixed()
    conn = FakeConnection(fixed)
    conn.send_bytewise(b"GET / HTTP/1.1\r\nHost: a\r\nX-Late: 1\r\n")
    assert fixed.count == 0
    conn.send(b"\r\n")
    assert fixed.count == 1


def test_bytes_after_a_bad_request_are_never_parsed() -> None:
    """After a framing error nothing more is read: a smuggled request gets no response."""
    fixed = Fixed()
    conn = FakeConnection(fixed)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n" + GET + GET)
    [response] = conn.responses()
    assert response.status == 400
    assert fixed.count == 0


def test_bad_chunk_mid_body_is_answered_when_nothing_was_sent() -> None:
    """A malformed chunk while the handler reads: 400 if no response started, then close."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
    request, response = held.pending[0]
    failures: list[BaseException] = []
    request.body.read_all().addErrback(lambda f: failures.append(f.value))
    conn.send(b"3\r\nabcXX\r\n")
    [answer] = conn.responses()
    assert answer.status == 400 and conn.closed
    assert len(failures) == 1
    response.send(200, b"late")  # the handler's own response now goes nowhere
    assert b"late" not in conn.written


def test_error_page_after_head_has_no_body() -> None:
    """An error answered to HEAD keeps the no-body rule."""
    conn = FakeConnection(Fixed(), SMALL)
    conn.send(b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 99\r\n\r\n")
    [response] = conn.responses([b"HEAD"])
    assert response.status == 413
    assert conn.written.endswith(b"\r\n\r\n")


# -- handler failures ---------------------------------------------------------------------


class Boom(Exception):
    pass


def test_exception_before_start_is_a_500_and_logged() -> None:
    """A handler raising before its response starts gives a generic 500; the traceback is logged."""
    events: list[dict[str, object]] = []
    globalLogPublisher.addObserver(events.append)

    def explode(request: Request, response: Response) -> None:
        raise Boom("secret detail")

    try:
        conn = FakeConnection(Calls(explode))
        conn.send(GET + GET)
    finally:
        globalLogPublisher.removeObserver(events.append)
    first, second = conn.responses()
    assert first.status == second.status == 500
    assert b"secret" not in conn.written
    failures = [e for e in events if e.get("log_level") == LogLevel.critical]
    assert len(failures) == 2 and isinstance(failures[0]["log_failure"].value, Boom)  # type: ignore[union-attr]


def test_exception_after_start_closes_the_connection() -> None:
    """A handler raising after its head went out: the connection closes, nothing more is sent."""

    def explode(request: Request, response: Response) -> None:
        response.start(200)
        response.write(b"partial")
        raise Boom()

    conn = FakeConnection(Calls(explode))
    conn.send(GET + GET)
    assert conn.written.count(b"HTTP/1.1") == 1
    assert conn.closed


def test_response_fail_after_start_closes() -> None:
    """Response.fail() mid-body closes rather than pretend the response was whole."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET)
    _, response = held.pending[0]
    response.start(200)
    response.write(b"x")
    outcome: list[object] = []
    response.notify_finish().addBoth(outcome.append)
    response.fail()
    assert conn.closed and len(outcome) == 1 and not isinstance(outcome[0], type(None))


def test_connection_lost_mid_response_notifies_the_handler() -> None:
    """notify_finish fails when the client goes away first; later writes are ignored."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET)
    _, response = held.pending[0]
    outcome: list[object] = []
    response.notify_finish().addBoth(outcome.append)
    response.start(200)
    conn.lose()
    response.write(b"ignored")
    response.finish()
    assert len(outcome) == 1 and outcome[0] is not None
    assert b"ignored" not in conn.written


def test_notify_finish_fires_on_finish() -> None:
    """notify_finish fires with None once the response is finished."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET)
    _, response = held.pending[0]
    done: Deferred[None] = response.notify_finish()
    response.send(200)
    assert done.called and done.result is None  # type: ignore[attr-defined]


def test_on_lost_is_called_only_when_the_connection_goes_first() -> None:
    """on_lost's callback gets the reason when the client goes before the end, never
    after a finished response, and at once when registered after the loss."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET + GET)
    _, response = held.pending[0]
    calls: list[object] = []
    response.on_lost(calls.append)
    response.send(200)
    assert calls == []
    _, second = held.pending[1]
    second.on_lost(calls.append)
    second.start(200)
    conn.lose()
    assert len(calls) == 1 and isinstance(calls[0], Failure)
    second.on_lost(calls.append)
    assert len(calls) == 2 and isinstance(calls[1], Failure)


class RecordingProducer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")

    def stopProducing(self) -> None:
        self.calls.append("stop")


def test_response_producer_is_paced_by_the_client() -> None:
    """A producer registered on the response is paused and resumed with the transport."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET)
    _, response = held.pending[0]
    producer = RecordingProducer()
    response.start(200)
    response.register_producer(producer, True)  # type: ignore[arg-type]
    assert conn.producer is producer
    conn.block_writes()
    conn.unblock_writes()
    response.finish()
    assert producer.calls == ["pause", "resume"]
    assert conn.producer is None


def test_response_producer_is_stopped_when_the_client_goes() -> None:
    """A lost connection stops the response's producer."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET)
    _, response = held.pending[0]
    producer = RecordingProducer()
    response.start(200)
    response.register_producer(producer, True)  # type: ignore[arg-type]
    conn.lose()
    assert producer.calls == ["stop"]


# -- routing -----------------------------------------------------------------------------


def test_longest_prefix_wins_and_matches_whole_segments() -> None:
    """/app/x goes to /app, /apple to /, and the handler sees the rest of the path."""
    echo_root, echo_app = Echo(), Echo()
    conn = FakeConnection(Router([("/", echo_root), ("/app", echo_app)]))
    conn.send(get(b"/app/x") + get(b"/apple") + get(b"/app") + get(b"/%61pp/y"))
    assert [r.body for r in conn.responses()] == [b"GET /x ", b"GET /apple ", b"GET  ", b"GET /y "]
    assert [r.script_name for r in echo_app.seen] == [b"/app"] * 3


def test_handlers_on_one_prefix_are_tried_in_order() -> None:
    """A declining handler lets the next one on the same prefix answer."""
    declines = Declines()
    conn = FakeConnection(Router([("/", declines), ("/", Fixed(body=b"second"))]))
    conn.send(GET)
    assert declines.asked == 1
    assert conn.responses()[0].body == b"second"


def test_no_taker_is_a_404_page() -> None:
    """A path no handler takes gets a small HTML 404 page."""
    conn = FakeConnection(Router([("/app", Declines())]))
    conn.send(get(b"/app/x") + get(b"/other"))
    first, second = conn.responses()
    assert first.status == second.status == 404
    assert first.header(b"content-type") == b"text/html; charset=utf-8"
    assert b"404 Not Found" in first.body


def test_absolute_form_routes_by_its_path() -> None:
    """An absolute-form target is routed by its path; its authority is the request's host."""
    echo = Echo()
    conn = FakeConnection(echo)
    conn.send(b"GET http://example.org:8080/x?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
    assert conn.responses()[0].body == b"GET /x "
    assert (echo.seen[0].host, echo.seen[0].query) == (b"example.org:8080", b"q=1")


def test_options_asterisk() -> None:
    """OPTIONS * is answered by the server itself."""
    conn = FakeConnection(Declines())
    conn.send(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    [response] = conn.responses()
    assert response.status == 200 and response.header(b"content-length") == b"0"


# -- memory -----------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["close", "client-leaves", "idle-timeout", "bad-request"])
def test_a_finished_connection_leaves_nothing_for_the_garbage_collector(ending: str) -> None:
    """Connections are freed by reference counting: none of ours is left in a cycle
    for the cyclic collector, which costs CPU on every new connection otherwise."""

    clock = Clock()
    # No access log: log events name their channel, and the test process keeps
    # its log history, which would hold every channel alive.
    config = ServerConfig(access_log=False)
    factory = HTTPFactory(Router([("/", Fixed(body=b"hello"))]), config, clock)

    made: set[int] = set()

    def one_connection() -> None:
        channel = factory.buildProtocol(CLIENT_ADDRESS)
        made.add(id(channel))
        channel.makeConnection(StringTransport(peerAddress=CLIENT_ADDRESS))
        if ending == "bad-request":
            channel.dataReceived(b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n")
        else:
            channel.dataReceived(GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
                                 if ending == "close" else GET)
        if ending == "idle-timeout":
            clock.advance(factory.config.keep_alive_timeout)
        channel.connectionLost(Failure(ConnectionDone()))

    one_connection()  # warm up: caches, interned names
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(5):
            one_connection()
        gc.collect()
        # Only this test's channels: other tests' connections may be let go meanwhile.
        ours = [thing for thing in gc.garbage if id(thing) in made]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
