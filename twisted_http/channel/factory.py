"""HTTPFactory: what every connection shares — the config, the mount table, the clock."""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IProtocolNegotiationFactory, IReactorTime
from twisted.internet.protocol import Factory, Protocol
from zope.interface import implementer

from ..wire.limits import ServerConfig
from ..wire.serializer import DefaultFields, HTTPDate, response_head
from .protocol import HTTPChannel
from .response import error_page
from .routing import Router


@implementer(IProtocolNegotiationFactory)
class HTTPFactory(Factory):
    """Builds an ``HTTPChannel`` per connection.

    ``clock`` is the reactor by default; tests pass a ``twisted.internet.task.Clock``.
    """

    noisy = False  # one log line per listening port is enough, not one per connection

    def __init__(
        self,
        router: Router,
        config: ServerConfig | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as default_clock

            clock = default_clock
        self.router = router
        self.config = config if config is not None else ServerConfig()
        self.clock: IReactorTime = clock
        self.date = HTTPDate()
        self.default_fields = DefaultFields(self.date, self.config.server_header)
        self.open_connections = 0  # kept by the channels themselves

    def acceptableProtocols(self) -> list[bytes]:
        """What TLS connections offer in ALPN. Without it Twisted answers every
        client that offers ALPN (all browsers, curl) with a failed handshake."""
        return [b"http/1.1"]

    def buildProtocol(self, addr: Any) -> Protocol:
        if self.open_connections >= self.config.max_connections:
            return _TurnAway(self)
        channel = HTTPChannel(self)
        channel.factory = self
        return channel


class _TurnAway(Protocol):
    """A connection over max_connections: 503 at once, then closed, nothing read."""

    _BODY = error_page(503, "The server is at its connection limit; try again shortly.")

    def __init__(self, site: HTTPFactory) -> None:
        self._site = site

    def connectionMade(self) -> None:
        assert self.transport is not None
        date = self._site.date.at(self._site.clock.seconds())
        head = response_head(503, [
            (b"Date", date),
            (b"Server", self._site.config.server_header),
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"Content-Length", b"%d" % len(self._BODY)),
            (b"Retry-After", b"1"),
            (b"Connection", b"close"),
        ])
        self.transport.write(head + self._BODY)
        self.transport.loseConnection()
