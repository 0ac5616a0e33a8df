"""MemoryAgent: a real HTTP client (twisted.web's Agent, so treq) talking to a server
factory in memory, through ``twisted.test.iosim``, with every timer on one fake clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IConsumer, IProtocol, IReactorTime
from twisted.internet.testing import MemoryReactorClock
from twisted.test import iosim
from twisted.web.http_headers import Headers as WebHeaders
from twisted.web.iweb import IAgent, IBodyProducer, IResponse
from zope.interface import implementer

from ..channel.factory import Forwarded, HTTPFactory
from ..channel.interfaces import IConnection, IServer
from ..channel.protocol import HTTPChannel
from ..channel.request import Request
from ..channel.response import Response
from ..channel.routing import Router
from ..wire.limits import ServerConfig
from .connection import CLIENT_ADDRESS, SERVER_ADDRESS

if TYPE_CHECKING:
    from treq.client import HTTPClient


@implementer(IAgent)
class MemoryAgent:
    """An IAgent whose requests reach ``factory`` in memory: give it to treq.

        agent = MemoryAgent(factory)
        client = agent.client()  # a treq HTTPClient
        d = client.get("http://example.com/")
        agent.flush()

    Every request opens a connection of its own; ``flush`` moves the bytes
    both ways, and runs what is due on the clock, until nothing is left to do.
    The client and the server's connections keep time on ``agent.clock`` (a
    ``MemoryReactorClock``), whatever clock the factory was built with, so
    ``agent.clock.advance(15)`` moves every timeout; give ``clock`` to run the
    connections' timers on another (the fake reactor of a WSGI handler, say).
    """

    def __init__(self, factory: HTTPFactory, clock: IReactorTime | None = None) -> None:
        from twisted.web.client import Agent

        self.clock = MemoryReactorClock()
        self._agent = Agent(self.clock)
        self._factory = factory
        self._server = _OnClock(factory, clock if clock is not None else self.clock)
        self._pumps: list[iosim.IOPump] = []

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: WebHeaders | None = None,
        bodyProducer: IBodyProducer | None = None,  # noqa: N803 - IAgent's name
    ) -> Deferred[IResponse]:
        result: Deferred[IResponse] = self._agent.request(method, uri, headers, bodyProducer)
        _host, _port, client_factory, _timeout, _bind = self.clock.tcpClients.pop()
        server: IProtocol = self._factory.buildProtocol(CLIENT_ADDRESS)
        if isinstance(server, HTTPChannel):
            server = HTTPChannel(self._server)  # the same server, its timers on our clock
        server_transport = iosim.FakeTransport(
            server, isServer=True, hostAddress=SERVER_ADDRESS, peerAddress=CLIENT_ADDRESS
        )
        client = client_factory.buildProtocol(None)
        client_transport = iosim.FakeTransport(
            client, isServer=False, hostAddress=CLIENT_ADDRESS, peerAddress=SERVER_ADDRESS
        )
        self._pumps.append(iosim.connect(server, server_transport, client, client_transport))
        return result

    def client(self) -> HTTPClient:
        """A treq ``HTTPClient`` on this agent whose request bodies are sent at once.

        (treq's default body producer waits for the global reactor's cooperator,
        which a synchronous test never runs.)
        """
        from treq.client import HTTPClient

        return HTTPClient(self, data_to_body_producer=_SynchronousProducer)

    def flush(self) -> None:
        """Move bytes both ways, and run what is due now, until every connection is idle."""
        self.clock.advance(0)
        for pump in list(self._pumps):
            pump.flush()
            if pump.clientIO.disconnected and pump.serverIO.disconnected:
                self._pumps.remove(pump)


@implementer(IServer)
class _OnClock:
    """``server`` as its connections see it, with their timers on ``clock``."""

    def __init__(self, server: HTTPFactory, clock: IReactorTime) -> None:
        self._server = server
        self.clock = clock

    @property
    def config(self) -> ServerConfig:
        return self._server.config

    @property
    def router(self) -> Router:
        return self._server.router

    @property
    def forwarded(self) -> Forwarded | None:
        return self._server.forwarded

    def head_defaults(self, date: bool, server: bool) -> bytes:
        return self._server.head_defaults(date, server)

    def connection_opened(self, connection: IConnection) -> None:
        self._server.connection_opened(connection)

    def connection_closed(self, connection: IConnection) -> None:
        self._server.connection_closed(connection)

    def response_completed(
        self, request: Request | None, response: Response, started: float
    ) -> None:
        self._server.response_completed(request, response, started)


@implementer(IBodyProducer)
class _SynchronousProducer:
    """An IBodyProducer that writes all of its bytes when asked to start."""

    def __init__(self, body: bytes | str) -> None:
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.length = len(self.body)

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:  # noqa: N802
        consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:  # noqa: N802
        pass

    def resumeProducing(self) -> None:  # noqa: N802
        pass

    def stopProducing(self) -> None:  # noqa: N802
        pass
