"""A test driver for RequestParser that feeds it exactly as HTTPChannel's LineReceiver does.

When the parser wants a request line and the buffer holds a whole head, the
head goes to ``head_received`` in one call, as the channel sends it. Otherwise,
in line mode the buffer is split on CRLF; a line longer than the parser's
``max_line_length``, or a buffer with no CRLF that has reached that length plus
two, becomes ``line_too_long(what arrived)`` (Twisted's ``LineReceiver.dataReceived`` rule).
In raw mode the whole buffer goes to ``data_received`` and what it leaves over
goes back to line mode. After DONE the driver calls ``start_next()``, as the
channel does once a response is out, so pipelined requests keep parsing.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from twisted_http.wire.errors import ProtocolError
from twisted_http.wire.headers import Headers
from twisted_http.wire.limits import ServerConfig
from twisted_http.wire.parser import RequestHead, RequestParser, State

DELIMITER = b"\r\n"


@attrs.define
class Message:
    """One request as the parser delivered it: head, body bytes, trailers, whether it ended."""

    head: RequestHead
    body: bytes = b""
    trailers: Headers = attrs.Factory(Headers)
    complete: bool = False


@attrs.define
class Outcome:
    """Everything a stream produced: the requests, the error if any, and the parser's end state."""

    messages: list[Message]
    error: ProtocolError | None
    state: State
    buffered: bytes  # bytes held back in line mode, waiting for a CRLF

    @property
    def heads(self) -> list[RequestHead]:
        return [message.head for message in self.messages]

    def summary(self) -> tuple[object, ...]:
        """A comparable form: how the stream was fed must never change this."""
        error = None if self.error is None else (type(self.error), self.error.status)
        messages = [
            (m.head, m.body, list(m.trailers), m.complete) for m in self.messages
        ]
        return (messages, error, self.state, self.buffered)


class ParserDriver:
    """Feeds a RequestParser the way LineReceiver feeds HTTPChannel, and records events."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.parser = RequestParser(config or ServerConfig())
        self.messages: list[Message] = []
        self.error: ProtocolError | None = None
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        if self.error is not None:
            return  # the channel has closed: nothing after a bad request is read
        self._buffer += data
        try:
            self._run()
        except ProtocolError as error:
            self.error = error
            self._buffer = b""

    def outcome(self) -> Outcome:
        return Outcome(list(self.messages), self.error, self.parser.state, self._buffer)

    def _run(self) -> None:
        parser = self.parser
        while self._buffer:
            before = len(self._buffer)
            end = self._buffer.find(DELIMITER * 2)
            if parser.state is State.REQUEST_LINE and end > 0 and self._buffer[0] != 0x0D:
                # The channel's step for a head that is all there: one call.
                block, self._buffer = self._buffer[:end], self._buffer[end + 4:]
                self.messages.append(Message(parser.head_received(block)))
            elif parser.wants_line:
                limit = parser.max_line_length
                line, found, rest = self._buffer.partition(DELIMITER)
                if not found:
                    if len(self._buffer) >= limit + len(DELIMITER):
                        raise parser.line_too_long(self._buffer)
                    return
                if len(line) > limit:
                    raise parser.line_too_long(line)
                self._buffer = rest
                head = parser.line_received(line)
                if head is not None:
                    self.messages.append(Message(head))
            else:
                body, self._buffer = parser.data_received(self._buffer)
                self.messages[-1].body += body
            # Every step consumes input: a parser that takes nothing would hang the channel.
            assert len(self._buffer) < before, parser.state
            if parser.state is State.DONE:
                message = self.messages[-1]
                message.trailers = parser.trailers
                message.complete = True
                parser.start_next()


def feed(pieces: Iterable[bytes], config: ServerConfig | None = None) -> Outcome:
    """Feed ``pieces`` one after another and return what came of them."""
    driver = ParserDriver(config)
    for piece in pieces:
        driver.feed(piece)
    return driver.outcome()


def bytewise(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    """``data`` cut at each of ``points`` (any order, duplicates and out-of-range ignored)."""
    cuts = sorted({p for p in points if 0 < p < len(data)})
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
