"""HTTPFactory: the server every connection shares — config, mount table, clock, the
count of open connections, the observers of responses, and draining.

It provides ``IServer``, the only face a channel sees of it: connections report
their own opening and closing and every ended response through its methods;
none of them reads or changes its fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocolNegotiationFactory, IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from zope.interface import implementer

from ..wire.headers import Headers
from ..wire.limits import ServerConfig
from ..wire.serializer import DefaultFields, HTTPDate
from .interfaces import IConnection, IResponseObserver, IServer
from .protocol import HTTPChannel
from .request import ConnectionInfo, Request
from .response import Response, error_page
from .routing import Router

_log = Logger()

# See IServer.forwarded: what trusted proxies say a request's connection and host were.
Forwarded = Callable[[ConnectionInfo, Headers, bytes], tuple[ConnectionInfo, bytes]]


@implementer(IServer, IProtocolNegotiationFactory)
class HTTPFactory(Factory):
    """Builds an ``HTTPChannel`` per connection.

    ``clock`` is the reactor by default; tests pass a ``twisted.internet.task.Clock``.
    ``observers`` are told of every response (``IResponseObserver``): the access
    log (``edge.logfile.AccessLog``) is one, given by ``serve/`` with ``config.access_log``.
    """

    noisy = False  # one log line per listening port is enough, not one per connection

    def __init__(
        self,
        router: Router,
        config: ServerConfig | None = None,
        clock: IReactorTime | None = None,
        observers: tuple[IResponseObserver, ...] = (),
        forwarded: Forwarded | None = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as default_clock

            clock = default_clock
        self.router = router
        self.config = config if config is not None else ServerConfig()
        self.clock: IReactorTime = clock
        self.date = HTTPDate()
        self._default_fields = DefaultFields(self.date, self.config.server_header)
        self.observers: tuple[IResponseObserver, ...] = observers
        self.forwarded = forwarded
        self.turned_away = 0  # connections answered 503 at once, ever (metrics)
        self._connections: set[IConnection] = set()
        self._drained: list[Deferred[None]] | None = None  # set while draining

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def requests_in_flight(self) -> int:
        """Requests read and not yet answered, on every connection."""
        return sum(1 for connection in self._connections if connection.in_flight)

    @property
    def draining(self) -> bool:
        return self._drained is not None

    def acceptableProtocols(self) -> list[bytes]:
        """What TLS connections offer in ALPN. Without it Twisted answers every
        client that offers ALPN (all browsers, curl) with a failed handshake."""
        return [b"http/1.1"]

    def buildProtocol(self, addr: Any) -> Protocol:
        if self._drained is not None:
            self.turned_away += 1
            return _TurnAway(self, _TurnAway.DRAINING)
        if len(self._connections) >= self.config.max_connections:
            self.turned_away += 1
            return _TurnAway(self, _TurnAway.FULL)
        return HTTPChannel(self)

    def drain(self) -> Deferred[None]:
        """Stop taking connections and close those open once their responses are out.

        New connections get 503 (stop listening too: this does not); each open
        one closes after the response in flight, which says ``Connection:
        close`` if it has not started, and idle ones close at once. Fires when
        the last connection has closed. Abort stragglers with ``abort_all``.
        """
        if self._drained is None:
            self._drained = []
        waiter: Deferred[None] = Deferred()
        self._drained.append(waiter)
        for connection in list(self._connections):
            connection.drain()
        self._check_drained()
        return waiter

    def abort_all(self) -> None:
        """Drop every open connection now (after a drain has waited long enough)."""
        for connection in list(self._connections):
            connection.abort()

    # -- IServer: what channels ask ----------------------------------------

    def head_defaults(self, date: bool, server: bool) -> bytes:
        return self._default_fields.lines(self.clock.seconds(), date, server)

    def connection_opened(self, connection: IConnection) -> None:
        self._connections.add(connection)
        if self._drained is not None:
            connection.drain()

    def connection_closed(self, connection: IConnection) -> None:
        self._connections.discard(connection)
        if self._drained is not None:
            self._check_drained()

    def response_completed(
        self, request: Request | None, response: Response, started: float
    ) -> None:
        for observer in self.observers:
            try:
                observer.response_completed(request, response, started)
            except Exception:
                # One broken observer (a log on a closed stream) must cost neither the
                # others their figures nor the connection its next request.
                _log.failure("Response observer {observer} failed",
                             observer=type(observer).__name__)

    def _check_drained(self) -> None:
        if self._drained and not self._connections:
            waiters, self._drained = self._drained, []
            for waiter in waiters:
                waiter.callback(None)


class _TurnAway(Protocol):
    """A connection over max_connections, or while draining: 503 at once, then closed.

    Its page is a ``Response`` like any other, with this protocol as its owner,
    so the observers (the access log, the metrics) see a refusal with no request.
    """

    FULL = error_page(503, "The server is at its connection limit; try again shortly.")
    DRAINING = error_page(503, "The server is shutting down; try again shortly.")

    def __init__(self, server: HTTPFactory, body: bytes) -> None:
        self._server = server
        self._body = body
        self._started = 0.0

    def connectionMade(self) -> None:
        self._started = self._server.clock.seconds()
        page = Response(self, b"GET", b"HTTP/1.1", keep_alive=False)
        page.refusal = True
        assert self.transport is not None
        page.connection = ConnectionInfo.from_transport(self.transport)
        page.send(503, self._body, [(b"Content-Type", b"text/html; charset=utf-8"),
                                    (b"Retry-After", b"1")])

    # -- what the page needs of its owner -----------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def write_sequence(self, data: list[bytes]) -> None:
        assert self.transport is not None
        self.transport.writeSequence(data)

    def direct_socket(self) -> int | None:
        return None

    def register_producer(self, producer: Any, streaming: bool) -> None:
        raise RuntimeError("a turned-away connection's page is sent at once")

    def unregister_producer(self) -> None:
        pass

    def head_defaults(self, date: bool, server: bool) -> bytes:
        return self._server.head_defaults(date, server)

    def connection_reusable(self) -> bool:
        return False

    def response_finished(self, response: Response) -> None:
        assert self.transport is not None
        self.transport.loseConnection()
        self._server.response_completed(None, response, self._started)

    def response_aborted(self, response: Response) -> None:
        assert self.transport is not None
        self.transport.loseConnection()

    def switch_protocols(self, response: Response, upgrade: bytes, head: bytes,
                         protocol: Any) -> None:
        raise RuntimeError("a turned-away connection switches to nothing")
