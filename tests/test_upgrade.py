"""Protocol upgrade through the real channel (RFC 9110 §7.8): the 101, the hand-over of the
transport and of bytes already read, what is refused, and the HTTP timers stopping."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_http import IRequestHandler, Request, Response, Router, ServerConfig
from twisted_http.handlers.echo import EchoResource
from twisted_http.testing import FakeConnection, WebSocketClient

from .support import log_access, recorded_log

UPGRADE = (b"GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: shout/2, other\r\n"
           b"Connection: keep-alive, Upgrade\r\n\r\n")


class Shout(Protocol):
    """The protocol switched to: answers every byte in upper case, and records its life."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.lost: Failure | None = None
        self.made = False

    def connectionMade(self) -> None:
        self.made = True

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)
        assert self.transport is not None
        self.transport.write(data.upper())

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost = reason


@implementer(IRequestHandler)
class Upgrader:
    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.protocols: list[Shout] = []
        self.results: list[bool] = []
        self.headers = headers if headers is not None else [(b"X-Shout", b"yes")]

    def handle(self, request: Request, response: Response) -> bool:
        protocol = Shout()
        self.protocols.append(protocol)
        self.results.append(response.switch_protocols(protocol, b"shout", self.headers))
        return True


def connection(**config: Any) -> tuple[FakeConnection, Upgrader]:
    handler = Upgrader()
    clock = Clock()
    conn = FakeConnection(Router([("/up", handler)]), ServerConfig(**config), clock=clock)
    return conn, handler


def test_switching_protocols_hands_over_the_connection() -> None:
    conn, handler = connection()
    conn.send(UPGRADE)
    head, _, rest = conn.read().partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 101 Switching Protocols"
    assert {b"Connection: Upgrade", b"Upgrade: shout", b"X-Shout: yes"} <= set(lines)
    assert not any(line.lower().startswith(b"content-length") for line in lines)
    assert rest == b""
    [protocol] = handler.protocols
    assert handler.results == [True] and protocol.made
    assert protocol.received == []  # nothing, not even an empty read, before the client speaks
    assert protocol.transport is conn.transport
    conn.send(b"hello")
    assert conn.read() == b"HELLO"
    assert conn.transport.producer is None  # the channel's write flow let go of it


def test_bytes_after_the_request_go_to_the_new_protocol_not_to_http() -> None:
    """Pipelined bytes, even a whole HTTP request, belong to the protocol switched to."""
    conn, handler = connection()
    conn.send(UPGRADE + b"GET /up HTTP/1.1\r\nHost: x\r\n\r\nraw")
    assert handler.protocols[0].received == [b"GET /up HTTP/1.1\r\nHost: x\r\n\r\nraw"]
    assert len(handler.protocols) == 1
    assert conn.read().endswith(b"\r\n\r\nGET /UP HTTP/1.1\r\nHOST: X\r\n\r\nRAW")


def test_switching_works_byte_by_byte() -> None:
    conn, handler = connection()
    conn.send_bytewise(UPGRADE + b"ab")
    assert b"".join(handler.protocols[0].received) == b"ab"


@pytest.mark.parametrize(("request_bytes", "detail"), [
    (UPGRADE.replace(b"HTTP/1.1", b"HTTP/1.0"), b"Only an HTTP/1.1 request"),
    (UPGRADE.replace(b"shout/2, other", b"other"), b"did not ask"),
    (UPGRADE.replace(b"keep-alive, Upgrade", b"keep-alive"), b"did not ask"),
    (UPGRADE.replace(b"\r\n\r\n", b"\r\nContent-Length: 2\r\n\r\nab"), b"must not have a body"),
    (UPGRADE.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
     b"must not have a body"),
])
def test_upgrades_that_cannot_be_done_safely_are_refused(request_bytes: bytes,
                                                         detail: bytes) -> None:
    conn, handler = connection()
    conn.send(request_bytes + b"GET /up HTTP/1.1\r\nHost: x\r\n\r\n")
    [response] = conn.responses()
    assert response.status == 400 and detail in response.body
    assert response.header(b"connection") == b"close" and conn.closed
    assert handler.results == [False] and not handler.protocols[0].made


def test_http_timers_stop_at_the_switch() -> None:
    """No keep-alive, head or write timeout of the channel ends an upgraded connection."""
    conn, handler = connection(keep_alive_timeout=5, head_timeout=5, write_timeout=5,
                               first_request_timeout=5)
    conn.send(UPGRADE)
    conn.clock.advance(3600)
    assert not conn.closed and conn.clock.getDelayedCalls() == []
    conn.send(b"still here")
    assert conn.read().endswith(b"STILL HERE")


def test_a_later_upgrade_behind_a_client_that_is_not_reading() -> None:
    """Upgrading from a callback while the client is behind: the write deadline that was
    running is the channel's, and stops; the bytes read meanwhile are handed over."""
    responses: list[Response] = []

    @implementer(IRequestHandler)
    class Later:
        def handle(self, request: Request, response: Response) -> bool:
            responses.append(response)
            return True

    conn = FakeConnection(Router([("/up", Later())]), ServerConfig(write_timeout=5),
                          clock=Clock())
    conn.send(UPGRADE + b"early")
    conn.block_writes()
    assert conn.clock.getDelayedCalls()  # the write deadline runs
    protocol = Shout()
    assert responses[0].switch_protocols(protocol, b"shout")
    assert protocol.received == [b"early"]
    conn.clock.advance(60)
    assert not conn.transport.disconnecting and not conn.clock.getDelayedCalls()
    assert not conn.socket_paused  # reading was handed over resumed


def test_the_new_protocol_learns_of_the_end() -> None:
    conn, handler = connection()
    conn.send(UPGRADE)
    conn.lose()
    assert handler.protocols[0].lost is not None


def test_a_half_close_closes_a_protocol_that_cannot_half_close() -> None:
    conn, _ = connection()
    conn.send(UPGRADE)
    conn.half_close()
    assert conn.closed


def test_headers_of_the_101_are_checked() -> None:
    """A hop-by-hop field from the handler is a handler bug: 500, nothing switched."""
    handler = Upgrader(headers=[(b"Transfer-Encoding", b"chunked")])
    conn = FakeConnection(Router([("/up", handler)]))
    with recorded_log():
        conn.send(UPGRADE)
    [response] = conn.responses()
    assert response.status == 500 and not handler.protocols[0].made


def test_upgrade_after_a_response_started_is_a_bug() -> None:
    @implementer(IRequestHandler)
    class Late:
        def handle(self, request: Request, response: Response) -> bool:
            response.start(200)
            response.switch_protocols(Shout(), b"shout")
            return True

    conn = FakeConnection(Router([("/up", Late())]))
    with recorded_log() as events:
        conn.send(UPGRADE)
    assert any("Handler failed" in str(event.get("log_format")) for event in events)
    assert conn.closed


def test_the_switch_is_logged_as_a_101() -> None:
    conn, _ = connection()
    access_log = log_access(conn)
    with recorded_log() as events:
        conn.send(UPGRADE)
        access_log.flush()
    assert [event["access_line"].split('" ')[1].split()[0] for event in events
            if "access_line" in event] == ["101"]


# -- WebSocket end to end through the testing kit -----------------------------------------


def websocket(**options: Any) -> tuple[FakeConnection, WebSocketClient]:
    clock = Clock()
    conn = FakeConnection(Router([("/echo", EchoResource(clock=clock, **options))]),
                          clock=clock)
    return conn, WebSocketClient(conn, "/echo")


def test_websocket_echo_end_to_end() -> None:
    conn, ws = websocket()
    assert ws.accepted and ws.status == 101
    ws.send("hello")
    ws.send(b"\x00\x01")
    ws.send_fragments(["a", "b", "c"])
    assert ws.messages() == ["hello", b"\x00\x01", "abc"]
    ws.close(1000, "bye")
    assert ws.close_code == 1000 and conn.closed


def test_websocket_timers_run_on_the_servers_clock() -> None:
    conn, ws = websocket(ping_interval=10, pong_timeout=10, idle_timeout=25)
    conn.clock.advance(10)
    assert [type(event).__name__ for event in ws.events()] == ["Ping"]  # answered
    conn.clock.advance(14.9)
    ws.events()
    assert ws.close_code is None
    conn.clock.advance(0.1)
    ws.events()
    assert ws.close_code == 1001 and ws.close_reason == "idle timeout"


def test_a_drain_closes_websockets_with_1001_and_ends_when_they_have() -> None:
    """A server stopping says 1001 going away to its WebSocket clients at once, and the
    drain ends with the close handshake, not at --shutdown-timeout with a 1006 cut."""
    conn, ws = websocket()
    done = conn.factory.drain()
    ws.events()
    assert ws.close_code == 1001  # the client answered the close as it read it
    assert conn.closed
    conn.channel.connectionLost(Failure(ConnectionDone()))
    assert done.called


def test_a_websocket_opened_in_a_drains_grace_is_closed_with_1001_at_once() -> None:
    """A connection accepted just before a drain may still send its first request; if
    that opens a WebSocket, it learns of the drain as soon as it is open."""
    clock = Clock()
    conn = FakeConnection(Router([("/echo", EchoResource(clock=clock))]), clock=clock)
    conn.factory.drain()  # fresh: the channel waits a second for its first request
    ws = WebSocketClient(conn, "/echo")
    assert ws.accepted
    ws.events()
    assert ws.close_code == 1001 and conn.closed


def test_a_refused_websocket_handshake() -> None:
    clock = Clock()
    echo = EchoResource(clock=clock, origins=["https://a.example"])
    conn = FakeConnection(Router([("/echo", echo)]), clock=clock)
    ws = WebSocketClient(conn, "/echo", headers=[(b"Origin", b"https://b.example")])
    assert not ws.accepted and ws.status == 403 and b"origin" in ws.rejection_body


def test_a_wsgi_app_cannot_upgrade() -> None:
    """PEP 3333 has no way to take a connection over: an app's Upgrade header is refused
    like any hop-by-hop field, and the upgrade request was an ordinary request to it."""
    from twisted_http import WSGIHandler
    from twisted_http.testing import InlineReactor, InlineThreadPool

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        assert environ["HTTP_UPGRADE"] == "shout/2, other"
        start_response("101 Switching Protocols", [("Upgrade", "shout"),
                                                   ("Connection", "Upgrade")])
        return [b""]

    reactor = InlineReactor()
    handler = WSGIHandler(app, thread_pool=InlineThreadPool(), reactor=reactor)
    conn = FakeConnection(Router([("/", handler)]), clock=reactor)
    with recorded_log():
        conn.send(UPGRADE)
    assert conn.responses()[0].status == 500


def test_the_docs_chat_example_runs() -> None:
    """docs/extending.md's ChatHandler and its test, as printed there, work."""
    import re
    from pathlib import Path

    page = (Path(__file__).parent.parent / "docs" / "extending.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    [handler] = [block for block in blocks if "class ChatHandler" in block]
    [test] = [block for block in blocks if "def test_chat_echo" in block]
    namespace: dict[str, Any] = {}
    exec(compile(handler + "\n" + test, "docs/extending.md", "exec"), namespace)
    namespace["test_chat_echo"]()
