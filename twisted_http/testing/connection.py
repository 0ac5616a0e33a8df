"""FakeConnection: one server connection driven by hand, on StringTransport and a Clock;
and BufferedTransport, a StringTransport with a send buffer as TCP has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IAddress
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from ..channel.factory import HTTPFactory
from ..channel.flow import Producer
from ..channel.interfaces import IRequestHandler
from ..channel.protocol import HTTPChannel
from ..channel.routing import Router
from ..wire.limits import ServerConfig
from ..wire.serializer import request_bytes
from .responses import RecordedResponse, parse_responses

CLIENT_ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)
SERVER_ADDRESS = IPv4Address("TCP", "127.0.0.1", 8000)


def as_router(handler: Router | IRequestHandler) -> Router:
    return handler if isinstance(handler, Router) else Router([("/", handler)])


class BufferedTransport(StringTransport):
    """A StringTransport with a send buffer, as a TCP transport has.

    Past ``high_water`` bytes unread by the client, the registered producer is
    paused, and ``drain`` (the client reading everything) resumes it.
    """

    def __init__(
        self, high_water: int, hostAddress: IAddress | None = None,  # noqa: N803
        peerAddress: IAddress | None = None,  # noqa: N803 - StringTransport's names
    ) -> None:
        super().__init__(hostAddress, peerAddress)
        self.high_water = high_water
        self.full = False

    def write(self, data: bytes) -> None:
        super().write(data)
        self._check()

    def writeSequence(self, data: Iterable[bytes]) -> None:  # noqa: N802
        super().writeSequence(data)
        self._check()

    def drain(self) -> bytes:
        data = bytes(self.value())
        self.clear()
        if self.full:
            self.full = False
            if self.producer is not None:
                self.producer.resumeProducing()
        return data

    def _check(self) -> None:
        if not self.full and len(self.value()) > self.high_water and self.producer is not None:
            self.full = True
            self.producer.pauseProducing()


class FakeConnection:
    """One connection to a server built around ``handler``, on StringTransport and Clock.

    With ``send_buffer`` the transport pauses the server past that many unread
    bytes, as TCP does, and ``read()`` plays a client reading them.
    """

    def __init__(
        self,
        handler: Router | IRequestHandler,
        config: ServerConfig | None = None,
        clock: Clock | None = None,
        send_buffer: int | None = None,
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.factory = HTTPFactory(as_router(handler), config, clock=self.clock)
        addresses = {"hostAddress": SERVER_ADDRESS, "peerAddress": CLIENT_ADDRESS}
        self.transport: StringTransport = (
            StringTransport(**addresses) if send_buffer is None
            else BufferedTransport(send_buffer, **addresses)
        )
        channel = self.factory.buildProtocol(CLIENT_ADDRESS)
        assert isinstance(channel, HTTPChannel), "over max_connections: no channel"
        self.channel = channel
        self.channel.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        """Deliver ``data`` from the client in one piece."""
        self.channel.dataReceived(data)

    def send_bytewise(self, data: bytes) -> None:
        """Deliver ``data`` one byte at a time."""
        for i in range(len(data)):
            self.channel.dataReceived(data[i : i + 1])

    def request(self, method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]] = (),
                body: bytes = b"") -> None:
        """Send one HTTP/1.1 request, adding Host and Content-Length when missing."""
        pairs = list(headers)
        names = {name.lower() for name, _ in pairs}
        if b"host" not in names:
            pairs.insert(0, (b"Host", b"example.com"))
        if body and b"content-length" not in names and b"transfer-encoding" not in names:
            pairs.append((b"Content-Length", b"%d" % len(body)))
        self.send(request_bytes(method, target, pairs, body))

    @property
    def written(self) -> bytes:
        return bytes(self.transport.value())

    @property
    def closed(self) -> bool:
        """True once the server has asked to close the connection."""
        return bool(self.transport.disconnecting)

    @property
    def reading(self) -> bool:
        """True while the server takes the client's bytes (its parsing is not paused).

        While parsing is paused the server also stops reading the socket, but
        only once bytes arrive and wait: see ``socket_paused``.
        """
        return self.channel.reading

    @property
    def socket_paused(self) -> bool:
        """True while the transport is paused: the server reads nothing from the client."""
        return self.transport.producerState == "paused"

    def responses(self, methods: Sequence[bytes] = ()) -> list[RecordedResponse]:
        """Everything written so far, parsed; ``methods`` marks responses to HEAD."""
        return parse_responses(self.written, methods)

    def read(self) -> bytes:
        """The client reads everything written so far (resuming a paused server)."""
        if isinstance(self.transport, BufferedTransport):
            return self.transport.drain()
        data = bytes(self.transport.value())
        self.transport.clear()
        return data

    @property
    def producer(self) -> Producer | None:
        """The producer the current response registered, or None."""
        return self.channel.response_producer

    def block_writes(self) -> None:
        """As the transport does when its send buffer fills: the client is not reading."""
        assert self.transport.producer is not None, "the connection has closed"
        self.transport.producer.pauseProducing()

    def unblock_writes(self) -> None:
        """As the transport does when its send buffer drains."""
        assert self.transport.producer is not None, "the connection has closed"
        self.transport.producer.resumeProducing()

    def half_close(self) -> None:
        """The client shuts down its sending side (``shutdown(SHUT_WR)``) and keeps reading."""
        self.channel.readConnectionLost()

    def lose(self) -> None:
        """The client goes away."""
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        self.channel.connectionLost(Failure(ConnectionDone()))
