"""Faults: clients that reset at the worst moments, and WSGI apps that raise, hang or
return garbage. The server keeps serving others, logs each failure once, and
loses nothing it already accepted."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.python.threadpool import ThreadPool

from twisted_http import HTTPFactory, Router, StaticFiles
from twisted_http.testing import parse_responses
from twisted_http.wsgi.handler import WSGIHandler

from ._loopback import Listening, connect, sleep, wait_until
from ._support import Recorder, failures, recorded_log

PIPELINE = b"".join(b"POST /echo/%d HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n%d" % (i, i)
                    for i in range(5))


def raising(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise RuntimeError("the app broke")


def garbage(environ: dict[str, Any], start_response: Any) -> list[Any]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["not bytes", 42]


def ok(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]


@pytest_twisted.ensureDeferred
async def test_resets_mid_request_mid_chunk_mid_response_hurt_no_one_else(tmp_path: Path) -> None:
    """Three clients reset (RST) mid-head, mid-chunk and mid-way through a 16 MiB
    file; a fourth client's five pipelined requests, sent before the resets, are
    all answered in order, and no failure is logged for the resets."""
    (tmp_path / "big.bin").write_bytes(b"\0" * (16 << 20))
    recorder = Recorder()
    server = Listening(HTTPFactory(Router([("/", StaticFiles(tmp_path)), ("/echo", recorder)])))
    try:
        with recorded_log() as events:
            steady = await connect(server.number)
            steady.send(PIPELINE[: len(PIPELINE) // 2])
            head = await connect(server.number)
            head.send(b"GET /big.bin HTTP/1.1\r\nHost: a\r\nX-Half: ")
            chunk = await connect(server.number)
            chunk.send(b"POST /echo/c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"10\r\nhalf a ch")
            body = await connect(server.number)
            body.send(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
            await wait_until(lambda: len(body.data) > 65536, 5)
            await sleep(0.05)
            for client in (head, chunk, body):
                client.transport.abortConnection()  # type: ignore[union-attr]
            steady.send(PIPELINE[len(PIPELINE) // 2:])
            await wait_until(lambda: steady.data.count(b"HTTP/1.1 200") == 5, 5)
            await sleep(0.1)
        responses = parse_responses(steady.data)
        assert [r.body for r in responses] == [b"/echo/%d %d" % (i, i) for i in range(5)]
        assert failures(events) == []
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_app_that_raises_or_returns_garbage_is_logged_once(tmp_path: Path) -> None:
    """An app that raises gets a 500 and one logged failure; an app that yields
    str instead of bytes gets a 500 (or a close, once started) and one logged
    failure; the same connection's next request, and other clients, are served."""
    pool = ThreadPool(2, 2, "faults")
    pool.start()
    router = Router([
        ("/raise", WSGIHandler(raising, thread_pool=pool, reactor=reactor)),  # type: ignore[arg-type]
        ("/garbage", WSGIHandler(garbage, thread_pool=pool, reactor=reactor)),  # type: ignore[arg-type]
        ("/ok", WSGIHandler(ok, thread_pool=pool, reactor=reactor)),  # type: ignore[arg-type]
    ])
    server = Listening(HTTPFactory(router))
    try:
        for path in (b"/raise", b"/garbage"):
            with recorded_log() as events:
                client = await connect(server.number)
                client.send(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n"
                            b"Connection: close\r\n\r\n" % path)
                await wait_until(lambda c=client: c.closed_at is not None, 5)  # type: ignore[misc]
                await sleep(0.05)
            statuses = [r.status for r in parse_responses(client.data)]
            assert statuses[0] == 500, statuses
            assert statuses in ([500, 200], [500]), statuses
            assert len(failures(events)) == 1, [e.get("log_format") for e in events]
            other = await connect(server.number)
            other.send(b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            await wait_until(lambda o=other: o.closed_at is not None, 5)  # type: ignore[misc]
            assert parse_responses(other.data)[0].body == b"fine"
    finally:
        await server.stop()
        pool.stop()


@pytest_twisted.ensureDeferred
async def test_hung_apps_do_not_stop_static_files_and_waiters_get_503(tmp_path: Path) -> None:
    """Two hung requests take both WSGI threads. Static files and new connections
    are still served at once; a third WSGI request gets 503 about
    thread_wait_timeout (0.5 s) later. Releasing the apps answers the first two."""
    (tmp_path / "f.txt").write_bytes(b"static")
    release = threading.Event()

    def hangs(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"late"]

    pool = ThreadPool(2, 2, "hung")
    pool.start()
    handler = WSGIHandler(hangs, thread_pool=pool, reactor=reactor,  # type: ignore[arg-type]
                          thread_wait_timeout=0.5)
    server = Listening(HTTPFactory(Router([("/", StaticFiles(tmp_path)), ("/app", handler)])))
    try:
        hung = [await connect(server.number) for _ in range(2)]
        for client in hung:
            client.send(b"GET /app/ HTTP/1.1\r\nHost: a\r\n\r\n")
        await sleep(0.1)
        static = await connect(server.number)
        start = time.monotonic()
        static.send(b"GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        await wait_until(lambda: static.data.endswith(b"static"), 2)
        assert time.monotonic() - start < 0.5
        waiter = await connect(server.number)
        start = time.monotonic()
        waiter.send(b"GET /app/ HTTP/1.1\r\nHost: a\r\n\r\n")
        await wait_until(lambda: b"\r\n\r\n" in waiter.data, 5)
        elapsed = time.monotonic() - start
        print(f"thread wait: 503 after {elapsed:.2f} s")
        assert waiter.data.startswith(b"HTTP/1.1 503 ") and 0.45 <= elapsed < 2.0
        release.set()
        await wait_until(lambda: all(c.data.endswith(b"late") for c in hung), 5)
    finally:
        release.set()
        await server.stop()
        pool.stop()
