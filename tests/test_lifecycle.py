"""The graceful drain on fakes: the channel's part, the Server's, the health check, sd_notify,
the signals that start and cut a drain, and recycling's limits."""

from __future__ import annotations

import os
import random
import signal
import socket
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import Service
from twisted.internet.defer import succeed
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent

from twisted_http import HTTPFactory, Router
from twisted_http.channel.protocol import DRAIN_GRACE
from twisted_http.edge.accesslog import CommonFormat
from twisted_http.edge.health import HealthCheck
from twisted_http.edge.logfile import AccessLog
from twisted_http.serve.lifecycle import RequestCounter, Server, notify, stop_on_signals
from twisted_http.serve.listeners import stop_listening
from twisted_http.serve.worker import RECYCLE, recycle_limit, recycle_when_served
from twisted_http.testing import CLIENT_ADDRESS, SERVER_ADDRESS, FakeConnection

from .handlers import Fixed, Held
from .support import MemorySink, recorded_log

GET = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"


def connect(factory: HTTPFactory) -> tuple[Any, StringTransport]:
    channel = factory.buildProtocol(CLIENT_ADDRESS)
    transport = StringTransport(hostAddress=SERVER_ADDRESS, peerAddress=CLIENT_ADDRESS)
    channel.makeConnection(transport)
    return channel, transport


# -- the channel's part (the rest is in test_server_seams.py) --------------------------------


def test_a_connection_just_accepted_gets_a_moment_for_its_first_request() -> None:
    """A client that has just connected is sending its first request: it is answered, with
    Connection: close; one that sends nothing is closed after the grace. (Closed at once,
    a SIGHUP under load failed a request of a client that had just connected.)"""
    clock = Clock()
    factory = HTTPFactory(Router([(b"/", Fixed())]), clock=clock)
    talking, talking_transport = connect(factory)
    silent, silent_transport = connect(factory)
    factory.drain()
    assert not talking_transport.disconnecting and not silent_transport.disconnecting
    talking.dataReceived(GET)
    assert b"Connection: close" in talking_transport.value() and talking_transport.disconnecting
    clock.advance(DRAIN_GRACE - 0.01)
    assert not silent_transport.disconnecting
    clock.advance(0.01)
    assert silent_transport.disconnecting and silent_transport.value() == b""


def test_a_request_arriving_on_a_draining_server_is_answered_with_close() -> None:
    """A head that was on its way when the drain began is answered, then the connection
    closes."""
    conn = FakeConnection(Fixed())
    conn.send(b"GET / HTTP/1.1\r\n")
    conn.factory.drain()
    assert not conn.closed
    conn.send(b"Host: a\r\n\r\n")
    [response] = conn.responses()
    assert response.header(b"connection") == b"close" and conn.closed


# -- the Server -------------------------------------------------------------------------------


class Port(Service):
    """A listening port's service: listens while running."""

    listening = False

    def startService(self) -> None:
        super().startService()
        self.listening = True

    def stopService(self) -> Any:
        super().stopService()
        self.listening = False
        return succeed(None)


def server(clock: Clock, held: Held, timeout: float = 30.0,
           delay: float = 0.0) -> tuple[Server, Port, list[str]]:
    counter = RequestCounter()
    health = HealthCheck(b"/healthz")
    factory = HTTPFactory(Router([(b"/healthz", health), (b"/", held)]), clock=clock,
                          observers=(counter,))
    port = Port()
    said: list[str] = []
    service = Server(factory, [port], clock, counter=counter, shutdown_timeout=timeout,
                     shutdown_delay=delay, health=health,
                     on_ready=lambda: said.append("READY=1"),
                     on_drain=lambda: said.append("STOPPING=1"))
    service.privilegedStartService()
    service.startService()
    assert port.listening
    return service, port, said


def test_server_drains_then_reports_what_it_finished() -> None:
    """Stopping closes the ports at once and fires once the last connection has closed;
    the log says how many requests the drain finished and how long it took."""
    clock, held = Clock(), Held()
    service, port, said = server(clock, held)
    assert said == ["READY=1"]
    channel, transport = connect(service.factory)
    channel.dataReceived(GET)
    with recorded_log() as events:
        done = service.stopService()
        assert not port.listening and said == ["READY=1", "STOPPING=1"]
        clock.advance(5)
        assert not done.called
        held.pending[0][1].send(200, b"ok")
        assert not done.called
        channel.connectionLost()
    assert done.called and service.served == 1
    text = [formatEvent(event) for event in events]
    assert "minihttp draining: ports closed, 1 connections open" in text
    assert "minihttp drained 1 requests in 5.0s" in text


def test_server_cuts_what_still_runs_at_the_shutdown_timeout() -> None:
    clock, held = Clock(), Held()
    service, _, _ = server(clock, held, timeout=3)
    channel, transport = connect(service.factory)
    channel.dataReceived(GET)
    with recorded_log() as events:
        done = service.stopService()
        clock.advance(2.9)
        assert not done.called
        clock.advance(0.1)
    assert done.called and transport.disconnecting
    text = [formatEvent(event) for event in events]
    assert "minihttp drain cut short after 3.0s: 0 requests finished, 1 connections cut" in text


def test_cut_ends_a_drain_at_once() -> None:
    """A second SIGTERM: the drain ends now, whatever is still running."""
    clock, held = Clock(), Held()
    service, _, _ = server(clock, held)
    channel, transport = connect(service.factory)
    channel.dataReceived(GET)
    with recorded_log():
        done = service.stopService()
        service.cut()
    assert done.called and transport.disconnecting


def test_a_shutdown_delay_keeps_serving_with_the_health_check_at_503() -> None:
    """--shutdown-delay: from SIGTERM the health check says 503 and STOPPING=1 is sent, but
    the ports stay open and requests are served as usual (keep-alive too) until the delay
    ends; then the ports close and the drain goes on as without it."""
    clock, held = Clock(), Held()
    service, port, said = server(clock, held, delay=5)
    with recorded_log() as events:
        done = service.stopService()
        assert said[-1] == "STOPPING=1" and port.listening
        channel, transport = connect(service.factory)
        channel.dataReceived(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert transport.value().startswith(b"HTTP/1.1 503 ")
        channel.dataReceived(GET)
        held.pending[0][1].send(200, b"ok")
        assert b"Connection: close" not in transport.value()  # served as usual: kept alive
        clock.advance(4.9)
        assert port.listening and not transport.disconnecting
        clock.advance(0.1)
        assert not port.listening and transport.disconnecting  # idle: closed by the drain
        channel.connectionLost()
    assert done.called
    text = [formatEvent(event) for event in events]
    assert "minihttp stopping: ports close in 5s; meanwhile the health check says 503" in text
    assert "minihttp drained 2 requests in 5.0s" in text


def test_a_cut_during_the_shutdown_delay_closes_the_ports_too() -> None:
    """A second SIGTERM while the delay runs: the ports close and the drain ends now."""
    clock, held = Clock(), Held()
    service, port, _ = server(clock, held, delay=5)
    with recorded_log():
        done = service.stopService()
        service.cut()
    assert done.called and not port.listening
    clock.advance(5)  # the delayed close, cancelled, does nothing more
    assert not port.listening


def test_the_shutdown_timeout_counts_the_delay() -> None:
    """The delay is part of --shutdown-timeout: a request still running at the timeout is
    cut there, not delay seconds later."""
    clock, held = Clock(), Held()
    service, port, _ = server(clock, held, timeout=8, delay=5)
    channel, transport = connect(service.factory)
    channel.dataReceived(GET)
    with recorded_log():
        done = service.stopService()
        clock.advance(7.9)
        assert not done.called and not port.listening
        clock.advance(0.1)
    assert done.called and transport.disconnecting


# -- the health check -------------------------------------------------------------------------


def test_health_says_serving_then_draining_and_is_never_logged() -> None:
    """200 while serving, 503 once draining; no access-log line; the app behind never sees
    it; a path below it is a 404, not the app's."""
    app, health = Fixed(body=b"app"), HealthCheck(b"/healthz")
    conn = FakeConnection(Router([(b"/healthz", health), (b"/", app)]))
    sink = MemorySink()
    access_log = AccessLog(sink, CommonFormat(), conn.clock)
    conn.factory.observers = (access_log,)
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    health.draining = True
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    conn.send(b"GET /healthz/x HTTP/1.1\r\nHost: a\r\n\r\n")
    conn.send(b"GET /other HTTP/1.1\r\nHost: a\r\n\r\n")
    access_log.flush()
    statuses = [(response.status, response.body) for response in conn.responses()]
    assert statuses[:2] == [(200, b"serving\n"), (503, b"draining\n")]
    assert statuses[2][0] == 404 and statuses[3] == (200, b"app")
    assert app.count == 1
    [lines] = sink.writes
    assert [line.split(" ", 5)[5] for line in lines] == ['"GET /other HTTP/1.1" 200 3\n']


def test_health_option_mounts_it_before_the_apps(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from twisted_http.serve.tap import make_site

    from .support import parse

    (tmp_path / "static").mkdir()
    monkeypatch.chdir(tmp_path)
    site = make_site(parse("--health", "/healthz"), Clock())
    assert site.health is not None and site.health.path == b"/healthz"
    assert site.factory.router.route(b"/healthz").handlers == (site.health,)


# -- sd_notify --------------------------------------------------------------------------------


def test_notify_sends_one_datagram_to_the_notify_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(path)
        assert notify("READY=1", {"NOTIFY_SOCKET": path})
        assert systemd.recv(100) == b"READY=1"
    assert not notify("READY=1", {})
    with recorded_log() as events:
        assert not notify("READY=1", {"NOTIFY_SOCKET": path + "-gone"})
    assert "Could not notify systemd" in formatEvent(events[0])


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"minihttp-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind("\0" + name)
        assert notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        assert systemd.recv(100) == b"STOPPING=1"


# -- signals and recycling --------------------------------------------------------------------


class SignalReactor:
    """What stop_on_signals uses of a reactor: stop, callFromThread, _exitSignal."""

    def __init__(self) -> None:
        self.stops = 0
        self._exitSignal: int | None = None

    def stop(self) -> None:
        self.stops += 1

    def callFromThread(self, f: Any, *args: Any) -> None:  # noqa: N802 - Twisted's name
        f(*args)


def test_the_first_signal_stops_the_reactor_and_a_second_cuts_the_drain() -> None:
    """The first SIGTERM stops the reactor (services drain, exit status 0); the second
    cuts the drain and leaves the signal as the exit status, so it is not 0."""
    reactor, cuts = SignalReactor(), []
    before = signal.getsignal(signal.SIGUSR2)
    try:
        with recorded_log() as events:
            stop_on_signals(reactor, lambda: cuts.append(1), (signal.SIGUSR2,))
            signal.raise_signal(signal.SIGUSR2)
            assert reactor.stops == 1 and cuts == [] and reactor._exitSignal is None
            signal.raise_signal(signal.SIGUSR2)
    finally:
        signal.signal(signal.SIGUSR2, before)
    assert reactor.stops == 1 and cuts == [1] and reactor._exitSignal == signal.SIGUSR2
    assert [formatEvent(event) for event in events] == [
        "Received SIGUSR2: draining, then stopping",
        "Received SIGUSR2 again: cutting the drain short"]


def test_max_requests_jitter_gives_each_worker_its_own_limit() -> None:
    """--max-requests 100 --max-requests-jitter 10: each worker draws 100 to 110."""
    draw = random.Random(11).randint
    limits = {recycle_limit(100, 10, draw) for _ in range(200)}
    assert limits == set(range(100, 111))
    assert recycle_limit(100, 0) == 100


def test_a_worker_asks_once_to_be_recycled_when_it_has_served_its_limit() -> None:
    counter = RequestCounter()
    check = recycle_when_served(counter, 3)  # type: ignore[arg-type]  # has .served
    with recorded_log() as events:
        counter.served = 2
        check()
        assert events == []
        counter.served = 3
        check()
        counter.served = 4
        check()
    assert [event.get("minihttp_worker") for event in events] == [RECYCLE]



# -- closing a listening port ------------------------------------------------------------------


def test_a_stopping_port_accepts_what_the_kernel_queued_then_closes_at_once() -> None:
    """Three clients connected (the kernel completed their handshakes) but not accepted yet:
    stopping the port accepts all three, so the drain answers them instead of the kernel
    resetting them, and closes the socket now, so the next client is refused."""
    from twisted.internet.pollreactor import PollReactor

    reactor = PollReactor()  # a reactor of its own that never runs: accept is synchronous
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)  # as adoptStreamPort requires
    address = listener.getsockname()
    accepted: list[Protocol] = []

    class Accepted(Protocol):
        def connectionMade(self) -> None:  # noqa: N802 - Twisted's name
            accepted.append(self)

    port = reactor.adoptStreamPort(listener.fileno(), socket.AF_INET,
                                   Factory.forProtocol(Accepted))
    listener.close()
    clients = [socket.create_connection(address, timeout=5) for _ in range(3)]
    try:
        stop_listening(port)
        assert len(accepted) == 3
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=5).close()
    finally:
        for protocol in accepted:
            protocol.transport.socket.close()  # type: ignore[union-attr]
        for client in clients:
            client.close()
        reactor.waker.connectionLost(None)
