"""The channel's seams: it sees its server only as an IServer, reports connections and
responses there, drains on request, and reads on its own buffer, led by the parser."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_http import HTTPChannel, HTTPFactory, Request, Response, Router, ServerConfig
from twisted_http.channel.interfaces import IConnection, IResponseObserver, IServer
from twisted_http.channel.routing import Mount
from twisted_http.testing import CLIENT_ADDRESS, FakeConnection, parse_responses

from .handlers import Calls, Declines, Fixed, Held
from .support import recorded_log

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
QUIET = ServerConfig(access_log=False)
DONE = Failure(ConnectionDone())


@implementer(IServer)
class RecordingServer:
    """The narrowest server a channel can run on: what IServer names, recorded."""

    def __init__(self, router: Router) -> None:
        self.config = QUIET
        self.router = router
        self.clock = Clock()
        self.forwarded = None
        self.events: list[tuple[str, Any]] = []

    def head_defaults(self, date: bool, server: bool) -> bytes:
        return b"Server: test\r\n" if server else b""

    def connection_opened(self, connection: IConnection) -> None:
        self.events.append(("opened", connection))

    def connection_closed(self, connection: IConnection) -> None:
        self.events.append(("closed", connection))

    def response_completed(
        self, request: Request | None, response: Response, started: float
    ) -> None:
        self.events.append(("response", (request, response.status, response.finished, started)))


@implementer(IResponseObserver)
class Observed:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes | None, int, bool]] = []

    def response_completed(
        self, request: Request | None, response: Response, started: float
    ) -> None:
        self.seen.append((request.target if request else None, response.status,
                          response.finished))


def connect(server: Any) -> tuple[HTTPChannel, StringTransport]:
    channel = HTTPChannel(server)
    transport = StringTransport()
    channel.makeConnection(transport)
    return channel, transport


def test_the_factory_provides_iserver_and_a_channel_runs_on_any_iserver() -> None:
    """A channel needs nothing of its server beyond IServer, and reports to it."""
    verifyObject(IServer, HTTPFactory(Router(), QUIET))
    server = RecordingServer(Router([("/", Fixed(body=b"hi"))]))
    server.clock.advance(7)
    channel, transport = connect(server)
    verifyObject(IConnection, channel)
    channel.dataReceived(GET)
    [response] = parse_responses(transport.value())
    assert (response.status, response.body, response.header(b"server")) == (200, b"hi", b"test")
    channel.connectionLost(DONE)
    kinds = [kind for kind, _ in server.events]
    assert kinds == ["opened", "response", "closed"]
    request, status, finished, started = server.events[1][1]
    assert (request.target, status, finished, started) == (b"/", 200, True, 7.0)
    assert server.events[0][1] is channel and server.events[2][1] is channel


def test_the_channel_neither_holds_nor_is_held_by_the_factory_class() -> None:
    """No factory back-reference: the channel's only link to its server is IServer."""
    factory = HTTPFactory(Router([("/", Fixed())]), QUIET)
    channel = factory.buildProtocol(CLIENT_ADDRESS)
    assert channel.factory is None
    assert [value for value in vars(channel).values() if value is factory] == [factory]


def test_connections_are_counted_by_the_servers_methods() -> None:
    """open_connections follows connection_opened/closed and cannot be set by others."""
    factory = HTTPFactory(Router([("/", Fixed())]), QUIET, clock=Clock())
    first, _ = connect(factory)
    second, _ = connect(factory)
    assert factory.open_connections == 2
    first.connectionLost(DONE)
    first.connectionLost(DONE)  # twice: still counted once
    assert factory.open_connections == 1
    with pytest.raises(AttributeError):
        factory.open_connections = 5  # type: ignore[misc]


# -- observers -----------------------------------------------------------------


def test_observers_see_every_response_once_including_refusals_and_cut_offs() -> None:
    """A finished response, a 400 before any head, and a response cut off mid-way."""
    observer = Observed()
    held = Held()
    factory = HTTPFactory(Router([("/held", held), ("/", Fixed())]), QUIET, Clock(), (observer,))
    channel, _ = connect(factory)
    channel.dataReceived(GET)
    channel.dataReceived(b"GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
    _, response = held.pending[0]
    response.start(200)
    response.write(b"part")
    channel.connectionLost(DONE)
    bad, _ = connect(factory)
    bad.dataReceived(b"NONSENSE\r\n\r\n")
    assert observer.seen == [(b"/", 200, True), (b"/held", 200, False), (None, 400, True)]


@implementer(IResponseObserver)
class Broken:
    def response_completed(
        self, request: Request | None, response: Response, started: float
    ) -> None:
        raise ValueError("I/O operation on closed file")


def test_an_observer_that_raises_is_logged_and_harms_neither_the_connection_nor_the_others(
) -> None:
    """Two pipelined requests are both answered, the observer after the broken one sees
    both, and the failure is logged: a broken log must not stall keep-alive clients."""
    observer = Observed()
    factory = HTTPFactory(Router([("/", Fixed())]), QUIET, Clock(), (Broken(), observer))
    with recorded_log() as events:
        channel, transport = connect(factory)
        channel.dataReceived(GET + GET)
    assert [r.status for r in parse_responses(transport.value())] == [200, 200]
    assert observer.seen == [(b"/", 200, True), (b"/", 200, True)]
    assert not transport.disconnecting
    assert [e for e in events if e.get("log_failure")]


def test_the_factory_logs_nothing_itself() -> None:
    """One access log path: the factory only tells its observers (serve/ gives it the
    access log); a response makes no twisted.logger event of its own."""
    observer = Observed()
    factory = HTTPFactory(Router([("/", Fixed())]), ServerConfig(), Clock(), (observer,))
    assert factory.observers == (observer,)
    with recorded_log() as events:
        connect(factory)[0].dataReceived(GET)
    assert observer.seen == [(b"/", 200, True)] and events == []


# -- draining --------------------------------------------------------------------


def test_drain_closes_idle_connections_at_once_and_busy_ones_after_their_response() -> None:
    """Idle: closed now. In flight: Connection: close, then closed. Fires when all are gone."""
    held = Held()
    factory = HTTPFactory(Router([("/", held)]), QUIET, clock=Clock())
    idle, idle_transport = connect(factory)
    idle.dataReceived(GET)
    held.pending.pop()[1].send(200, b"first")  # answered and kept alive: idle now
    busy, busy_transport = connect(factory)
    busy.dataReceived(GET)
    done = factory.drain()
    assert idle_transport.disconnecting and not busy_transport.disconnecting
    idle.connectionLost(DONE)
    assert not done.called
    held.pending[0][1].send(200, b"last")
    [response] = parse_responses(busy_transport.value())
    assert response.header(b"connection") == b"close" and busy_transport.disconnecting
    busy.connectionLost(DONE)
    assert done.called


def test_while_draining_new_connections_get_503_and_pipelined_requests_are_not_read() -> None:
    """A connection made during a drain is turned away; a keep-alive one reads no more."""
    factory = HTTPFactory(Router([("/", Fixed())]), QUIET, clock=Clock())
    channel, transport = connect(factory)
    channel.dataReceived(GET)  # answered and kept alive: idle now
    factory.drain()
    late = factory.buildProtocol(CLIENT_ADDRESS)
    late_transport = StringTransport()
    late.makeConnection(late_transport)
    [refused] = parse_responses(late_transport.value())
    assert refused.status == 503 and late_transport.disconnecting
    assert transport.disconnecting  # it was idle
    assert factory.open_connections == 1  # until its connectionLost


def test_drain_with_no_connections_fires_at_once_and_abort_all_drops_stragglers() -> None:
    held = Held()
    factory = HTTPFactory(Router([("/", held)]), QUIET, clock=Clock())
    assert factory.drain().called
    factory = HTTPFactory(Router([("/", held)]), QUIET, clock=Clock())
    channel, transport = connect(factory)
    channel.dataReceived(GET)
    factory.drain()
    factory.abort_all()
    assert transport.disconnecting  # StringTransport's abortConnection


# -- the router's chain ------------------------------------------------------------


def test_the_first_handler_that_accepts_answers_and_the_rest_are_not_asked() -> None:
    declines, first, second = Declines(), Fixed(body=b"first"), Fixed(body=b"second")
    router = Router([("/", declines), ("/", first), ("/", second)])
    mount = router.route(b"/x")
    assert isinstance(mount, Mount) and mount.handlers == (declines, first, second)
    conn = FakeConnection(router, QUIET)
    conn.send(GET)
    assert conn.responses()[0].body == b"first"
    assert (declines.asked, first.count, second.count) == (1, 1, 0)


def test_when_no_handler_accepts_the_answer_is_404_and_options_star_is_200() -> None:
    conn = FakeConnection(Router([("/app", Fixed())]), QUIET)
    conn.send(GET)
    conn.send(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [r.status for r in conn.responses()] == [404, 200]
    assert Router().route(b"/").handlers == ()


# -- the reader --------------------------------------------------------------------


LINE_RECEIVER_PRIVATES = {"_buffer", "_busyReceiving", "line_mode", "paused", "MAX_LENGTH"}


def test_the_reader_never_touches_line_receivers_own_state() -> None:
    """Whole heads, byte-at-a-time heads, chunked bodies and pipelining: the read loop
    runs on the channel's own buffer and the parser's mode, never on LineReceiver's."""
    conn = FakeConnection(Router([("/", Fixed())]), QUIET)
    conn.send(GET + GET)
    conn.send_bytewise(GET)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3\r\nabc\r\n0\r\n\r\n")
    assert [r.status for r in conn.responses()] == [200] * 4
    assert not LINE_RECEIVER_PRIVATES & set(vars(conn.channel))


# -- protocol upgrade ------------------------------------------------------------------


class Echo(Protocol):
    """What a WebSocket handler would hand the connection to: here, an echo."""

    def __init__(self) -> None:
        self.lost: list[Failure] = []

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data.upper())

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost.append(reason)


UPGRADE = b"GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n"


def test_a_handler_may_answer_101_and_hand_the_connection_to_another_protocol() -> None:
    """101 with the handler's fields, then every byte (those sent early too) is the new
    protocol's, on the same transport; the server counts the connection till it closes."""
    echo = Echo()
    observer = Observed()

    def switch(request: Request, response: Response) -> None:
        response.switch_protocols(echo, b"echo", [(b"X-Echo", b"yes")])

    factory = HTTPFactory(Router([("/echo", Calls(switch))]), QUIET, Clock(), (observer,))
    channel, transport = connect(factory)
    channel.dataReceived(UPGRADE + b"early")
    head, _, rest = transport.value().partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"\r\nUpgrade: echo\r\nConnection: Upgrade" in head and b"\r\nX-Echo: yes" in head
    assert rest == b"EARLY" and echo.transport is transport
    channel.dataReceived(b"later")
    factory.clock.advance(3600)  # no HTTP timer is left to close it
    assert transport.value().endswith(b"EARLYLATER") and not transport.disconnecting
    assert observer.seen == [(b"/echo", 101, True)]
    assert factory.open_connections == 1
    channel.connectionLost(DONE)
    assert len(echo.lost) == 1 and factory.open_connections == 0


def test_switching_protocols_with_a_body_is_refused() -> None:
    """The body's bytes would otherwise reach the new protocol as its own: the server
    answers 400 and closes, and the handler learns it did not switch (channel/upgrade.py)."""
    switched: list[bool] = []

    def switch(request: Request, response: Response) -> None:
        switched.append(response.switch_protocols(Echo(), b"echo"))

    conn = FakeConnection(Router([("/", Calls(switch))]), QUIET)
    conn.request(b"POST", b"/", [(b"Upgrade", b"echo"), (b"Connection", b"upgrade")],
                 body=b"abc")
    [response] = conn.responses()
    assert switched == [False] and response.status == 400 and conn.closed
    assert b"must not have a body" in response.body
