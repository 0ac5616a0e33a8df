"""A WSGI response's way out: batched hops, the outbox while the client is behind, threads.

The first tests run the app inline; the later ones run it on a real pool
thread while the test's thread plays the reactor (``QueuedReactor``), so what
waits, and for what, is what a server does.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.python.threadpool import ThreadPool

from twisted_http import Router, ServerConfig
from twisted_http.testing import FakeConnection, InlineThreadPool, parse_responses
from twisted_http.wsgi.handler import WSGIHandler
from twisted_http.wsgi.output import HELD_AT_END, Outbox

from .apps.support import QueuedReactor, failures, recorded_log, serve, started_pool

TEXT = [("Content-Type", "text/plain")]
WAIT = 10.0


class Body:
    """An iterable body that counts its close() calls and can fail at a given chunk."""

    def __init__(self, parts: list[bytes], fail_at: int | None = None,
                 before: Any = None) -> None:
        self.parts = parts
        self.fail_at = fail_at
        self.before = before  # called with the index before each chunk is given
        self.closes = 0
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        for index, part in enumerate(self.parts):
            if self.before is not None:
                self.before(index)
            if index == self.fail_at:
                raise RuntimeError("the app failed mid-body")
            self.taken += 1
            yield part

    def close(self) -> None:
        self.closes += 1


def app_returning(body: Body) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", TEXT)
        return body

    return app


def waiting(conn: FakeConnection) -> bool:
    """True while the app's thread waits for the client (the response's outbox says so)."""
    outbox = conn.producer
    return isinstance(outbox, Outbox) and outbox.waiting


# -- inline ----------------------------------------------------------------------


def test_a_whole_response_is_one_hop_to_the_reactor() -> None:
    """Head, three chunks and the end, queued before the reactor runs: one wakeup, all of it."""
    reactor = QueuedReactor()
    handler = WSGIHandler(app_returning(Body([b"one ", b"two ", b"three"])),
                          thread_pool=InlineThreadPool(), reactor=reactor)
    conn = FakeConnection(Router([("/", handler)]), clock=reactor)
    conn.request(b"GET", b"/")
    assert len(reactor.thread_calls) == 1 and conn.written == b""
    reactor.run_calls()
    [response] = conn.responses()
    assert response.body == b"one two three" and response.chunked


def test_nothing_is_written_while_the_client_is_behind() -> None:
    """Chunks made while the transport is paused wait in the outbox, then go out in order."""
    conn: FakeConnection

    def block(index: int) -> None:
        if index == 0:
            conn.block_writes()

    body = Body([b"a", b"b", b"c"], before=block)
    conn = serve(app_returning(body), validate=False)
    conn.request(b"GET", b"/")
    assert conn.written == b""
    assert body.closes == 1  # a few bytes held: the thread went back to the pool
    conn.unblock_writes()
    [response] = conn.responses()
    assert response.body == b"abc"
    assert not conn.closed


def test_a_failure_while_the_output_is_held_is_a_500() -> None:
    """The app fails after chunks the client never got: the client gets a clean 500."""
    conn: FakeConnection

    def block(index: int) -> None:
        if index == 0:
            conn.block_writes()

    body = Body([b"secret", b"more"], fail_at=1, before=block)
    with recorded_log() as events:
        conn = serve(app_returning(body), validate=False)
        conn.request(b"GET", b"/")
        conn.unblock_writes()
    [response] = conn.responses()
    assert response.status == 500 and b"secret" not in conn.written
    assert failures(events)[0]["log_failure"].check(RuntimeError)
    assert body.closes == 1


@pytest.mark.parametrize("case", ["normal", "failure", "client gone", "head"])
def test_close_is_called_exactly_once(case: str) -> None:
    """Whatever becomes of the response, the iterable's close() runs once."""
    conn: FakeConnection

    def before(index: int) -> None:
        if case == "client gone" and index == 1:
            conn.lose()

    body = Body([b"a", b"b", b"c"], fail_at=1 if case == "failure" else None, before=before)
    with recorded_log():
        conn = serve(app_returning(body), validate=False)
        conn.request(b"HEAD" if case == "head" else b"GET", b"/")
    assert body.closes == 1


def test_a_finished_exchange_leaves_nothing_for_the_garbage_collector() -> None:
    """No reference cycle through an exchange: requests are freed by reference counting."""
    conn = serve(app_returning(Body([b"x"])), validate=False,
                 config=ServerConfig(access_log=False))
    conn.request(b"GET", b"/")  # warm up: caches, interned names
    conn.read()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(20):
            conn.request(b"GET", b"/")
            conn.read()
        gc.collect()
        ours = [thing for thing in gc.garbage
                if type(thing).__module__.startswith("twisted_http")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []


# -- a real app thread, the test's thread as the reactor -------------------------------


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    """A real pool; connections made with ``threaded`` are dropped before it is joined."""
    with started_pool(2) as threads:
        try:
            yield threads
        finally:
            for conn in _open:
                if not conn.closed:
                    conn.lose()  # frees an app thread a failed test left waiting
            _open.clear()


_open: list[FakeConnection] = []


def threaded(app: Any, pool: ThreadPool, **options: Any) -> tuple[QueuedReactor, FakeConnection]:
    """A server on ``pool`` whose client has a 16-byte receive buffer."""
    reactor = QueuedReactor()
    handler = WSGIHandler(app, thread_pool=pool, reactor=reactor, **options)
    conn = FakeConnection(Router([("/", handler)]), clock=reactor, send_buffer=16)
    _open.append(conn)
    return reactor, conn


def body_bytes(written: bytes, marks: range) -> int:
    """How many body bytes reached the client, each chunk being one byte value of ``marks``."""
    return sum(written.count(bytes([mark])) for mark in marks)


def read_to_the_end(reactor: QueuedReactor, conn: FakeConnection, received: bytes) -> bytes:
    """The client reads until the (chunked) response is complete."""
    for _ in range(1000):
        if received.endswith(b"0\r\n\r\n"):
            return received
        reactor.run_calls()
        received += conn.read()
    raise AssertionError("the response never ended")


def test_the_app_runs_ahead_of_a_slow_client_by_the_window_only(pool: ThreadPool) -> None:
    """While the client is behind, the app's thread stops once output_window bytes are
    queued; each read lets it go on; everything arrives, in order."""
    marks = range(0x10, 0x1A)
    chunks = [bytes([mark]) * 40 for mark in marks]
    body = Body(chunks)
    reactor, conn = threaded(app_returning(body), pool, output_window=100)
    conn.request(b"GET", b"/")
    received = b""
    waits = 0
    while body.closes == 0:
        reactor.pump_until(lambda: waiting(conn) or body.closes == 1)
        if body.closes == 0:
            waits += 1
            ahead = 40 * body.taken - body_bytes(received + conn.written, marks)
            assert 100 < ahead <= 140  # past the window by less than a chunk
        received += conn.read()  # the client catches up: the outbox is resumed
    received = read_to_the_end(reactor, conn, received)
    assert waits >= 2
    [response] = parse_responses(received)
    assert response.body == b"".join(chunks)


def test_a_finished_response_keeps_its_thread_while_much_is_queued(pool: ThreadPool) -> None:
    """At its end, a response with more than HELD_AT_END still queued for a client that is
    behind holds its thread (close() not yet called) until the client reads."""
    go = threading.Event()
    chunk = b"z" * 20_000

    def before(index: int) -> None:
        if index == 1:
            assert go.wait(WAIT)

    body = Body([chunk] * 10, before=before)
    reactor, conn = threaded(app_returning(body), pool)
    conn.request(b"GET", b"/")
    reactor.pump_until(lambda: chunk in conn.written)  # head and first chunk: now it is full
    go.set()
    reactor.pump_until(lambda: waiting(conn))
    assert body.taken == 10 and body.closes == 0
    assert 9 * len(chunk) > HELD_AT_END
    received = read_to_the_end(reactor, conn, conn.read())
    reactor.pump_until(lambda: body.closes == 1)
    [response] = parse_responses(received)
    assert response.body == chunk * 10


def test_shutting_down_lets_waiting_app_threads_go(pool: ThreadPool) -> None:
    """As the reactor stops, after the drain and before the pool is joined, an app thread
    waiting for its client is let go, so joining the pool cannot hang."""
    body = Body([b"q" * 100] * 50)
    reactor, conn = threaded(app_returning(body), pool, output_window=200)
    conn.request(b"GET", b"/")
    reactor.pump_until(lambda: waiting(conn))
    [shut_down] = [f for phase, event, f in reactor.triggers
                   if (phase, event) == ("during", "shutdown")]
    shut_down()
    stopping = threading.Thread(target=pool.stop)
    stopping.start()
    stopping.join(WAIT)
    assert not stopping.is_alive()
    assert body.closes == 1 and body.taken < 50
