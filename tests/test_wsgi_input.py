"""wsgi.input: the request body streamed to the app from a bounded buffer.

The thread pool is ``QueuedThreadPool``: the test sends bytes as the client,
then runs the app, which may send more bytes itself (as the client would while
the app reads) and look at whether the server is reading the socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from twisted_http.testing import FakeConnection, QueuedThreadPool

from .apps.support import failures, recorded_log, serve

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")

TEXT = [("Content-Type", "text/plain")]


def reader(how: Callable[[Any], list[bytes]]) -> Any:
    """An app answering with repr() of what ``how`` read from wsgi.input."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        parts = how(environ["wsgi.input"])
        start_response("200 OK", TEXT)
        return [repr(parts).encode()]

    return app


def run(how: Callable[[Any], list[bytes]], body: bytes, chunked: bool = False,
        validate: bool = True) -> list[bytes]:
    """The app reads as ``how`` says; wsgiref's validator checks it unless told not to.

    (The validator refuses read() without a size, which PEP 3333 lets servers allow.)
    """
    pool = QueuedThreadPool()
    conn = serve(reader(how), pool, validate=validate)
    if chunked:
        head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        pieces = [body[i:i + 3] for i in range(0, len(body), 3)]
        conn.send(head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
    else:
        conn.request(b"POST", b"/", body=body)
    pool.run()
    [response] = conn.responses()
    assert response.status == 200, response.body
    result: list[bytes] = eval(response.body)  # noqa: S307 - our own repr of a list of bytes
    return result


BODY = b"line one\nline two\n\nlast line without newline"


@pytest.mark.parametrize("chunked", [False, True])
def test_read_all(chunked: bool) -> None:
    """read() gives the whole body, chunked bodies decoded; then b"" at the end."""
    parts = run(lambda f: [f.read(), f.read(), f.read(5)], BODY, chunked, validate=False)
    assert parts == [BODY, b"", b""]


@pytest.mark.parametrize("chunked", [False, True])
def test_read_sized(chunked: bool) -> None:
    """read(n) gives exactly n bytes until the end, then what is left, then b""."""
    parts = run(lambda f: [f.read(10), f.read(10), f.read(1000), f.read(1)], BODY, chunked)
    assert parts == [BODY[:10], BODY[10:20], BODY[20:], b""]


@pytest.mark.parametrize("chunked", [False, True])
def test_readline(chunked: bool) -> None:
    """readline() stops after each newline, readline(n) after n bytes."""
    parts = run(lambda f: [f.readline(), f.readline(4), f.readline(), f.readline(),
                           f.readline(), f.readline()], BODY, chunked)
    assert parts == [b"line one\n", b"line", b" two\n", b"\n", b"last line without newline",
                     b""]


@pytest.mark.parametrize("chunked", [False, True])
def test_readlines_and_iteration(chunked: bool) -> None:
    """readlines() and iterating the stream give the lines; a hint stops early."""
    lines = BODY.splitlines(keepends=True)
    assert run(lambda f: f.readlines(), BODY, chunked) == lines
    assert run(lambda f: list(f), BODY, chunked) == lines
    assert run(lambda f: f.readlines(5), BODY, chunked) == lines[:1]


def test_no_body_reads_empty() -> None:
    """A request without a body reads as b"" at once."""
    pool = QueuedThreadPool()
    conn = serve(reader(lambda f: [f.read(0), f.readline(), f.read(3)]), pool)
    conn.request(b"GET", b"/")
    pool.run()
    assert conn.responses()[0].body == repr([b"", b"", b""]).encode()


def test_body_is_not_read_before_the_app_asks() -> None:
    """Nothing of the body is read, and no 100 Continue sent, until the app reads."""
    pool = QueuedThreadPool()
    seen: list[bytes] = []
    conn: FakeConnection

    def how(f: Any) -> list[bytes]:
        seen.append(conn.written)
        return [f.read(100)]

    conn = serve(reader(how), pool)
    conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    assert conn.written == b"" and not conn.reading
    conn.send(b"hello")  # a client that did not wait for 100 Continue
    pool.run()
    assert seen == [b""]
    interim, final = conn.responses()
    assert interim.status == 100
    assert final.body == repr([b"hello"]).encode()


def test_body_streams_through_a_bounded_buffer() -> None:
    """The body is paused while the buffer holds input_buffer bytes, and resumed as the app reads.

    The app reads while the client is still sending: the app starts before the
    body has arrived, and never holds more than the buffer plus one delivery.
    """
    pool = QueuedThreadPool()
    conn: FakeConnection
    total = 64 * 1024
    piece = b"x" * 8192
    states: list[tuple[str, bool]] = []

    def how(f: Any) -> list[bytes]:
        got = [f.read(1)]  # the first read starts the body: 8 KiB arrive, over the limit
        states.append(("after first read", conn.reading))
        got.append(f.read(8191 - 1000))  # 1000 bytes left: under half the limit
        states.append(("drained", conn.reading))
        received = 8192
        while received < total:
            conn.send(piece)  # the client sends more while the app works
            received += len(piece)
            states.append(("full again", conn.reading))
            got.append(f.read(len(piece)))
        got.append(f.read(total))
        return [b"".join(got)]

    conn = serve(reader(how), pool, input_buffer=4096)
    conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total + piece)
    pool.run()
    assert conn.responses()[0].body == repr([b"x" * total]).encode()
    assert states[0] == ("after first read", False)
    assert states[1] == ("drained", True)
    assert all(state == ("full again", False) for state in states[2:])


def test_app_waiting_for_body_on_inline_fakes_fails_loudly() -> None:
    """Reading a body the client has not sent, on synchronous fakes, fails instead of hanging."""
    pool = QueuedThreadPool()
    with recorded_log() as events:
        conn = serve(reader(lambda f: [f.read(10)]), pool, input_buffer=4)
        conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
        pool.run()
    assert conn.responses()[0].status == 500
    assert "WouldDeadlock" in str(failures(events)[0]["log_failure"].type)


def test_client_leaving_mid_body_raises_in_the_app() -> None:
    """The client leaves while the app reads: read() raises ConnectionError, close() runs."""
    pool = QueuedThreadPool()
    conn: FakeConnection
    raised: list[BaseException] = []

    def how(f: Any) -> list[bytes]:
        f.read(4)
        conn.lose()
        try:
            f.read(6)
        except ConnectionError as error:
            raised.append(error)
            raise
        return []

    with recorded_log():
        conn = serve(reader(how), pool, input_buffer=4)
        conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
        pool.run()
    assert len(raised) == 1


def test_small_body_is_all_in_before_the_app_starts() -> None:
    """A body that fits input_buffer, from a client not waiting for 100 Continue, is read
    first: the app is queued for a thread only once it has all arrived."""
    pool = QueuedThreadPool()
    conn = serve(reader(lambda f: [f.read(100)]), pool, input_buffer=10)
    conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
    assert pool.pending == 0 and conn.reading  # the rest is awaited, not the app
    conn.send(b"-more")
    assert pool.pending == 0
    conn.send(b"!")
    assert pool.pending == 1
    pool.run()
    assert conn.responses()[0].body == repr([b"half-more!"]).encode()


def test_small_body_cut_short_never_reaches_the_app() -> None:
    """The client leaves before its small body is in: the app never runs for it."""
    pool = QueuedThreadPool()
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append("called")
        start_response("200 OK", TEXT)
        return [environ["wsgi.input"].read()]

    conn = serve(app, pool, validate=False)
    conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
    conn.lose()
    pool.run()
    assert calls == []


def test_a_body_larger_than_the_buffer_streams_to_a_running_app() -> None:
    """Past input_buffer the app starts with the headers and reads the body as it comes."""
    pool = QueuedThreadPool()
    conn = serve(reader(lambda f: [f.read(4)]), pool, input_buffer=4)
    conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    assert pool.pending == 1 and not conn.reading
    conn.send(b"0123456789")
    pool.run()
    assert conn.responses()[0].body == repr([b"0123"]).encode()


def test_unread_body_is_discarded_and_the_connection_reused() -> None:
    """An app that ignores a small body answers, and the next request on the connection works."""
    pool = QueuedThreadPool()
    conn = serve(reader(lambda f: [b"ignored"]), pool)
    conn.request(b"POST", b"/", body=b"abc")
    conn.request(b"POST", b"/", body=b"def")
    pool.run()
    pool.run()
    assert [r.body for r in conn.responses()] == [repr([b"ignored"]).encode()] * 2


def test_partly_read_body_then_next_request() -> None:
    """An app that reads part of a body: the rest is discarded, the connection goes on."""
    pool = QueuedThreadPool()
    conn = serve(reader(lambda f: [f.read(2)]), pool)
    conn.request(b"POST", b"/", body=b"abcdef")
    conn.request(b"POST", b"/", body=b"ghijkl")
    pool.run()
    pool.run()
    assert [r.body for r in conn.responses()] == [repr([b"ab"]).encode(),
                                                  repr([b"gh"]).encode()]


class _Body:
    """Just enough of a RequestBody for WSGIInput on its own."""

    length = None

    def deliver_to(self, receiver: Any) -> None:
        pass

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass


class _Hop:
    def callFromThread(self, f: Callable[..., object], *args: Any) -> None:  # noqa: N802
        f(*args)


@pytest.mark.parametrize("seed", range(20))
def test_any_delivery_and_any_reads_give_the_body_back(seed: int) -> None:
    """Pieces of any size, then reads of any size and readline() mixed: the bytes come
    back whole and in order, and readline() stops just after each newline."""
    import random

    from twisted_http.wsgi.io import WSGIInput

    rng = random.Random(seed)
    body = bytes(rng.choice(b"ab\n") for _ in range(rng.randrange(0, 3000)))
    wsgi_input = WSGIInput(_Body(), _Hop(), 1 << 20, -1, lambda: None)  # type: ignore[arg-type]
    at = 0
    while at < len(body):
        size = rng.randrange(1, 200)
        wsgi_input.body_received(body[at:at + size])
        at += size
    wsgi_input.body_finished()
    got = []
    while True:
        how = rng.randrange(3)
        if how == 0:
            part = wsgi_input.read(rng.randrange(0, 300))
        elif how == 1:
            part = wsgi_input.readline(rng.randrange(1, 300))
            assert b"\n" not in part[:-1]
        else:
            part = wsgi_input.readline()
            assert b"\n" not in part[:-1]
            assert part.endswith(b"\n") or len(b"".join(got)) + len(part) == len(body)
        if not part and how != 0:
            break
        got.append(part)
    assert b"".join(got) == body
    assert wsgi_input.read() == b""
