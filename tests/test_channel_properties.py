"""Properties of the channel on StringTransport: whatever the client sends, and however
it is split, the server never answers a request twice, never answers out of order,
never writes after closing, and never lets an exception out of ``dataReceived``.

Requests are a random mix of good ones (GET, a POST with a body, a chunked POST)
and bad ones (garbage, a broken Content-Length, a bad chunk), pipelined in one
stream and cut at random points. Half the handlers answer at once, half later on
the Clock; the Clock moves between pieces. The profile is the deterministic one
from conftest.py.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from zope.interface import implementer

from twisted_http import IRequestHandler, Request, Response, Router, ServerConfig
from twisted_http.testing import FakeConnection, parse_responses

CONFIG = ServerConfig(first_request_timeout=50, keep_alive_timeout=50, head_timeout=50,
                      body_timeout=50, write_timeout=50, max_body_size=4096)


@implementer(IRequestHandler)
class Tagged:
    """Answers with the request's path (which carries its index), now or after ``delay``."""

    def __init__(self, clock: Clock, delay: float) -> None:
        self.clock, self.delay = clock, delay
        self.answered: list[bytes] = []

    def handle(self, request: Request, response: Response) -> bool:
        def reply(body: bytes) -> None:
            self.answered.append(request.path)
            if self.delay:
                self.clock.callLater(self.delay, response.send, 200, request.path)
            else:
                response.send(200, request.path)

        request.body.read_all().addCallbacks(reply, lambda _: None)
        return True


def good(index: int, kind: int, later: bool) -> bytes:
    path = b"/%s/%d" % (b"later" if later else b"now", index)
    if kind == 0:
        return b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path
    if kind == 1:
        return b"POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" % path
    return (b"POST %s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n" % path)


BAD = [
    b"GARBAGE\r\n\r\n",
    b"POST /bad HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
    b"POST /bad HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /bad HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"GET /bad HTTP/9.9\r\nHost: a\r\n\r\n",
]

requests = st.lists(
    st.one_of(
        st.tuples(st.just("good"), st.integers(0, 2), st.booleans()),
        st.tuples(st.just("bad"), st.integers(0, len(BAD) - 1), st.booleans()),
    ),
    min_size=1, max_size=8,
)


class Watched(FakeConnection):
    """A FakeConnection that records any write made after the server closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.late_writes: list[bytes] = []
        transport = self.transport
        write, write_sequence = transport.write, transport.writeSequence

        def checked_write(data: bytes) -> None:
            if transport.disconnecting:
                self.late_writes.append(data)
            write(data)

        def checked_sequence(data: list[bytes]) -> None:
            if transport.disconnecting:
                self.late_writes.append(b"".join(data))
            write_sequence(data)

        transport.write = checked_write  # type: ignore[method-assign]
        transport.writeSequence = checked_sequence  # type: ignore[method-assign]


def build_stream(spec: list[tuple[str, int, bool]]) -> tuple[bytes, list[bytes | None]]:
    """The bytes to send, and per request the body its response must carry (None: bad)."""
    parts: list[bytes] = []
    expected: list[bytes | None] = []
    for index, (kind, variant, later) in enumerate(spec):
        if kind == "good":
            parts.append(good(index, variant, later))
            expected.append(b"/%s/%d" % (b"later" if later else b"now", index))
        else:
            parts.append(BAD[variant])
            expected.append(None)
    return b"".join(parts), expected


def run(spec: list[tuple[str, int, bool]], cuts: list[int], steps: list[float],
        garbage: bytes = b"") -> None:
    stream, expected = build_stream(spec)
    stream += garbage
    clock = Clock()
    now, later = Tagged(clock, 0), Tagged(clock, 0.5)
    conn = Watched(Router([("/now", now), ("/later", later)]), CONFIG, clock)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = zip([0, *points], [*points, len(stream)], strict=True)
    pieces = [stream[a:b] for a, b in bounds if b > a]
    for i, piece in enumerate(pieces):
        conn.send(piece)  # an exception here fails the test: nothing may escape
        clock.advance(steps[i % len(steps)] if steps else 0)
    clock.advance(1)
    responses = parse_responses(conn.written)
    assert conn.late_writes == []
    # At most one response per request, and in order: the good ones before the
    # first bad one are answered with their own path, in sequence.
    assert len(responses) <= len(expected)
    for response, want in zip(responses, expected, strict=False):
        if want is None:
            assert response.status >= 400 and response.header(b"connection") == b"close"
            break
        assert (response.status, response.body) == (200, want)
    if any(r.status >= 400 for r in responses):
        assert conn.closed and responses[-1].status >= 400
    answered = now.answered + later.answered
    assert len(answered) == len(set(answered))  # no request handled twice


@given(requests, st.lists(st.integers(0, 10_000), max_size=20),
       st.lists(st.sampled_from([0, 0, 0.1, 0.6]), max_size=5))
def test_random_pipelines_random_splits(spec: Any, cuts: list[int], steps: list[float]) -> None:
    """Random good and bad requests, pipelined, cut anywhere, with time passing."""
    run(spec, cuts, steps)


@given(requests, st.binary(min_size=1, max_size=200), st.lists(st.integers(0, 10_000), max_size=10))
def test_random_garbage_after_a_pipeline(spec: Any, garbage: bytes, cuts: list[int]) -> None:
    """Random bytes after the requests: still one answer at most per request, in order."""
    run(spec, cuts, [0, 0.1], garbage)


@given(st.binary(max_size=500), st.lists(st.integers(0, 500), max_size=20))
def test_pure_garbage_never_escapes(data: bytes, cuts: list[int]) -> None:
    """Bytes with no structure at all: no exception, at most one response, no late write."""
    clock = Clock()
    conn = Watched(Tagged(clock, 0), CONFIG, clock)
    points = sorted({c % (len(data) + 1) for c in cuts})
    for a, b in zip([0, *points], [*points, len(data)], strict=True):
        conn.send(data[a:b])
    clock.advance(100)
    assert conn.late_writes == []
    responses = parse_responses(conn.written)
    assert all(r.status != 200 or r.body.startswith(b"/") for r in responses)
