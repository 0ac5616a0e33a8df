"""The real factory end to end: treq in memory, treq and raw sockets on loopback, and twistd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater

from twisted_http import HTTPFactory, Router, StaticFiles
from twisted_http.testing import MemoryAgent

from .handlers import Echo, Held
from .support import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "static"


def site_factory(clock: object = None) -> HTTPFactory:
    return HTTPFactory(Router([("/", StaticFiles(SITE)), ("/echo", Echo())]), clock=clock)  # type: ignore[arg-type]


# -- treq in memory --------------------------------------------------------------


def test_treq_in_memory_serves_the_bundled_site() -> None:
    """treq against the factory in memory: /, the picture, a POST, and a 404."""
    agent = MemoryAgent(site_factory(reactor))
    client = agent.client()
    results: dict[str, tuple[int, bytes, bytes]] = {}

    def fetch(name: str, deferred: Deferred) -> None:  # type: ignore[type-arg]
        def record(response):  # type: ignore[no-untyped-def]
            kind = response.headers.getRawHeaders(b"content-type", [b""])[0]
            return treq.content(response).addCallback(
                lambda body: results.__setitem__(name, (response.code, kind, body))
            )

        deferred.addCallback(record)

    fetch("index", client.get("http://example.com/"))
    fetch("picture", client.get("http://example.com/test.jpg"))
    fetch("post", client.post("http://example.com/echo/x", data=b"payload"))
    fetch("missing", client.get("http://example.com/missing"))
    agent.flush()
    assert results["index"][0] == 200 and b"<img src=\"test.jpg\"" in results["index"][2]
    assert results["picture"][:2] == (200, b"image/jpeg")
    assert results["picture"][2] == (SITE / "test.jpg").read_bytes()
    assert results["post"] == (200, b"text/plain", b"POST /x payload")
    assert results["missing"][0] == 404


# -- real loopback sockets ----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_treq_over_loopback() -> None:
    """treq over a real 127.0.0.1 socket gets the index page and the picture."""
    port = reactor.listenTCP(0, site_factory(), interface="127.0.0.1")
    try:
        base = f"http://127.0.0.1:{port.getHost().port}"
        response = await treq.get(base + "/")
        assert response.code == 200
        assert b"minihttp" in await treq.content(response)
        picture = await treq.get(base + "/test.jpg")
        assert picture.headers.getRawHeaders(b"content-type") == [b"image/jpeg"]
        assert await treq.content(picture) == (SITE / "test.jpg").read_bytes()
    finally:
        await port.stopListening()


class _Collect(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: object = None) -> None:
        self.closed.callback(None)


async def _connect(port: int) -> _Collect:
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    protocol = _Collect()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), protocol)
    return protocol


@pytest_twisted.ensureDeferred
async def test_pipelined_requests_over_loopback_come_back_in_order() -> None:
    """Twenty pipelined requests in one write are answered in order on a real socket."""
    port = reactor.listenTCP(0, site_factory(), interface="127.0.0.1")
    try:
        client = await _connect(port.getHost().port)
        requests = [b"GET /echo/%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(20)]
        requests[-1] = b"GET /echo/19 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        client.transport.write(b"".join(requests))  # type: ignore[union-attr]
        await client.closed
        bodies = [b"GET /%d " % i for i in range(20)]
        positions = [client.data.index(body) for body in bodies]
        assert positions == sorted(positions)
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_pipelined_flood_behind_a_slow_response_is_not_buffered_whole() -> None:
    """While a response is pending the server stops reading, so a flood stays in the kernel."""
    held = Held()
    port = reactor.listenTCP(0, HTTPFactory(Router([("/", held)])), interface="127.0.0.1")
    channels = []
    original = port.factory.buildProtocol  # type: ignore[attr-defined]
    port.factory.buildProtocol = lambda addr: channels.append(original(addr)) or channels[-1]  # type: ignore[attr-defined]
    try:
        client = await _connect(port.getHost().port)
        flood = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 200_000  # about 5.6 MB
        client.transport.write(flood)  # type: ignore[union-attr]
        for _ in range(50):
            await deferLater(reactor, 0.01, lambda: None)
        assert len(held.pending) == 1
        assert len(channels[0]._unparsed) < 1_000_000  # the reader's buffer: bounded by reads
        client.transport.abortConnection()  # type: ignore[union-attr]
    finally:
        await port.stopListening()


# -- twistd as a child process --------------------------------------------------------------


@pytest.mark.slow
def test_twistd_serves_the_bundled_site(tmp_path: Path) -> None:
    """`twistd -n minihttp` in a child process serves / and the picture as image/jpeg."""
    port = free_port()
    twistd = Path(sys.executable).parent / "twistd"
    process = subprocess.Popen(
        [str(twistd), "--nodaemon", "--pidfile=", f"--logfile={tmp_path / 'twistd.log'}",
         "minihttp", "--port", f"tcp:{port}:interface=127.0.0.1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(port, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
            assert page.headers["Content-Type"].startswith("text/html")
            assert b'<img src="test.jpg"' in page.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/test.jpg", timeout=10) as picture:
            assert picture.headers["Content-Type"] == "image/jpeg"
            assert picture.read() == (SITE / "test.jpg").read_bytes()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page", timeout=10)
        assert missing.value.code == 404
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    log = (tmp_path / "twistd.log").read_text()
    assert '"GET /test.jpg HTTP/1.1" 200' in log
