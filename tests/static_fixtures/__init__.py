"""Helpers for the static-file tests: a site built in tmp_path, and three clients.

Every behaviour test runs three times, through the same ``request`` call: on
``FakeConnection`` (StringTransport, the producer pumped by hand as a client
reading would); with treq over a real 127.0.0.1 socket; and "warm", on
``FakeConnection`` with the file cache taking files at once and every request
sent twice, so the second answer comes from the cache and must equal the first.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers as TwistedHeaders
from twisted.web.iweb import IAgent
from zope.interface import implementer

from twisted_http import HTTPFactory, Router, StaticFiles
from twisted_http.testing import FakeConnection, RecordedResponse, parse_responses, request_bytes

BIG_SIZE = 200_003  # several 64 KiB chunks and an odd tail


def build_site(base: Path) -> Path:
    """A static root with one file or folder per behaviour, and a folder outside it."""
    root = base / "site"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello world\n")
    (root / "page.html").write_bytes(b"<!DOCTYPE html><title>page</title>\n")
    for name in ("app.js", "mod.mjs", "style.css", "data.json", "image.svg", "pic.webp",
                 "pic.avif", "font.woff2", "code.wasm", "app.js.map", "unknown.xyz", "noext",
                 "UPPER.TXT"):
        (root / name).write_bytes(b"x" * 10)
    (root / "big.bin").write_bytes(bytes(i % 251 for i in range(BIG_SIZE)))
    (root / "empty.txt").write_bytes(b"")
    # Precompressed siblings: the bytes differ so a test sees which one was sent.
    (root / "comp.css").write_bytes(b"body { color: red }\n" * 10)
    (root / "comp.css.gz").write_bytes(b"GZIP-BYTES")
    (root / "comp.css.br").write_bytes(b"BROTLI-BYTES")
    (root / "onlygz.js").write_bytes(b"let x = 1;\n")
    (root / "onlygz.js.gz").write_bytes(b"GZ-ONLY")
    # Things that must never run.
    (root / "script.cgi").write_bytes(b"#!/bin/sh\necho executed\n")
    (root / "page.rpy").write_bytes(b"raise SystemExit('executed')\n")
    (root / "run.py").write_bytes(b"print('executed')\n")
    # Hidden things.
    (root / ".env").write_bytes(b"SECRET=1\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(b"[core]\n")
    # Directories.
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_bytes(b"<p>sub index</p>\n")
    (root / "sub" / "default.htm").write_bytes(b"<p>default.htm</p>\n")
    (root / "bare").mkdir()
    (root / "bare" / "b.txt").write_bytes(b"bbb")
    (root / "bare" / "a <&>'\".txt").write_bytes(b"aaaa")
    (root / "bare" / "zdir").mkdir()
    (root / "bare" / ".secret").write_bytes(b"hidden")
    (root / "sp ace").mkdir()
    (root / "sp ace" / "index.html").write_bytes(b"space\n")
    (root / "caf\u00e9.txt").write_bytes(b"coffee\n")
    # Outside the root, and links to it.
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"TOP SECRET\n")
    (base / "site-sibling.txt").write_bytes(b"SIBLING SECRET\n")
    os.symlink(root / "hello.txt", root / "link_in.txt")
    os.symlink(outside / "secret.txt", root / "link_out.txt")
    os.symlink(outside, root / "link_dir_out")
    os.symlink(root / "nowhere", root / "broken")
    os.symlink(root / "loop", root / "loop")
    os.mkfifo(root / "fifo")
    return root


@attrs.frozen
class Reply:
    """A response as a client saw it: status, headers (lower-cased names), body."""

    status: int
    headers: dict[bytes, list[bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        values = self.headers.get(name.lower())
        return b", ".join(values) if values else None


Headers = Iterable[tuple[bytes, bytes]]

# What a TCP transport lets wait before pausing the server: Twisted's bufferSize.
SEND_BUFFER = 65536


class FakeClient:
    """One FakeConnection per request, with a TCP-like send buffer; reads as a client would."""

    kind = "fake"

    def __init__(self, router: Router) -> None:
        self.router = router
        self.max_buffered = 0  # the most bytes ever waiting in the transport

    async def request(self, method: bytes, target: bytes, headers: Headers = ()) -> Reply:
        connection = FakeConnection(self.router, send_buffer=SEND_BUFFER)
        connection.request(method, target, headers)
        received = []
        while True:
            data = connection.read()  # resumes the server if it was held back
            self.max_buffered = max(self.max_buffered, len(data))
            received.append(data)
            if connection.producer is None and not connection.transport.value():
                break
        (response,) = parse_responses(b"".join(received), [method])
        return _reply(response)


class WarmClient(FakeClient):
    """A FakeClient whose every request is answered twice, the second time from the cache.

    The handlers' caches keep files however recently they changed (the tests
    change them with distinct mtimes), and each answer must equal, Date aside,
    the one made without the cache.
    """

    def __init__(self, router: Router) -> None:
        super().__init__(router)
        for _, handlers in router.mounts:
            for handler in handlers:
                if isinstance(handler, StaticFiles):
                    handler.cache.settle_ns = handler.cache.fine_settle_ns = 0

    async def request(self, method: bytes, target: bytes, headers: Headers = ()) -> Reply:
        headers = list(headers)
        first = await super().request(method, target, headers)
        second = await super().request(method, target, headers)
        assert _without_date(second) == _without_date(first), target
        return second


def _without_date(reply: Reply) -> Reply:
    """``reply`` without what differs from one answer to the next: Date, multipart boundaries."""
    body, headers = reply.body, {k: v for k, v in reply.headers.items() if k != b"date"}
    content_type = reply.header(b"content-type") or b""
    if content_type.startswith(b"multipart/byteranges; boundary="):
        boundary = content_type.partition(b"=")[2]
        body = body.replace(boundary, b"BOUNDARY")
        headers[b"content-type"] = [b"multipart/byteranges; boundary=BOUNDARY"]
    return attrs.evolve(reply, headers=headers, body=body)


def _reply(response: RecordedResponse) -> Reply:
    names: dict[bytes, list[bytes]] = {}
    for name, value in response.headers:
        names.setdefault(name, []).append(value)
    return Reply(response.status, names, response.body)


@implementer(IAgent)
class _NoDecodingAgent:
    """Undoes what treq's ContentDecoderAgent does around it, so tests see the wire.

    treq always adds ``Accept-Encoding: gzip`` and gunzips the body; the
    precompressed tests need to send Accept-Encoding themselves and to see the
    encoded bytes and Content-Encoding as sent.
    """

    def __init__(self, agent: Agent) -> None:
        self._agent = agent

    def request(self, method: bytes, uri: bytes, headers: TwistedHeaders | None = None,
                bodyProducer: Any = None) -> Deferred[Any]:  # noqa: N803
        headers = headers.copy() if headers is not None else TwistedHeaders()
        accepted = headers.getRawHeaders(b"accept-encoding") or []
        if accepted[-1:] == [b"gzip"]:
            accepted = accepted[:-1]  # the one ContentDecoderAgent appended
        headers.removeHeader(b"accept-encoding")
        if accepted:
            headers.setRawHeaders(b"accept-encoding", accepted)
        return self._agent.request(method, uri, headers, bodyProducer).addCallback(self._hide)

    @staticmethod
    def _hide(response: Any) -> Any:
        coding = response.headers.getRawHeaders(b"content-encoding")
        if coding:
            response.headers.removeHeader(b"content-encoding")
            response.headers.setRawHeaders(HIDDEN_ENCODING, coding)
        return response


HIDDEN_ENCODING = b"x-test-content-encoding"


class SocketClient:
    """treq over a real 127.0.0.1 socket to a listening HTTPFactory."""

    kind = "socket"

    def __init__(self, router: Router) -> None:
        self.port = reactor.listenTCP(0, HTTPFactory(router), interface="127.0.0.1")
        self.base = f"http://127.0.0.1:{self.port.getHost().port}"
        self.pool = HTTPConnectionPool(reactor, persistent=False)

    async def request(self, method: bytes, target: bytes, headers: Headers = ()) -> Reply:
        if method == b"HEAD":
            # twisted.web's Agent hides a HEAD response's Content-Length (it sees
            # no body); the tests compare it with GET's, so HEAD goes raw.
            return await self.raw(method, target, headers)
        fields: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            fields.setdefault(name, []).append(value)
        client = treq.client.HTTPClient(_NoDecodingAgent(Agent(reactor, pool=self.pool)))
        response = await client.request(
            method.decode("ascii"), (self.base + target.decode("ascii")).encode("ascii"),
            headers=TwistedHeaders(fields), allow_redirects=False,
        )
        body = await treq.content(response)
        names = {
            name.lower(): list(values) for name, values in response.headers.getAllRawHeaders()
        }
        names.pop(b"content-encoding", None)  # ContentDecoderAgent's leftover, often b""
        if HIDDEN_ENCODING in names:
            names[b"content-encoding"] = names.pop(HIDDEN_ENCODING)
        if isinstance(response.length, int):  # the Agent keeps Content-Length to itself
            names[b"content-length"] = [b"%d" % response.length]
        return Reply(response.code, names, body)

    async def raw(self, method: bytes, target: bytes, headers: Headers = ()) -> Reply:
        """One request written byte for byte over a new socket, Connection: close."""
        pairs = [(b"Host", b"127.0.0.1"), *headers, (b"Connection", b"close")]
        data = await raw_exchange(self.port.getHost().port, request_bytes(method, target, pairs))
        (response,) = parse_responses(data, [method])
        return _reply(response)

    async def close(self) -> None:
        await self.port.stopListening()
        await self.pool.closeCachedConnections()


class _Collect(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        self.closed.callback(None)


async def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` exactly as given over a real socket; everything until the server closes."""
    protocol = _Collect()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), protocol)
    assert protocol.transport is not None
    protocol.transport.write(data)
    await protocol.closed
    return protocol.data


Client = FakeClient | WarmClient | SocketClient
Connect = Callable[..., Client]


# Fixtures, imported by the test modules under these names and used as
# "root" and "connect" (the name= keeps the import from shadowing the argument).


@pytest.fixture(name="root")
def root_fixture(tmp_path: Path) -> Path:
    """The site built by build_site."""
    return build_site(tmp_path)


@pytest_twisted.async_yield_fixture(name="connect", params=["fake", "socket", "warm"])
async def connect_fixture(request: Any, root: Path) -> AsyncIterator[Connect]:
    """Makes a client for a StaticFiles(root, **options) mounted at /, or for a Router."""
    made: list[Client] = []

    def make(router: Router | None = None, **options: Any) -> Client:
        if router is None:
            router = Router([("/", StaticFiles(root, **options))])
        client: Client = {"fake": FakeClient, "warm": WarmClient, "socket": SocketClient}[
            request.param](router)
        made.append(client)
        return client

    yield make
    for client in made:
        if isinstance(client, SocketClient):
            await client.close()
