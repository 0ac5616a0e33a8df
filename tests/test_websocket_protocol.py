"""The WebSocket connection after the upgrade, on StringTransport and Clock: messages both
ways, fragments, close codes and the handshake's end, every limit and timer at its edge,
and backpressure from a client that stops reading."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    TextMessage,
)

from twisted_http.handlers.websocket import WebSocketHandler
from twisted_http.handlers.wsprotocol import WebSocketLimits, WebSocketProtocol


class Recorder(WebSocketHandler):
    """Echoes, and records every callback."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []

    def on_open(self) -> None:
        self.calls.append(("open",))

    def on_message(self, message: str | bytes) -> None:
        self.calls.append(("message", message))
        if message == "boom":
            raise RuntimeError("handler bug")
        if message == "bye":
            self.close(4000, "asked to")
        else:
            self.send(message)

    def on_close(self, code: int, reason: str) -> None:
        self.calls.append(("close", code, reason))

    def on_pause_writing(self) -> None:
        self.calls.append(("pause",))

    def on_resume_writing(self) -> None:
        self.calls.append(("resume",))


class Peer:
    """A WebSocket client (wsproto) wired to a server protocol over StringTransport."""

    def __init__(self, **limits: Any) -> None:
        self.clock = Clock()
        self.handler = Recorder()
        self.protocol = WebSocketProtocol(self.handler, WebSocketLimits(**limits), self.clock)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.client = Connection(ConnectionType.CLIENT)

    def send(self, *events: Event) -> None:
        self.protocol.dataReceived(b"".join(self.client.send(event) for event in events))

    def send_raw(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def receive(self) -> list[Event]:
        data = self.transport.value()
        self.transport.clear()
        self.client.receive_data(data)
        return list(self.client.events())

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)

    @property
    def aborted(self) -> bool:
        return bool(getattr(self.transport, "disconnected", False))

    def lose(self) -> None:
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        self.protocol.connectionLost(Failure(ConnectionDone()))


def aborts_after(peer: Peer, seconds: float) -> None:
    """The connection is dropped exactly ``seconds`` from now, not a moment before."""
    peer.clock.advance(seconds - 0.1)
    assert not peer.aborted
    peer.clock.advance(0.1)
    assert peer.aborted


def messages(events: list[Event]) -> list[str | bytes]:
    return [event.data for event in events if isinstance(event, Message)]


def test_messages_both_ways() -> None:
    peer = Peer()
    assert peer.handler.calls == [("open",)]
    peer.send(TextMessage("hello"), BytesMessage(b"\x00\xff"))
    assert messages(peer.receive()) == ["hello", b"\x00\xff"]


def test_fragmented_messages_arrive_whole() -> None:
    """Fragments, split anywhere, even inside a UTF-8 character, make one message."""
    peer = Peer()
    frames = b"".join([
        peer.client.send(TextMessage("h\u00e9", message_finished=False)),
        peer.client.send(TextMessage("llo \u2603", message_finished=False)),
        peer.client.send(TextMessage("!", message_finished=True)),
    ])
    for index in range(len(frames)):
        peer.send_raw(frames[index:index + 1])
    assert peer.handler.calls[1:] == [("message", "h\u00e9llo \u2603!")]


def test_client_close_is_answered_and_tcp_closed() -> None:
    peer = Peer()
    peer.send(CloseConnection(1000, "done"))
    [event] = peer.receive()
    assert isinstance(event, CloseConnection) and event.code == 1000
    assert peer.closed
    peer.lose()
    assert peer.handler.calls[-1] == ("close", 1000, "done")


def test_server_close_waits_for_the_peer_then_drops_it() -> None:
    """The handler closes: a close frame goes out; no answer in close_timeout drops TCP."""
    peer = Peer(close_timeout=5)
    peer.send(TextMessage("bye"))
    [event] = peer.receive()
    assert isinstance(event, CloseConnection) and (event.code, event.reason) == (4000, "asked to")
    # The client has not seen our close yet and sends on: read, not delivered.
    peer.send_raw(Connection(ConnectionType.CLIENT).send(TextMessage("ignored")))
    assert messages(peer.receive()) == [] and not peer.closed
    aborts_after(peer, 5)


def test_server_close_completed_by_the_peer() -> None:
    peer = Peer(close_timeout=5)
    peer.send(TextMessage("bye"))
    peer.receive()
    peer.send(CloseConnection(4000))
    assert peer.closed and not peer.aborted
    peer.lose()
    assert peer.handler.calls[-1] == ("close", 4000, "asked to")
    assert not peer.clock.getDelayedCalls()


def test_oversized_message_closes_1009_before_it_is_all_read() -> None:
    peer = Peer(max_message_size=10)
    peer.send(BytesMessage(b"x" * 10))
    assert messages(peer.receive()) == [b"x" * 10]
    # 11 bytes in two fragments: the close comes at the 11th byte, not at the end.
    peer.send(BytesMessage(b"x" * 6, message_finished=False))
    assert peer.receive() == []
    peer.send(BytesMessage(b"x" * 5, message_finished=False))
    [event] = peer.receive()
    assert isinstance(event, CloseConnection) and event.code == 1009
    assert ("message", b"x" * 11) not in peer.handler.calls


def test_text_size_counts_utf8_bytes() -> None:
    peer = Peer(max_message_size=4)
    peer.send(TextMessage("\u00e9\u00e9"))  # 4 bytes
    assert messages(peer.receive()) == ["\u00e9\u00e9"]
    peer.send(TextMessage("\u00e9\u00e9x"))  # 5 bytes
    assert isinstance(peer.receive()[0], CloseConnection)


def test_protocol_errors_close_with_wsprotos_code() -> None:
    """An unmasked client frame is a protocol error (1002); bad UTF-8 is 1007."""
    peer = Peer()
    peer.send_raw(b"\x81\x02hi")  # text, FIN, no mask bit
    [event] = peer.receive()
    assert isinstance(event, CloseConnection) and event.code == 1002
    peer = Peer()
    peer.send_raw(b"\x81\x82\x00\x00\x00\x00\xc3\x28")  # masked with zeros: invalid UTF-8
    [event] = peer.receive()
    assert isinstance(event, CloseConnection) and event.code == 1007


def test_pings_are_answered() -> None:
    peer = Peer()
    peer.send(Ping(b"are you there"))
    [event] = peer.receive()
    assert isinstance(event, Pong) and event.payload == b"are you there"


def test_ping_interval_and_pong_timeout() -> None:
    peer = Peer(ping_interval=10, pong_timeout=3, idle_timeout=0)
    peer.clock.advance(9.9)
    assert peer.receive() == []
    peer.clock.advance(0.1)
    [ping] = peer.receive()
    assert isinstance(ping, Ping)
    peer.send(ping.response())
    peer.clock.advance(3)
    assert peer.receive() == []  # answered: no close
    peer.clock.advance(7)
    [ping] = peer.receive()
    assert isinstance(ping, Ping)
    peer.clock.advance(2.9)
    assert peer.receive() == []
    peer.clock.advance(0.1)
    [event] = peer.receive()
    assert isinstance(event, CloseConnection) and event.code == 1011


def test_a_pong_timeout_longer_than_the_ping_interval_still_ends_a_silent_peer() -> None:
    # Each ping must not push back the deadline of the one still unanswered: a peer
    # that answers none is closed pong_timeout after the first ping, not never.
    peer = Peer(ping_interval=10, pong_timeout=25, idle_timeout=0)
    for _ in range(3):  # pings at 10, 20 and 30, none answered
        peer.clock.advance(10)
        assert [type(event) for event in peer.receive()] == [Ping]
    peer.clock.advance(4.9)
    assert peer.receive() == []
    peer.clock.advance(0.1)
    events = peer.receive()
    assert any(isinstance(e, CloseConnection) and e.code == 1011 for e in events)


def test_idle_timeout_counts_messages_not_pings() -> None:
    peer = Peer(idle_timeout=30, ping_interval=10, pong_timeout=5)
    for _ in range(2):
        peer.clock.advance(10)
        [ping] = peer.receive()
        peer.send(ping.response())  # type: ignore[attr-defined]
    peer.send(TextMessage("hi"))  # activity: the 30 s start again
    peer.receive()
    peer.clock.advance(29.9)
    assert not any(isinstance(e, CloseConnection) for e in peer.receive())
    peer.clock.advance(0.1)
    events = peer.receive()
    assert any(isinstance(e, CloseConnection) and e.code == 1001 for e in events)


def test_timers_can_be_turned_off() -> None:
    peer = Peer(ping_interval=None, idle_timeout=0)
    peer.clock.advance(10_000)
    assert peer.receive() == [] and not peer.clock.getDelayedCalls()


def test_a_client_that_stops_reading_stops_being_read_then_is_dropped() -> None:
    """Backpressure: the transport pauses the protocol; it pauses reading and the handler,
    resumes both when the client catches up, and drops a client behind for send_timeout."""
    peer = Peer(send_timeout=30)
    peer.protocol.pauseProducing()  # what TCP does when the send buffer fills
    assert peer.transport.producerState == "paused"  # no more reading from the client
    assert peer.handler.calls[-1] == ("pause",) and peer.handler.writing_paused
    peer.protocol.resumeProducing()
    assert peer.transport.producerState == "producing"
    assert peer.handler.calls[-1] == ("resume",)
    peer.protocol.pauseProducing()
    aborts_after(peer, 30)


def test_sending_past_the_buffer_while_paused_drops_the_client() -> None:
    peer = Peer(max_send_buffer=100)
    peer.protocol.pauseProducing()
    peer.handler.send(b"x" * 90)
    assert not peer.aborted
    peer.handler.send(b"x" * 20)
    assert peer.aborted


def test_the_transport_is_paced_by_the_protocol() -> None:
    """The protocol is the transport's streaming producer, so TCP can pause it."""
    peer = Peer()
    assert peer.transport.producer is peer.protocol and peer.transport.streaming


def test_a_failing_handler_closes_1011_and_is_logged() -> None:
    from tests.support import recorded_log

    peer = Peer()
    with recorded_log() as events:
        peer.send(TextMessage("boom"))
    [event] = peer.receive()
    assert isinstance(event, CloseConnection) and event.code == 1011
    assert any("failed" in str(e.get("log_format", "")) for e in events)


def test_connection_lost_without_handshake_is_1006_and_stops_timers() -> None:
    peer = Peer()
    peer.lose()
    assert peer.handler.calls[-1] == ("close", 1006, "")
    assert not peer.clock.getDelayedCalls()
    peer.handler.send("nowhere")  # ignored: the handler is detached
    assert peer.transport.value() == b""


@pytest.mark.parametrize("limits", [
    {"max_message_size": 0}, {"max_send_buffer": -1}, {"ping_interval": -1},
    {"close_timeout": True}, {"max_message_size": 1.5},
])
def test_bad_limits_are_refused(limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        WebSocketLimits(**limits)


def test_client_state_after_close() -> None:
    peer = Peer()
    peer.send(CloseConnection(1001))
    peer.receive()
    assert peer.client.state is ConnectionState.CLOSED
