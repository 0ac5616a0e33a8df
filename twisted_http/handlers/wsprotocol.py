"""The WebSocket connection after the upgrade: wsproto's frames on a Twisted transport.

``WebSocketProtocol`` is an ordinary Twisted protocol: the HTTP channel hands
it the transport and the bytes it had already read (``response.switch_protocols``).
wsproto does the framing, masking, UTF-8 checks and close codes; this module
adds what a server needs around them, each limit for a reason:

- ``max_message_size``: a message is held whole until ``on_message``, so its
  size bounds the memory a client can make the server hold. Beyond it the
  connection is closed with 1009 (RFC 6455 §7.4.1), counted as the bytes
  arrive, before the rest is read.
- ``ping_interval`` / ``pong_timeout``: a ping every ``ping_interval``
  seconds, and 1011 if no pong comes back in time: a peer that vanished
  without a FIN (NAT timeout, pulled cable) is found, and idle proxies keep the
  connection open.
- ``idle_timeout``: no message either way for that long closes with 1001
  (pings do not count: they keep a connection alive, they do not use it).
- ``close_timeout``: how long to wait for the peer's side of the close
  handshake before dropping the connection.
- ``max_send_buffer`` / ``send_timeout``: the protocol is the transport's
  streaming producer. When the client stops reading, the transport pauses it:
  the protocol stops reading the client too (so an echo cannot be made to
  queue without end), tells the handler (``on_pause_writing``), and drops the
  connection if the client stays behind for ``send_timeout`` seconds or the
  handler sends more than ``max_send_buffer`` bytes meanwhile.

Every timer runs on the clock given, so tests drive them with ``Clock.advance``.
"""

from __future__ import annotations

import typing
from typing import Any

import attrs
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError
from zope.interface import implementer

NORMAL, GOING_AWAY, TOO_BIG, INTERNAL_ERROR, ABNORMAL = 1000, 1001, 1009, 1011, 1006


def _seconds(value: float | None) -> float | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0
    ):
        raise ValueError(f"a timeout must be a number of seconds >= 0, not {value!r}")
    return float(value) if value else None  # 0 turns the timer off


@attrs.frozen
class WebSocketLimits:
    """Every WebSocket limit and timeout; ``None`` or 0 turns a timer off."""

    max_message_size: int = attrs.field(default=1024 * 1024)  # 1 MiB: a big chat message
    ping_interval: float | None = attrs.field(default=20.0, converter=_seconds)
    pong_timeout: float | None = attrs.field(default=20.0, converter=_seconds)
    idle_timeout: float | None = attrs.field(default=600.0, converter=_seconds)
    close_timeout: float | None = attrs.field(default=10.0, converter=_seconds)
    # Room for a few whole messages queued behind a client that is not reading.
    max_send_buffer: int = attrs.field(default=4 * 1024 * 1024)
    send_timeout: float | None = attrs.field(default=60.0, converter=_seconds)

    @max_message_size.validator
    @max_send_buffer.validator
    def _positive(self, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{attribute.name} must be a whole number >= 1, not {value!r}")


class Callbacks(typing.Protocol):
    """What the protocol drives: a ``WebSocketHandler`` (websocket.py). Its ``on_*``
    methods are called by name; these two connect and disconnect it."""

    def _attach(self, protocol: WebSocketProtocol) -> None: ...
    def _detach(self) -> None: ...


@implementer(IPushProducer)
class WebSocketProtocol(Protocol):
    """One WebSocket connection, server side, driving one ``WebSocketHandler``."""

    _log = Logger()

    def __init__(
        self, handler: Callbacks, limits: WebSocketLimits, clock: IReactorTime
    ) -> None:
        self.handler = handler
        self.limits = limits
        self._clock = clock
        self._ws = Connection(ConnectionType.SERVER)
        self._parts: list[bytes | str] = []
        self._size = 0  # bytes of the message being received
        self._writing_paused = False
        self._held = 0  # bytes written while the client was behind
        self._timers: dict[str, IDelayedCall] = {}
        self._close_code = ABNORMAL
        self._close_reason = ""
        self._ended = False

    # -- Twisted's side -----------------------------------------------------

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.registerProducer(self, True)  # type: ignore[attr-defined]
        self._restart("idle", self.limits.idle_timeout, self._idle_timed_out)
        self._restart("ping", self.limits.ping_interval, self._send_ping)
        self.handler._attach(self)
        self._call("on_open")

    def dataReceived(self, data: bytes) -> None:
        if self._ended:
            return
        try:
            self._ws.receive_data(data)
        except LocalProtocolError:
            return  # bytes after the close handshake: nothing is listening
        for event in self._ws.events():
            if isinstance(event, Message):
                self._message_part(event)
            elif isinstance(event, Ping):
                self._restart("ping", self.limits.ping_interval, self._send_ping)
                self._write(self._ws.send(event.response()))
            elif isinstance(event, Pong):
                self._cancel("pong")
            elif isinstance(event, CloseConnection):
                self._close_received(event)
            if self._ended or self.transport is None:
                return

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._ended = True
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()
        self._parts = []
        handler, code, why = self.handler, self._close_code, self._close_reason
        self._call("on_close", code, why)
        handler._detach()

    # -- backpressure (IPushProducer: the transport pauses us) -----------------

    def pauseProducing(self) -> None:
        """The client is not reading what we send: stop reading it too, and tell the handler."""
        if self._writing_paused or self._ended:
            return
        self._writing_paused = True
        self._held = 0
        assert self.transport is not None
        self.transport.pauseProducing()  # type: ignore[attr-defined]
        self._restart("send", self.limits.send_timeout, self._send_timed_out)
        self._call("on_pause_writing")

    def resumeProducing(self) -> None:
        if not self._writing_paused or self._ended:
            return
        self._writing_paused = False
        self._cancel("send")
        assert self.transport is not None
        self.transport.resumeProducing()  # type: ignore[attr-defined]
        self._call("on_resume_writing")

    def stopProducing(self) -> None:
        pass  # the transport is going: connectionLost follows

    @property
    def writing_paused(self) -> bool:
        return self._writing_paused

    # -- what the handler asks ----------------------------------------------

    def send(self, message: str | bytes) -> None:
        if self._ws.state is not ConnectionState.OPEN or self._ended:
            return  # closing or closed: like a response written after the client left
        if not isinstance(message, str | bytes):
            raise TypeError(f"a WebSocket message is str or bytes, not {type(message).__name__}")
        self._restart("idle", self.limits.idle_timeout, self._idle_timed_out)
        event = TextMessage(message) if isinstance(message, str) else BytesMessage(message)
        self._write(self._ws.send(event))

    def drain(self) -> None:
        """The server is stopping (the channel passes its drain on): 1001, going away."""
        self.close(GOING_AWAY, "server shutting down")

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Start the close handshake; the connection drops if the peer does not answer."""
        if self._ended or self._ws.state is not ConnectionState.OPEN:
            return
        self._close_code, self._close_reason = code, reason
        self._parts = []
        self._write(self._ws.send(CloseConnection(code=code, reason=reason)))
        for name in ("idle", "ping", "pong"):
            self._cancel(name)
        self._restart("close", self.limits.close_timeout, self._abort)

    # -- receiving ----------------------------------------------------------

    def _message_part(self, event: Message[Any]) -> None:
        if self._ws.state is not ConnectionState.OPEN:
            return  # we are closing: the rest is not read (RFC 6455 §5.5.1)
        data = event.data
        self._size += len(data.encode("utf-8")) if isinstance(data, str) else len(data)
        if self._size > self.limits.max_message_size:
            self.close(TOO_BIG, f"message over {self.limits.max_message_size} bytes")
            return
        self._parts.append(data)
        if not event.message_finished:
            return
        parts, self._parts, self._size = self._parts, [], 0
        message: str | bytes
        if isinstance(event, TextMessage):
            message = "".join(parts)  # type: ignore[arg-type]
        else:
            assert isinstance(event, BytesMessage)
            message = b"".join(parts)  # type: ignore[arg-type]
        self._restart("idle", self.limits.idle_timeout, self._idle_timed_out)
        self._call("on_message", message)

    def _close_received(self, event: CloseConnection) -> None:
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            # The peer closes: answer in kind, and the server closes TCP first (RFC 6455 §7.1.1).
            self._close_code, self._close_reason = event.code, event.reason or ""
            self._write(self._ws.send(event.response()))
        elif state is not ConnectionState.CLOSED:
            # wsproto could not parse the frames (a protocol error, bad UTF-8):
            # close with the code it names.
            self.close(event.code, event.reason or "")
            return
        self._end()

    # -- timers -------------------------------------------------------------

    def _send_ping(self) -> None:
        if self._ws.state is ConnectionState.OPEN:
            self._write(self._ws.send(Ping(payload=b"minihttp")))
            if "pong" not in self._timers:  # a ping still unanswered keeps its deadline
                self._restart("pong", self.limits.pong_timeout, self._pong_timed_out)
            self._restart("ping", self.limits.ping_interval, self._send_ping)

    def _pong_timed_out(self) -> None:
        self._log.info("WebSocket peer did not answer a ping in time; closing")
        self.close(INTERNAL_ERROR, "ping timeout")

    def _idle_timed_out(self) -> None:
        self.close(GOING_AWAY, "idle timeout")

    def _send_timed_out(self) -> None:
        self._log.info("WebSocket peer read nothing for {seconds} seconds; dropping it",
                       seconds=self.limits.send_timeout)
        self._abort()

    def _restart(self, name: str, seconds: float | None, action: Any) -> None:
        self._cancel(name)
        if seconds is not None and not self._ended:
            self._timers[name] = self._clock.callLater(seconds, action)

    def _cancel(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None and timer.active():
            timer.cancel()

    # -- endings and writes -------------------------------------------------

    def _write(self, data: bytes) -> None:
        if not data or self.transport is None or self._ended:
            return
        if self._writing_paused:
            self._held += len(data)
            if self._held > self.limits.max_send_buffer:
                self._log.info("WebSocket peer is {held} bytes behind; dropping it",
                               held=self._held)
                self._abort()
                return
        self.transport.write(data)

    def _end(self) -> None:
        """The close handshake is done: close TCP, and drop it if the peer never reads."""
        assert self.transport is not None
        self.transport.loseConnection()
        self._restart("close", self.limits.close_timeout, self._abort)

    def _abort(self) -> None:
        if self.transport is not None and not self._ended:
            self._ended = True
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def _call(self, method: str, *args: Any) -> None:
        """Run a handler callback; an exception is logged and closes with 1011."""
        try:
            getattr(self.handler, method)(*args)
        except Exception:
            self._log.failure("WebSocket handler {handler}.{method} failed",
                              handler=type(self.handler).__name__, method=method)
            if method != "on_close":
                self.close(INTERNAL_ERROR, "internal error")
