"""A file of hundreds of MiB to a client that reads slowly: the server's memory stays flat.

The file is sparse (``truncate``), so making it costs no disk. The server is
in this process, so its memory is this process's: the tests watch the bytes
waiting in the server's transport and the resident set size (RSS), and
require both to stay far below the file's size. No assertion is about time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import LoopingCall, deferLater

from twisted_http import HTTPFactory, Router, StaticFiles
from twisted_http.channel.sender import CHUNK_SIZE, FileSender
from twisted_http.testing import FakeConnection

SIZE = 256 << 20  # 256 MiB
MiB = 1 << 20


def rss() -> int:
    """This process's resident set size in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def big_root(tmp_path: Path) -> Path:
    root = tmp_path / "big"
    root.mkdir()
    with open(root / "huge.bin", "wb") as handle:
        handle.truncate(SIZE)  # sparse: no blocks on disk, zeros when read
    (root / "huge.bin.gz").write_bytes(b"")  # irrelevant sibling: not accepted below
    return root


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")


@needs_proc
def test_slow_client_on_string_transport(big_root: Path) -> None:
    """Read by a client through a TCP-like 64 KiB send buffer, 256 MiB go out with at most
    one chunk beyond the buffer ever waiting, nothing is produced while the client does not
    read, and RSS stays flat."""
    connection = FakeConnection(StaticFiles(big_root), send_buffer=CHUNK_SIZE)
    connection.request(b"GET", b"/huge.bin")
    transport = connection.transport
    producer = connection.producer
    assert isinstance(producer, FileSender)
    before = rss()
    peak_rss = before
    peak_buffered = received = reads = 0
    while connection.producer is not None or transport.value():
        data = connection.read()
        reads += 1
        peak_buffered = max(peak_buffered, len(data))
        received += len(data)
        if reads % 256 == 0:
            peak_rss = max(peak_rss, rss())
            # The client stops reading for a while: nothing more is produced.
            waiting = len(transport.value())
            connection.clock.advance(1)
            assert len(transport.value()) == waiting
    head_size = received - SIZE
    assert 0 < head_size < 1024
    assert reads >= SIZE // (2 * CHUNK_SIZE)
    assert peak_buffered <= 2 * CHUNK_SIZE + head_size  # the buffer and one chunk over it
    assert peak_rss - before < 32 * MiB
    assert producer.closed


def test_client_leaving_mid_file_closes_it(big_root: Path) -> None:
    """A client that goes away mid-file: the producer stops and the file is closed."""
    connection = FakeConnection(StaticFiles(big_root))
    connection.request(b"GET", b"/huge.bin")
    producer = connection.producer
    assert isinstance(producer, FileSender)
    for _ in range(10):
        producer.resumeProducing()
    connection.lose()
    assert producer.closed


class SlowReader(Protocol):
    """Sends one GET, then reads in phases: not at all, slowly, then at full speed."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.received = 0
        self.done: Deferred[None] = Deferred()
        self.slow = True

    def connectionMade(self) -> None:  # noqa: N802
        assert self.transport is not None
        self.transport.write(self.request)
        self.transport.pauseProducing()  # phase one: read nothing at all

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.received += len(data)
        if self.slow:
            # Phase two: after each read, a short pause before reading again.
            assert self.transport is not None
            self.transport.pauseProducing()
            reactor.callLater(0.002, self.transport.resumeProducing)  # type: ignore[attr-defined]

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        self.done.callback(None)


def buffered(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds for writing (FileDescriptor's two buffers)."""
    return len(transport.dataBuffer) + transport._tempDataLen


@needs_proc
@pytest_twisted.ensureDeferred
async def test_slow_reader_over_a_real_socket(big_root: Path) -> None:
    """256 MiB over 127.0.0.1 to a reader that first stalls, then reads slowly, then fast:
    the server's transport never holds much and RSS grows far less than the file."""
    factory = HTTPFactory(Router([("/", StaticFiles(big_root))]))
    channels: list[Any] = []
    build = factory.buildProtocol
    factory.buildProtocol = lambda addr: channels.append(build(addr)) or channels[-1]  # type: ignore[method-assign]
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")  # type: ignore[attr-defined]
    samples: list[tuple[int, int]] = []

    def sample() -> None:
        if channels and channels[0].transport is not None:
            samples.append((buffered(channels[0].transport), rss()))

    before = rss()
    watcher = LoopingCall(sample)
    watcher.clock = reactor
    watcher.start(0.02)
    client = SlowReader(b"GET /huge.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    try:
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port),
                              client)
        await deferLater(reactor, 0.5, lambda: None)  # the client reads nothing
        stalled = list(samples)
        assert client.transport is not None
        client.transport.resumeProducing()
        await deferLater(reactor, 1.0, lambda: None)  # the client reads slowly
        client.slow = False  # then at full speed, to the end
        await client.done
    finally:
        watcher.stop()
        await port.stopListening()
    assert SIZE < client.received < SIZE + 1024  # the whole file and a head
    assert stalled and max(b for b, _ in stalled) < 2 * MiB
    assert max(b for b, _ in samples) < 2 * MiB
    assert max(r for _, r in samples) - before < 64 * MiB
