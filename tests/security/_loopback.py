"""Real loopback sockets for the attack tests: a server on 127.0.0.1 and raw clients.

Everything here runs on the global reactor that pytest-twisted drives. Every
wait is bounded: ``wait_until`` gives up with an AssertionError after its
timeout rather than hang the suite.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater

from twisted_http import HTTPFactory


class RawClient(Protocol):
    """Records what the server sends and when the connection ended."""

    def __init__(self) -> None:
        self.data = b""
        self.closed: Deferred[float] = Deferred()
        self.closed_at: float | None = None

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: object = None) -> None:
        self.closed_at = time.monotonic()
        self.closed.callback(self.closed_at)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


async def connect(port: int) -> RawClient:
    client = RawClient()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5), client)
    return client


async def sleep(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.01) -> float:
    """Poll ``predicate`` until true; returns the seconds it took. Fails after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await sleep(step)
    return time.monotonic() - start


class Listening:
    """A factory listening on an ephemeral loopback port, remembering its channels."""

    def __init__(self, factory: HTTPFactory) -> None:
        self.factory = factory
        self.channels: list[Any] = []
        build = factory.buildProtocol

        def record(addr: Any) -> Any:
            protocol = build(addr)
            self.channels.append(protocol)
            return protocol

        factory.buildProtocol = record  # type: ignore[method-assign]
        self.port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.number: int = self.port.getHost().port

    async def stop(self) -> None:
        for channel in self.channels:
            transport = getattr(channel, "transport", None)
            if transport is not None and not transport.disconnected:
                transport.abortConnection()
        await self.port.stopListening()


def send_buffer_size(channel: Any) -> int:
    """Bytes the server holds for one connection, waiting for the socket to take them."""
    transport = channel.transport
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
