"""The WSGI container's response rules, on fake transports with synchronous fakes.

The app runs inline (``InlineThreadPool``, ``InlineReactor``), so a test app can
look at what the client has received at any point of its run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from twisted_http.channel.sender import FileSender
from twisted_http.testing import (
    FakeConnection,
    InlineReactor,
    InlineThreadPool,
    QueuedThreadPool,
    parse_responses,
)
from twisted_http.wsgi.handler import WSGIHandler

from .apps.support import failures, recorded_log, serve

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")

TEXT = [("Content-Type", "text/plain")]


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", TEXT)
    return [b"hello ", b"world"]


class Tracked:
    """An iterable body that records how far it was read and whether it was closed."""

    def __init__(self, parts: list[bytes], on_next: Any = None) -> None:
        self.parts = parts
        self.taken = 0
        self.closed = False
        self.on_next = on_next

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.taken == len(self.parts):
            raise StopIteration
        if self.on_next is not None:
            self.on_next(self.taken)
        self.taken += 1
        return self.parts[self.taken - 1]

    def close(self) -> None:
        self.closed = True


def test_hello_world() -> None:
    """Under the validator: 200, the body, the app's headers, and the connection stays open."""
    conn = serve(hello)
    conn.request(b"GET", b"/")
    [response] = conn.responses()
    assert (response.status, response.body) == (200, b"hello world")
    assert response.header(b"content-type") == b"text/plain"
    assert not conn.closed


def test_list_body_gets_a_content_length() -> None:
    """A list of bytes returned as is has a known length: Content-Length, not chunked."""
    conn = serve(hello, validate=False)
    conn.request(b"GET", b"/")
    [response] = conn.responses()
    assert (response.status, response.body) == (200, b"hello world")
    assert response.header(b"content-length") == b"11"
    assert response.header(b"content-type") == b"text/plain"
    assert not conn.closed


def test_keep_alive_serves_several_requests() -> None:
    """Two requests on one connection each get their answer, in order."""
    conn = serve(hello)
    conn.request(b"GET", b"/")
    conn.request(b"GET", b"/")
    assert [r.body for r in conn.responses()] == [b"hello world"] * 2


def test_generator_body_is_chunked_on_http11() -> None:
    """A body of unknown length is chunked on HTTP/1.1."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b"one "
        yield b""
        yield b"two"

    conn = serve(app)
    conn.request(b"GET", b"/")
    [response] = conn.responses()
    assert response.chunked and response.body == b"one two"
    assert not conn.closed


def test_generator_body_is_close_delimited_on_http10() -> None:
    """On HTTP/1.0 a body of unknown length ends with the connection."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b"one"

    conn = serve(app)
    conn.send(b"GET / HTTP/1.0\r\n\r\n")
    assert conn.written.endswith(b"\r\n\r\none")
    assert conn.closed


def test_each_chunk_reaches_the_client_before_the_app_goes_on() -> None:
    """The first chunk is on the wire before the app produces the second."""
    seen: list[bytes] = []
    conn: FakeConnection

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b"first"
        seen.append(conn.written)
        yield b"second"

    conn = serve(app)
    conn.request(b"GET", b"/")
    assert b"first" in seen[0] and b"second" not in seen[0]
    assert conn.responses()[0].body == b"firstsecond"


def test_write_callable_streams_too() -> None:
    """write() from start_response sends at once, before the app returns; then the iterable."""
    seen: list[bytes] = []
    conn: FakeConnection

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", TEXT)
        write(b"written ")
        seen.append(conn.written)
        return [b"returned"]

    conn = serve(app)
    conn.request(b"GET", b"/")
    assert seen[0].endswith(b"written \r\n")  # a chunk of its own
    [response] = conn.responses()
    assert response.body == b"written returned" and response.chunked


def test_empty_body_gets_content_length_zero() -> None:
    """An app that sends nothing gets Content-Length: 0, not a chunked nothing."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("204 No Content", [])
        return []

    conn = serve(app, validate=False)
    conn.request(b"GET", b"/")
    [response] = conn.responses()
    assert response.status == 204 and response.header(b"content-length") is None

    def empty(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield from ()

    conn = serve(empty)
    conn.request(b"GET", b"/")
    assert conn.responses()[0].header(b"content-length") == b"0"


# -- response rules -----------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Evil", "a\r\nSet-Cookie: x=1")],
        [("X-Evil", "a\nb")],
        [("X-Evil", "a\x00b")],
        [("Bad Name", "x")],
        [("X-Snowman", "\u2603")],
        [("Transfer-Encoding", "chunked")],
        [("Keep-Alive", "timeout=5")],
        [("Upgrade", "websocket")],
        [("Connection", "keep-alive")],
        [("Content-Length", "ten")],
    ],
)
def test_bad_headers_give_500_and_a_log_line(headers: list[tuple[str, str]]) -> None:
    """Control bytes, bad names, non-latin-1 and hop-by-hop headers: 500, logged, never sent."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [*TEXT, *headers])
        return [b"body"]

    with recorded_log() as events:
        conn = serve(app, validate=False)
        conn.request(b"GET", b"/")
    [response] = conn.responses()
    assert response.status == 500
    assert b"Set-Cookie" not in conn.written and b"X-Evil" not in conn.written
    assert len(failures(events)) == 1


@pytest.mark.parametrize("status", ["200", "99 Low", "1000 Big", "abc OK", "200 OK\r\nX: y", 200])
def test_bad_status_gives_500(status: Any) -> None:
    """A malformed status line from the app is a 500."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(status, TEXT)
        return [b"body"]

    with recorded_log():
        conn = serve(app, validate=False)
        conn.request(b"GET", b"/")
    assert conn.responses()[0].status == 500


def test_connection_close_from_the_app_is_honoured() -> None:
    """Connection: close is the one hop-by-hop header an app may set: the server closes."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [*TEXT, ("Connection", "close")])
        return [b"bye"]

    conn = serve(app, validate=False)
    conn.request(b"GET", b"/")
    assert conn.responses()[0].body == b"bye"
    assert conn.closed


def test_short_content_length_closes_the_connection() -> None:
    """Fewer bytes than the app's Content-Length: the connection is closed."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [*TEXT, ("Content-Length", "10")])
        yield b"short"

    conn = serve(app)
    conn.request(b"GET", b"/")
    assert conn.written.endswith(b"\r\n\r\nshort")
    assert conn.closed


def test_long_body_is_truncated_and_closed() -> None:
    """More bytes than Content-Length: what fits is sent, then the connection closes."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [*TEXT, ("Content-Length", "4")])
        yield b"four"
        yield b"extra"

    conn = serve(app)
    conn.request(b"GET", b"/")
    conn.request(b"GET", b"/")
    assert conn.responses()[0].body == b"four"
    assert conn.written.endswith(b"\r\n\r\nfour")
    assert conn.closed


def test_head_sends_no_body_and_closes_the_iterable() -> None:
    """HEAD: headers as for GET, no body, the iterable not read but closed."""
    body = Tracked([b"not ", b"sent"])

    def app(environ: dict[str, Any], start_response: Any) -> Tracked:
        start_response("200 OK", [*TEXT, ("Content-Length", "8")])
        return body

    conn = serve(app, validate=False)
    conn.request(b"HEAD", b"/")
    conn.request(b"GET", b"/")
    head, get = conn.responses([b"HEAD", b"GET"])
    assert head.header(b"content-length") == b"8"
    assert b"not" not in conn.written.split(b"\r\n\r\n")[1][:3]
    assert body.closed
    assert get.body == b"not sent"
    assert not conn.closed


def test_head_on_a_generator_app() -> None:
    """An app that calls start_response inside its generator still answers HEAD with headers."""
    steps: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        steps.append("started")
        yield b"x" * 100
        steps.append("went on")
        yield b"y"

    conn = serve(app)
    conn.request(b"HEAD", b"/")
    [response] = conn.responses([b"HEAD"])
    assert response.status == 200 and response.body == b""
    assert conn.written.endswith(b"\r\n\r\n")
    assert steps == ["started"]


def test_head_list_body_gets_its_content_length() -> None:
    """HEAD on an app returning a list gets the Content-Length the GET would have."""
    conn = serve(hello, validate=False)
    conn.request(b"HEAD", b"/")
    [response] = conn.responses([b"HEAD"])
    assert response.header(b"content-length") == b"11"
    assert conn.written.endswith(b"\r\n\r\n")


def test_close_is_called_after_a_normal_response() -> None:
    """close() is called on the iterable once it has been sent."""
    body = Tracked([b"a", b"b"])
    conn = serve(lambda env, sr: (sr("200 OK", TEXT), body)[1], validate=False)
    conn.request(b"GET", b"/")
    assert conn.responses()[0].body == b"ab"
    assert body.closed


def test_client_disconnect_mid_response_stops_and_closes() -> None:
    """The client leaves after the first chunk: the app is not read further, close() is called."""
    conn: FakeConnection

    def lose_after_first(index: int) -> None:
        if index == 1:
            conn.lose()

    body = Tracked([b"a", b"b", b"c", b"d"], on_next=lose_after_first)
    conn = serve(lambda env, sr: (sr("200 OK", TEXT), body)[1], validate=False)
    with recorded_log() as events:
        conn.request(b"GET", b"/")
    assert body.closed
    assert body.taken == 2  # the chunk being taken when the client left is not sent
    assert not failures(events)


def test_write_after_disconnect_raises() -> None:
    """write() after the client left raises ConnectionError in the app; close() still runs."""
    conn: FakeConnection
    raised: list[BaseException] = []
    body = Tracked([])

    def app(environ: dict[str, Any], start_response: Any) -> Tracked:
        write = start_response("200 OK", TEXT)
        write(b"one")
        conn.lose()
        try:
            write(b"two")
        except ConnectionError as error:
            raised.append(error)
            raise
        return body

    conn = serve(app, validate=False)
    with recorded_log() as events:
        conn.request(b"GET", b"/")
    assert len(raised) == 1
    assert not failures(events)


def test_client_gone_before_the_app_runs() -> None:
    """A request whose client left while it waited for a thread never reaches the app."""
    calls: list[str] = []
    pool = QueuedThreadPool()
    conn = serve(lambda env, sr: calls.append("called") or [], pool, validate=False)
    conn.request(b"GET", b"/")
    conn.lose()
    pool.run()
    assert calls == []


def test_exception_before_headers_gives_a_generic_500() -> None:
    """An exception before any header is sent: 500, no traceback to the client, one logged."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", TEXT)
        raise KeyError("secret-detail")

    with recorded_log() as events:
        conn = serve(app, validate=False)
        conn.request(b"GET", b"/")
        conn.request(b"GET", b"/")
    first, second = conn.responses()
    assert first.status == 500 and b"secret-detail" not in first.body
    assert b"Traceback" not in conn.written
    assert second.status == 500  # the connection went on serving
    [event, _] = failures(events)
    assert event["log_failure"].check(KeyError)


def test_exception_after_headers_closes_the_connection() -> None:
    """An exception after the headers went out: the connection is closed, close() called."""
    body = Tracked([b"a", b"b"])

    def boom(index: int) -> None:
        if index == 1:
            raise RuntimeError("late")

    body.on_next = boom
    with recorded_log() as events:
        conn = serve(lambda env, sr: (sr("200 OK", TEXT), body)[1], validate=False)
        conn.request(b"GET", b"/")
    assert conn.written.count(b"HTTP/1.1 200") == 1
    assert conn.closed
    assert body.closed
    assert failures(events)[0]["log_failure"].check(RuntimeError)


def test_server_keeps_serving_after_a_failure() -> None:
    """One app failing does not stop the next connection being served."""
    fail = [True]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if fail.pop():
            raise ValueError("once")
        start_response("200 OK", TEXT)
        return [b"fine"]

    reactor = InlineReactor()
    handler = WSGIHandler(app, thread_pool=InlineThreadPool(), reactor=reactor)
    with recorded_log():
        first = FakeConnection(handler, clock=reactor)
        first.request(b"GET", b"/")
    fail.append(False)
    second = FakeConnection(handler, clock=reactor)
    second.request(b"GET", b"/")
    assert first.responses()[0].status == 500
    assert second.responses()[0].body == b"fine"


def test_close_raising_is_logged() -> None:
    """A close() that raises is logged; the response already sent is not disturbed."""

    class Body(Tracked):
        def close(self) -> None:
            raise OSError("close failed")

    with recorded_log() as events:
        conn = serve(lambda env, sr: (sr("200 OK", TEXT), Body([b"x"]))[1], validate=False)
        conn.request(b"GET", b"/")
    assert conn.responses()[0].body == b"x"
    assert failures(events)[0]["log_failure"].check(OSError)


def test_exc_info_replaces_headers_before_they_are_sent() -> None:
    """start_response with exc_info before any body: the new status and headers win."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [*TEXT, ("X-First", "1")])
        try:
            raise ValueError("oops")
        except ValueError:
            start_response("503 Service Unavailable", TEXT, sys.exc_info())
        return [b"sorry"]

    conn = serve(app)
    conn.request(b"GET", b"/")
    [response] = conn.responses()
    assert (response.status, response.body) == (503, b"sorry")
    assert response.header(b"x-first") is None


def test_exc_info_after_headers_reraises() -> None:
    """start_response with exc_info after the headers went out re-raises: the connection closes."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b"partial"
        try:
            raise ValueError("oops")
        except ValueError:
            start_response("500 Oops", TEXT, sys.exc_info())
        yield b"never"

    with recorded_log() as events:
        conn = serve(app)
        conn.request(b"GET", b"/")
    assert b"never" not in conn.written and b"500" not in conn.written
    assert conn.closed
    assert failures(events)[0]["log_failure"].check(ValueError)


def test_start_response_twice_without_exc_info_is_an_error() -> None:
    """A second start_response without exc_info is the app's bug: 500."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", TEXT)
        start_response("201 Created", TEXT)
        return []

    with recorded_log() as events:
        conn = serve(app, validate=False)
        conn.request(b"GET", b"/")
    assert conn.responses()[0].status == 500
    assert failures(events)


def test_no_start_response_is_an_error() -> None:
    """An app that returns a body without calling start_response gets a 500."""
    with recorded_log():
        conn = serve(lambda env, sr: [b"x"], validate=False)
        conn.request(b"GET", b"/")
    assert conn.responses()[0].status == 500


def test_str_body_is_an_error() -> None:
    """Yielding str instead of bytes is a 500 before the headers go out."""

    def app(environ: dict[str, Any], start_response: Any) -> list[str]:
        start_response("200 OK", TEXT)
        return ["text"]

    with recorded_log():
        conn = serve(app, validate=False)
        conn.request(b"GET", b"/")
    assert conn.responses()[0].status == 500


# -- wsgi.file_wrapper ---------------------------------------------------------


def test_file_wrapper_goes_through_a_producer(tmp_path: Any) -> None:
    """A wrapped regular file is sent on the reactor by the one FileSender, with its length."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789" * 10000)
    handles: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        handle = open(path, "rb")  # noqa: SIM115 - the server closes it
        handle.seek(10)
        handles.append(handle)
        return environ["wsgi.file_wrapper"](handle)

    conn = serve(app, validate=False, send_buffer=16384)
    conn.request(b"GET", b"/")
    assert isinstance(conn.producer, FileSender)  # the static files' sender, held back
    data = b""
    while conn.producer is not None or conn.transport.value():
        data += conn.read()
    [response] = parse_responses(data)
    assert response.header(b"content-length") == b"99990"
    assert response.body == path.read_bytes()[10:]
    assert handles[0].closed
    assert not conn.closed


def test_file_wrapper_under_the_validator_is_iterated(tmp_path: Any) -> None:
    """Wrapped by middleware, a file wrapper is iterated in blocks; it is closed after."""
    path = tmp_path / "data.txt"
    path.write_bytes(b"abc" * 50000)
    handles: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        handles.append(open(path, "rb"))  # noqa: SIM115
        return environ["wsgi.file_wrapper"](handles[0], 4096)

    conn = serve(app)
    conn.request(b"GET", b"/")
    assert conn.responses()[0].body == path.read_bytes()
    assert handles[0].closed


# -- backpressure on the fakes ---------------------------------------------------


def test_producer_is_registered_while_the_app_runs() -> None:
    """The exchange is the transport's streaming producer while the response is open."""
    seen: list[Any] = []
    conn: FakeConnection

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        seen.append((conn.producer, conn.channel._flow.streaming))
        yield b"x"

    conn = serve(app)
    conn.request(b"GET", b"/")
    assert seen[0][0] is not None and seen[0][1] is True
    assert conn.producer is None  # unregistered once finished


def test_paused_inline_app_fails_instead_of_deadlocking() -> None:
    """On the inline fakes an app that would wait for the client fails loudly, not hangs.

    It may run ahead of a client that is not reading by output_window bytes;
    the chunk that goes past the window is where it would wait.
    """
    conn: FakeConnection
    taken: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        conn.block_writes()
        for index in range(4):
            taken.append(index)
            yield b"xy"

    with recorded_log() as events:
        conn = serve(app, validate=False, output_window=4)
        conn.request(b"GET", b"/")
    assert taken == [0, 1, 2]  # 6 bytes queued, over the window of 4
    # Nothing was written while the client was not reading, so the failure is a 500.
    assert [response.status for response in conn.responses()] == [500]
    assert b"xy" not in conn.written
    assert "WouldDeadlock" in str(failures(events)[0]["log_failure"].type)


def test_request_waiting_too_long_for_a_thread_gets_503() -> None:
    """Queued behind busy threads past thread_wait_timeout: 503, and the app never runs for it."""
    pool = QueuedThreadPool()
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", TEXT)
        return [b"late"]

    conn = serve(app, pool, thread_wait_timeout=5.0)
    conn.request(b"GET", b"/slow")
    conn.clock.advance(4.75)
    assert conn.responses() == []
    conn.clock.advance(0.25)
    [response] = conn.responses()
    assert response.status == 503 and response.header(b"retry-after") == b"5"
    pool.run()  # the thread comes at last, finds the request expired
    assert calls == [] and len(conn.responses()) == 1


def test_started_app_is_not_cut_off_by_the_thread_wait() -> None:
    """Once a thread has the request, thread_wait_timeout no longer applies."""
    pool = QueuedThreadPool()
    conn = serve(hello, pool, thread_wait_timeout=5.0)
    conn.request(b"GET", b"/")
    pool.run()
    conn.clock.advance(10)
    assert [r.status for r in conn.responses()] == [200]
