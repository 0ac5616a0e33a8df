"""WSGI apps end to end through treq: in memory, and over loopback with real threads.

The loopback tests run the real reactor (pytest-twisted) and a real
``ThreadPool``; every port, pool and client connection is closed at the end,
and every wait is bounded.
"""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
import wsgiref.validate
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.cookiejar import CookieJar
from io import BytesIO
from typing import Any
from wsgiref.validate import validator

import pytest
import pytest_twisted
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.python.threadpool import ThreadPool
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import UNKNOWN_LENGTH

from twisted_http import HTTPFactory, Router, ServerConfig, WSGIHandler
from twisted_http.testing import InlineReactor, MemoryAgent, QueuedThreadPool, parse_responses

from .apps import simple

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")

QUIET = ServerConfig(access_log=False)


# -- in memory, on the synchronous fakes -------------------------------------------


def settle(agent: MemoryAgent, pool: QueuedThreadPool, result: Deferred[Any]) -> Any:
    """Pump bytes and run the app until ``result`` fires (at most 50 rounds)."""
    box: list[Any] = []
    result.addBoth(box.append)
    for _ in range(50):
        agent.flush()
        pool.run()
        if box:
            break
    assert box, "no answer after 50 rounds"
    if isinstance(box[0], Exception) or hasattr(box[0], "raiseException"):
        box[0].raiseException()
    return box[0]


def memory_server() -> tuple[MemoryAgent, QueuedThreadPool, HTTPClient]:
    fake_reactor = InlineReactor()
    pool = QueuedThreadPool()
    mounts = [
        ("/", WSGIHandler(validator(simple.hello), thread_pool=pool, reactor=fake_reactor)),
        ("/digest", WSGIHandler(validator(simple.digest), thread_pool=pool,
                                reactor=fake_reactor)),
        ("/stream", WSGIHandler(validator(simple.stream), thread_pool=pool,
                                reactor=fake_reactor)),
    ]
    agent = MemoryAgent(HTTPFactory(Router(mounts), QUIET, clock=fake_reactor))
    return agent, pool, agent.client()


def test_in_memory_hello() -> None:
    """treq GETs a validated app in memory."""
    agent, pool, client = memory_server()
    response = settle(agent, pool, client.get("http://example.com/"))
    assert response.code == 200
    assert settle(agent, pool, response.content()) == b"hello world"


def test_in_memory_post_and_stream() -> None:
    """treq POSTs 64 KiB to an app that streams it in, and reads a 1 MiB streamed answer."""
    agent, pool, client = memory_server()
    body = bytes(range(256)) * 256
    response = settle(agent, pool, client.post("http://example.com/digest", data=body))
    expected = b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())
    assert settle(agent, pool, response.content()) == expected
    response = settle(agent, pool, client.get("http://example.com/stream"))
    data = settle(agent, pool, response.content())
    assert data == b"".join(bytes([i]) * 65536 for i in range(16))


# -- over loopback, real reactor and threads -------------------------------------


@asynccontextmanager
async def listening(
    mounts: list[tuple[str, Any]], config: ServerConfig = QUIET, **options: Any
) -> AsyncIterator[str]:
    """Serve WSGI ``mounts`` on 127.0.0.1 with a real thread pool; yield the base URL."""
    pool = ThreadPool(minthreads=1, maxthreads=4, name="test-wsgi")
    pool.start()
    router = Router([(prefix, WSGIHandler(app, thread_pool=pool, reactor=reactor, **options))
                     for prefix, app in mounts])
    port = reactor.listenTCP(0, HTTPFactory(router, config), interface="127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port.getHost().port}"
    finally:
        await port.stopListening()
        # Joining the threads blocks: do it off the reactor, which the apps may still need.
        await deferToThread(pool.stop).addTimeout(30, reactor)


@asynccontextmanager
async def http_client() -> AsyncIterator[HTTPClient]:
    connections = HTTPConnectionPool(reactor, persistent=True)
    try:
        yield HTTPClient(Agent(reactor, pool=connections), cookiejar=CookieJar())
    finally:
        await connections.closeCachedConnections()


@pytest_twisted.ensureDeferred
async def test_loopback_hello_post_and_stream() -> None:
    """Over a real socket and real threads: a GET, a 64 KiB POST, a 1 MiB stream, keep-alive."""
    mounts = [("/", validator(simple.hello)), ("/digest", validator(simple.digest)),
              ("/stream", validator(simple.stream))]
    async with listening(mounts) as url, http_client() as client:
        for _ in range(3):
            response = await client.get(url + "/")
            assert await response.content() == b"hello world"
        body = b"z" * 65536
        response = await client.post(url + "/digest", data=body)
        assert await response.text() == f"65536 {hashlib.sha256(body).hexdigest()}"
        response = await client.get(url + "/stream")
        assert response.length == UNKNOWN_LENGTH  # streamed: chunked, no Content-Length
        assert len(await response.content()) == 1 << 20


# -- Flask and Django ---------------------------------------------------------------


def flask_app() -> Any:
    from .apps.flask_app import app

    return app


def django_app() -> Any:
    from .apps.django_app import app

    return app


def read_without_size(self: Any, *args: int) -> bytes:
    """wsgiref's check of wsgi.input.read, allowing read() with no size.

    PEP 3333 lets a server accept read() without a size when it marks the
    input as terminated (wsgi.input_terminated); Werkzeug relies on it, and
    wsgiref's validator predates it.
    """
    assert len(args) <= 1
    data = self.input.read(*args)
    assert type(data) is bytes
    return data


@pytest.mark.parametrize("make_app", [flask_app, django_app], ids=["flask", "django"])
@pytest_twisted.ensureDeferred
async def test_real_framework(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flask and Django under validation: form POST, upload, stream, cookie, redirect."""
    monkeypatch.setattr(wsgiref.validate.InputWrapper, "read", read_without_size)
    upload = bytes(range(256)) * 1000
    async with listening([("/", validator(make_app()))]) as url, http_client() as client:
        response = await client.post(url + "/form", data={"name": "Ada"})
        assert (response.code, await response.text()) == (200, "hello Ada")

        response = await client.post(
            url + "/upload", files={"file": ("notes.bin", "application/octet-stream",
                                             BytesIO(upload))})
        assert await response.text() == (
            f"notes.bin {len(upload)} {hashlib.sha256(upload).hexdigest()}"
        )

        response = await client.get(url + "/stream")
        assert response.length == UNKNOWN_LENGTH  # streamed: chunked, no Content-Length
        assert await response.text() == "".join(f"part {i}\n" for i in range(5))

        response = await client.get(url + "/cookie")
        assert "flavour=oatmeal" in response.headers.getRawHeaders("set-cookie")[0]
        await response.content()
        response = await client.get(url + "/whoami")
        assert await response.text() == "oatmeal"

        response = await client.get(url + "/old", allow_redirects=False)
        assert response.code == 302
        assert response.headers.getRawHeaders("location")[0].endswith("new")
        await response.content()
        response = await client.get(url + "/old")
        assert (response.code, await response.text()) == (200, "new at /new")


@pytest_twisted.ensureDeferred
async def test_flask_under_a_prefix() -> None:
    """Mounted at /shop, Flask sees SCRIPT_NAME and builds its redirect below the prefix."""
    async with listening([("/shop", validator(flask_app()))]) as url, http_client() as client:
        response = await client.get(url + "/shop/new")
        assert await response.text() == "new at /shop/new"


# -- backpressure ------------------------------------------------------------------


TOTAL = 32 << 20  # far more than the kernel's buffers on both sides can hold


class Endless:
    """A 32 MiB response in 64 KiB chunks that records its thread, progress and close()."""

    def __init__(self) -> None:
        self.thread: int | None = None
        self.produced = 0
        self.closed = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        self.thread = threading.get_ident()
        return self.body()

    def body(self) -> Iterator[bytes]:
        chunk = b"x" * 65536
        try:
            while self.produced < TOTAL:
                self.produced += len(chunk)
                yield chunk
        finally:
            self.closed.set()


def waiting_for_client(thread: int | None) -> bool:
    """True when ``thread`` is parked in the container's backpressure wait."""
    frame = sys._current_frames().get(thread) if thread is not None else None
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return bool(names) and names[0] == "wait_writable"


async def until(condition: Any, what: str) -> None:
    """Poll ``condition`` on the reactor every 10 ms, for at most 10 s."""
    for _ in range(1000):
        if condition():
            return
        await deferLater(reactor, 0.01, lambda: None)
    raise AssertionError(f"gave up waiting: {what}")


def raw_client(url: str) -> socket.socket:
    """A client that asks for / and then does not read; its receive buffer is small."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.connect((host, int(port)))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; an abort (reset) ends it too."""
    sock.settimeout(30)
    parts = []
    try:
        while data := sock.recv(1 << 20):
            parts.append(data)
    except ConnectionResetError:
        pass  # the server aborted: what was not read yet is dropped
    sock.close()
    return b"".join(parts)


@pytest_twisted.ensureDeferred
async def test_a_client_that_does_not_read_makes_the_app_wait() -> None:
    """The app's thread waits in the container while the client reads nothing; then finishes.

    What the server holds is bounded: the app is parked having produced a small
    part of its 32 MiB, and when the client reads, everything arrives intact.
    """
    app = Endless()
    async with listening([("/", app)]) as url:
        sock = raw_client(url)
        try:
            await until(lambda: waiting_for_client(app.thread), "the app to wait")
            assert app.produced < TOTAL // 2
            assert not app.closed.is_set()
        finally:
            data = await deferToThread(read_to_end, sock)
        await until(app.closed.is_set, "close() on the body")
    [response] = parse_responses(data)
    assert len(response.body) == TOTAL and response.chunked


@pytest_twisted.ensureDeferred
async def test_write_timeout_releases_the_thread() -> None:
    """A client that takes nothing for write_timeout seconds is dropped and the app closed."""
    app = Endless()
    config = ServerConfig(access_log=False, write_timeout=0.2)
    async with listening([("/", app)], config) as url:
        sock = raw_client(url)
        try:
            await until(lambda: waiting_for_client(app.thread), "the app to wait")
            await until(app.closed.is_set, "the send timeout to release the app")
            assert app.produced < TOTAL
        finally:
            data = await deferToThread(read_to_end, sock)
    assert len(data) < TOTAL
