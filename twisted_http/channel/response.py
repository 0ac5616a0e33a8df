"""What a handler writes to: status, headers, body bytes, producers, and the end.

The response owns its framing. From the status, the request method and what
the handler says of the length, it picks Content-Length, chunked or
close-delimited (RFC 9112 §6.3), and it holds the head back until the first
body bytes or the end, so a small response leaves in one write. After HEAD, 204
and 304 nothing of the body reaches the wire, whatever the handler writes.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable
from html import escape
from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocol
from twisted.python.failure import Failure

from ..wire.fields import fields_of
from ..wire.framing import HTTP_10, BodyMode, response_body_mode
from ..wire.headers import is_field_value
from ..wire.serializer import LAST_CHUNK, STATUS_LINES, chunk, status_line
from .flow import Producer
from .request import ConnectionInfo
from .upgrade import UpgradeRefused


class _Owner(Protocol):
    """What a response needs of its channel."""

    def write(self, data: bytes) -> None: ...
    def write_sequence(self, data: list[bytes]) -> None: ...
    def direct_socket(self) -> int | None: ...
    def register_producer(self, producer: Producer, streaming: bool) -> None: ...
    def unregister_producer(self) -> None: ...
    def head_defaults(self, date: bool, server: bool) -> bytes: ...
    def connection_reusable(self) -> bool: ...
    def response_finished(self, response: Response) -> None: ...
    def response_aborted(self, response: Response) -> None: ...
    def switch_protocols(
        self, response: Response, upgrade: bytes, head: bytes, protocol: IProtocol
    ) -> None: ...


class _State(enum.Enum):
    NEW = "new"
    STARTED = "started"
    FINISHED = "finished"
    CLOSED = "closed"  # the connection went away, or the server took over


class Response:
    """The response to one request. Create none yourself; a handler is given one."""

    def __init__(self, owner: _Owner, method: bytes, version: bytes, keep_alive: bool) -> None:
        self._owner = owner
        self._method = method
        self._version = version
        self.keep_alive = keep_alive
        self.logged = True  # an access-log line once finished; health checks say no
        self.status = 0
        self._state = _State.NEW
        self._mode = BodyMode.NONE
        self._remaining = 0  # body bytes still owed under Content-Length
        self._pending_head: bytes | None = None
        self._producer: Producer | None = None
        self._waiters: list[Deferred[None]] = []
        self._on_lost: list[Callable[[Failure], object]] | None = None
        self.bytes_sent = 0  # body bytes, for the access log
        self.refusal = False  # an error page the channel sent by itself (a bad request)
        # Set on a page sent before any request was read (observers then get no request):
        # the connection it went to, so the access log can still name the client.
        self.connection: ConnectionInfo | None = None

    @property
    def started(self) -> bool:
        return self._state is not _State.NEW

    @property
    def finished(self) -> bool:
        return self._state is _State.FINISHED

    def start(
        self, status: int, headers: Iterable[tuple[bytes, bytes]] = (), reason: bytes | None = None
    ) -> None:
        """Set the status and headers. They go out with the first body bytes or at finish."""
        self._begin(status, headers, reason, None)

    def _begin(
        self, status: int, headers: Iterable[tuple[bytes, bytes]], reason: bytes | None,
        known: int | None,
    ) -> bool:
        """``start``, with ``send``'s body length as ``known``; False if the connection is gone."""
        if self._state is not _State.NEW:
            if self._state is _State.CLOSED:
                return False
            raise RuntimeError("the response has already started")
        if not 200 <= status <= 999:
            raise ValueError(f"status must be a final status, 200 to 999, not {status!r}")
        fields = fields_of(headers, known, status == 204)
        lines = [status_line(status, reason), b"", fields.lines]  # [1]: Date and Server
        length = fields.length
        if known is not None and status != 204:
            length = known
            lines.append(b"Content-Length: %d\r\n" % known)
        mode = response_body_mode(self._method, status, self._version, length)
        keep = (
            self.keep_alive and not fields.close and mode is not BodyMode.CLOSE
            and self._owner.connection_reusable()
        )
        lines[1] = self._owner.head_defaults(not fields.own_date, not fields.own_server)
        if mode is BodyMode.CHUNKED:
            lines.append(b"Transfer-Encoding: chunked\r\n")
        if not keep:
            lines.append(b"Connection: close\r\n")
        elif self._version == HTTP_10:
            lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        self.status = status
        self.keep_alive = keep
        self._mode = mode
        self._remaining = length or 0
        self._pending_head = b"".join(lines)
        self._state = _State.STARTED
        return True

    def write(self, data: bytes) -> None:
        """Send body bytes. Ignored once the connection has gone."""
        state = self._state
        if state is not _State.STARTED:
            if state is _State.CLOSED:
                return
            raise RuntimeError(f"write on a response that is {state.value}")
        mode = self._mode
        if mode is BodyMode.LENGTH:
            if len(data) > self._remaining:
                # More than the Content-Length promised: what fits is sent and the
                # connection closes at finish, so the excess can never be read as
                # the start of another response.
                data = data[: self._remaining]
                self.keep_alive = False
            self._remaining -= len(data)
        elif mode is BodyMode.NONE:
            data = b""
        elif mode is BodyMode.CHUNKED and data:
            self.bytes_sent += len(data)
            self._send(chunk(data))
            return
        self.bytes_sent += len(data)
        if data or self._pending_head is not None:
            self._send(data)

    def sendfile(self, fd: int, offset: int, count: int) -> int | None:
        """Send up to ``count`` bytes of file ``fd`` from ``offset`` straight from the kernel.

        Returns the bytes sent (0 when the socket is full), or None when they
        cannot go that way now (a TLS or in-memory transport, bytes still
        buffered, a chunked or bodiless response): then use ``write``.
        """
        if self._state is not _State.STARTED or self._mode is not BodyMode.LENGTH:
            return None
        if self._pending_head is not None:
            return None  # the head goes first, through the transport
        socket_fd = self._owner.direct_socket()
        if socket_fd is None:
            return None
        count = min(count, self._remaining)
        try:
            sent = os.sendfile(socket_fd, fd, offset, count) if count else 0
        except BlockingIOError:
            return 0
        except OSError:
            return None  # the transport's own next write meets the error and ends things
        if not sent and count:
            return None  # the file ended early: the write path finds out and ends the response
        self._remaining -= sent
        self.bytes_sent += sent
        return sent

    def finish(self) -> None:
        """End the response. Ignored once the connection has gone."""
        state = self._state
        if state is not _State.STARTED:
            if state is _State.CLOSED:
                return
            raise RuntimeError(f"finish on a response that is {state.value}")
        if self._mode is BodyMode.CHUNKED:
            self._send(LAST_CHUNK)
        elif self._pending_head is not None:
            self._send(b"")
        if self._mode is BodyMode.LENGTH and self._remaining:
            # Fewer bytes than promised: the client can only learn that from the
            # connection closing (RFC 9112 §6.3 rule 5, seen from the sender).
            self.keep_alive = False
        self._unregister()
        self._state = _State.FINISHED
        self._owner.response_finished(self)
        self._fire(None)

    def send(
        self, status: int, body: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        """A whole response at once, with its Content-Length, in one write."""
        if self._begin(status, headers, None, len(body)):
            self.write(body)
            self.finish()

    def send_error(
        self, status: int, detail: str | None = None, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        """A small HTML error page; ``detail`` is escaped."""
        self.send(status, error_page(status, detail),
                  [(b"Content-Type", b"text/html; charset=utf-8"), *headers])

    def fail(self) -> None:
        """Give up: a 500 if nothing was sent yet, else the connection closes."""
        if self._state is _State.NEW:
            self.send_error(500)
        elif self._state is _State.STARTED:
            self._close(Failure(RuntimeError("response failed")))
            self._owner.response_aborted(self)

    def switch_protocols(
        self, protocol: IProtocol, upgrade: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> bool:
        """``101 Switching Protocols`` to ``upgrade``, then the connection is ``protocol``'s.

        For a handler that takes an upgrade the request asked for (RFC 9110
        §7.8): ``upgrade`` is the protocol switched to (``b"websocket"``); the
        response says ``Upgrade`` and ``Connection: Upgrade`` itself, and
        ``headers`` add the rest (``Sec-WebSocket-Accept``). The request must
        have no body left unread. ``protocol`` is connected to the transport at
        once and gets every later byte, those the client sent early included;
        the server only counts the connection until it closes.

        False when the request may not switch (HTTP/1.0, an Upgrade it did not
        ask for, a body: channel/upgrade.py): a 400 has then been sent, and the
        connection closes after it.
        """
        if self._state is not _State.NEW:
            if self._state is _State.CLOSED:
                return False
            raise RuntimeError("the response has already started")
        if not upgrade or not is_field_value(upgrade):
            raise ValueError(f"invalid Upgrade {upgrade!r}")
        fields = fields_of(headers, None, True)
        own = self._owner.head_defaults(not fields.own_date, not fields.own_server)
        head = b"%s%s%sUpgrade: %s\r\nConnection: Upgrade\r\n\r\n" % (
            status_line(101), own, fields.lines, upgrade)
        self.status, self._state = 101, _State.FINISHED
        try:
            self._owner.switch_protocols(self, upgrade, head, protocol)
        except UpgradeRefused as refused:  # the client's doing: a 400, then close
            self.status, self._state, self.keep_alive = 0, _State.NEW, False
            self.send_error(400, str(refused))
            return False
        except Exception:
            self.status, self._state = 0, _State.NEW  # refused: the handler may still answer
            raise
        self.keep_alive = False
        self._fire(None)
        return True

    def register_producer(self, producer: Producer, streaming: bool) -> None:
        """Let the client's reading pace ``producer`` (Twisted's producer/consumer API)."""
        if self._state is _State.CLOSED:
            producer.stopProducing()
            return
        self._producer = producer
        self._owner.register_producer(producer, streaming)

    def unregister_producer(self) -> None:
        self._unregister()

    def notify_finish(self) -> Deferred[None]:
        """Fires with None when the response is finished, or fails if the connection goes first."""
        waiter: Deferred[None] = Deferred()
        if self._state is _State.FINISHED:
            waiter.callback(None)
        elif self._state is _State.CLOSED:
            waiter.errback(ConnectionError("the connection closed before the response finished"))
        else:
            self._waiters.append(waiter)
        return waiter

    def on_lost(self, callback: Callable[[Failure], object]) -> None:
        """Call ``callback(reason)`` if the connection goes before the response finishes.

        ``notify_finish``'s failure without a Deferred, for what watches every
        response (a WSGI exchange, a file sender): nothing is made per response
        that finishes. ``callback`` must not raise.
        """
        if self._state is _State.CLOSED:
            callback(Failure(ConnectionError(
                "the connection closed before the response finished")))
        elif self._state is not _State.FINISHED:
            if self._on_lost is None:
                self._on_lost = []
            self._on_lost.append(callback)

    # -- the channel's side -------------------------------------------------

    def connection_lost(self, reason: Failure) -> None:
        if self._state is _State.NEW or self._state is _State.STARTED:
            self._close(reason)

    def _close(self, reason: Failure) -> None:
        self._state = _State.CLOSED
        self.keep_alive = False
        self._unregister()
        self._fire(reason)

    def _send(self, data: bytes) -> None:
        head = self._pending_head
        if head is None:
            self._owner.write(data)
        else:
            self._pending_head = None
            self._owner.write_sequence([head, data])

    def _unregister(self) -> None:
        if self._producer is not None:
            self._producer = None
            self._owner.unregister_producer()

    def _fire(self, result: Failure | None) -> None:
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None and result is not None:
            for callback in on_lost:
                callback(result)
        if not self._waiters:
            return
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if result is None:
                waiter.callback(None)
            else:
                waiter.errback(result)


def error_page(status: int, detail: str | None = None) -> bytes:
    """A short, fixed HTML page for an error status; nothing from the request is in it."""
    title = STATUS_LINES.get(status, b"HTTP/1.1 %d Error\r\n" % status)[9:-2].decode("ascii")
    extra = f"<p>{escape(detail)}</p>" if detail else ""
    return (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1>{extra}</body></html>\n"
    ).encode()
