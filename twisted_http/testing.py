"""Helpers for testing handlers and apps with fake transports, no sockets.

``FakeConnection`` drives one server connection over ``StringTransport`` with a
``Clock``; ``parse_responses`` reads back what the server wrote; ``MemoryAgent``
lets a real HTTP client (twisted.web's Agent, so treq) talk to a factory in
memory, through ``twisted.test.iosim``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.web.iweb import IAgent, IBodyProducer
from zope.interface import implementer

from .channel.factory import HTTPFactory
from .channel.interfaces import IRequestHandler
from .channel.protocol import HTTPChannel
from .channel.routing import Router
from .wire.headers import Headers
from .wire.limits import ServerConfig
from .wire.serializer import request_bytes

__all__ = [
    "BufferedTransport",
    "FakeConnection",
    "InlineReactor",
    "InlineThreadPool",
    "MemoryAgent",
    "QueuedThreadPool",
    "RecordedResponse",
    "parse_responses",
    "request_bytes",
]

CLIENT_ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)
SERVER_ADDRESS = IPv4Address("TCP", "127.0.0.1", 8000)


def _as_router(handler: Router | IRequestHandler) -> Router:
    return handler if isinstance(handler, Router) else Router([("/", handler)])


class BufferedTransport(StringTransport):
    """A StringTransport with a send buffer, as a TCP transport has.

    Past ``high_water`` bytes unread by the client, the registered producer is
    paused, and ``drain`` (the client reading everything) resumes it.
    """

    def __init__(self, high_water: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
        self.factory = HTTPFactory(_as_router(handler), config, clock=self.clock)
        addresses = {"hostAddress": SERVER_ADDRESS, "peerAddress": CLIENT_ADDRESS}
        self.transport: StringTransport = (
            StringTransport(**addresses) if send_buffer is None
            else BufferedTransport(send_buffer, **addresses)
        )
        self.channel: HTTPChannel = self.factory.buildProtocol(CLIENT_ADDRESS)  # type: ignore[assignment]
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
        return not self.channel.paused

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
    def producer(self) -> Any:
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


@attrs.frozen
class RecordedResponse:
    """One response as the client saw it; headers lower-cased, body de-chunked."""

    status: int
    reason: bytes
    headers: Headers
    body: bytes
    chunked: bool = False

    def header(self, name: bytes) -> bytes | None:
        return self.headers.get(name.lower())


def parse_responses(data: bytes, methods: Sequence[bytes] = ()) -> list[RecordedResponse]:
    """Split the bytes a server wrote into responses.

    ``methods`` lists the request methods in order, so that a response to HEAD
    is read without a body; missing entries count as GET. Interim (1xx)
    responses are returned as responses of their own and consume no method.
    Raises ValueError on anything that is not a well-formed response stream.
    """
    out: list[RecordedResponse] = []
    index = 0
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError(f"incomplete response head: {head[:80]!r}")
        status_line, *lines = head.split(b"\r\n")
        version, status_text, reason = (status_line.split(b" ", 2) + [b""])[:3]
        if version != b"HTTP/1.1" or not status_text.isdigit():
            raise ValueError(f"bad status line {status_line!r}")
        status = int(status_text)
        headers = Headers()
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon or name != name.strip():
                raise ValueError(f"bad header line {line!r}")
            headers.add(name.lower(), value.strip())
        if status < 200:
            out.append(RecordedResponse(status, reason, headers, b""))
            continue
        method = methods[index] if index < len(methods) else b"GET"
        index += 1
        body, chunked = b"", False
        if method == b"HEAD" or status in (204, 304):
            pass
        elif headers.get(b"transfer-encoding") == b"chunked":
            body, data = _dechunk(data)
            chunked = True
        elif headers.get(b"content-length") is not None:
            length = int(headers.get(b"content-length") or b"0")
            if len(data) < length:
                raise ValueError(f"body shorter than Content-Length {length}")
            body, data = data[:length], data[length:]
        else:
            body, data = data, b""  # close-delimited
        out.append(RecordedResponse(status, reason, headers, body, chunked))
    return out


def _dechunk(data: bytes) -> tuple[bytes, bytes]:
    parts: list[bytes] = []
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        if not sep:
            raise ValueError("incomplete chunked body")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            trailer_end = data.find(b"\r\n")
            while trailer_end != 0:
                if trailer_end < 0:
                    raise ValueError("incomplete trailers")
                data = data[trailer_end + 2 :]
                trailer_end = data.find(b"\r\n")
            return b"".join(parts), data[2:]
        if data[size : size + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        parts.append(data[:size])
        data = data[size + 2 :]


@implementer(IBodyProducer)
class _SynchronousProducer:
    """An IBodyProducer that writes all of its bytes when asked to start."""

    def __init__(self, body: bytes | str) -> None:
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.length = len(self.body)

    def startProducing(self, consumer: Any) -> Any:  # noqa: N802
        from twisted.internet.defer import succeed

        consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:  # noqa: N802
        pass

    def resumeProducing(self) -> None:  # noqa: N802
        pass

    def stopProducing(self) -> None:  # noqa: N802
        pass


@implementer(IAgent)
class MemoryAgent:
    """An IAgent whose requests reach ``factory`` in memory: give it to treq.

        agent = MemoryAgent(factory)
        client = agent.client()  # a treq HTTPClient
        d = client.get("http://example.com/")
        agent.flush()

    Every request opens a connection of its own; ``flush`` moves the bytes
    both ways until nothing is left to move.
    """

    def __init__(self, factory: HTTPFactory) -> None:
        from twisted.web.client import Agent

        self._reactor = MemoryReactorClock()
        self._agent = Agent(self._reactor)
        self._factory = factory
        self._pumps: list[Any] = []

    def request(
        self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None
    ) -> Any:
        from twisted.test import iosim

        result = self._agent.request(method, uri, headers, bodyProducer)
        host, port, client_factory, _timeout, _bind = self._reactor.tcpClients.pop()
        server: IProtocol = self._factory.buildProtocol(CLIENT_ADDRESS)
        server_transport = iosim.FakeTransport(
            server, isServer=True, hostAddress=SERVER_ADDRESS, peerAddress=CLIENT_ADDRESS
        )
        client = client_factory.buildProtocol(None)
        client_transport = iosim.FakeTransport(
            client, isServer=False, hostAddress=CLIENT_ADDRESS, peerAddress=SERVER_ADDRESS
        )
        self._pumps.append(iosim.connect(server, server_transport, client, client_transport))
        return result

    def client(self) -> Any:
        """A treq ``HTTPClient`` on this agent whose request bodies are sent at once.

        (treq's default body producer waits for the global reactor's cooperator,
        which a synchronous test never runs.)
        """
        from treq.client import HTTPClient

        return HTTPClient(self, data_to_body_producer=_SynchronousProducer)

    def flush(self) -> None:
        """Move bytes both ways until every connection is idle."""
        for pump in list(self._pumps):
            pump.flush()
            if pump.clientIO.disconnected and pump.serverIO.disconnected:
                self._pumps.remove(pump)


class InlineReactor(Clock):
    """A reactor fake for WSGI tests: ``callFromThread`` runs the call at once.

    It is a ``Clock`` too, so timers (the WSGI send timeout) move with ``advance``.
    Give it to ``WSGIHandler(app, thread_pool=..., reactor=InlineReactor())``.
    """

    def callFromThread(  # noqa: N802 - Twisted's name
        self, f: Callable[..., object], /, *args: Any, **kwargs: Any
    ) -> None:
        f(*args, **kwargs)


class InlineThreadPool:
    """A thread pool fake: ``callInThread`` runs the call at once, on the caller's thread.

    A call made while another runs waits for it to return (no deep recursion).
    An app that reads a request body cannot run here: it would run before the
    body is read from the connection; use ``QueuedThreadPool`` for those.
    """

    def __init__(self) -> None:
        self._queue: list[tuple[Callable[..., object], tuple[object, ...], dict[str, object]]] = []
        self._running = False

    def callInThread(  # noqa: N802 - Twisted's name
        self, f: Callable[..., object], /, *args: Any, **kwargs: Any
    ) -> None:
        self._queue.append((f, args, kwargs))
        if not self._running:
            self.run()

    def run(self) -> None:
        """Run every queued call, and those they queue, in order."""
        self._running = True
        try:
            while self._queue:
                f, args, kwargs = self._queue.pop(0)
                f(*args, **kwargs)
        finally:
            self._running = False


class QueuedThreadPool(InlineThreadPool):
    """A thread pool fake whose calls wait for ``run()``.

    Send the whole request first, then ``run()``: the app then finds its body
    waiting, as if a thread had picked the request up a moment later.
    """

    def callInThread(  # noqa: N802 - Twisted's name
        self, f: Callable[..., object], /, *args: Any, **kwargs: Any
    ) -> None:
        self._queue.append((f, args, kwargs))

    @property
    def pending(self) -> int:
        """How many calls wait for ``run()``."""
        return len(self._queue)
