"""RequestReader: ``LineReceiver``'s read loop, driven by the request parser.

The parser's state says whether it wants a line or raw bytes next
(``State.wants_line``) and how long a line may be (``max_line_length``); the
loop follows it and keeps no mode or limit of its own, so ``setLineMode``,
``setRawMode`` and ``MAX_LENGTH`` are never used. It works on its own buffer
(``_unparsed``), never on LineReceiver's private attributes. One step is
added: a head that has arrived whole goes to the parser in one call
(``head_received``) instead of one call per line.

Parsing pauses while a response is pending or the client is behind; the
transport is paused only once bytes wait unparsed. A client that waits for its
response (all but pipelining ones) thus costs no pause and resume of the socket
per request, and what is buffered while parsing is held is still at most one
read.

What is read goes to the channel's request cycle through the methods at the
end of the class, which ``HTTPChannel`` provides. Once the channel has handed
the connection to another protocol (``101 Switching Protocols``), parsing
stays paused for good and every byte goes to that ``_successor``.
"""

from __future__ import annotations

from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocol
from twisted.protocols.basic import LineReceiver

from ..wire.errors import ProtocolError
from ..wire.parser import RequestHead, RequestParser, State


class RequestReader(LineReceiver):
    """Reads requests off a connection into ``parser``; see the module docstring."""

    delimiter = b"\r\n"

    def __init__(self, parser: RequestParser) -> None:
        self._parser = parser
        self._unparsed = b""  # bytes received and not yet given to the parser
        self._parsing = False  # inside the read loop: a re-entrant call only buffers
        self._parsing_paused = False  # a response is pending or the client is behind
        self._holding = False  # the transport is paused: bytes came while parsing was held
        self._read_eof = False  # the client has half-closed: no byte will come after these
        self._awaiting_request = True  # no byte of the next request seen yet
        self._closed = False
        self._successor: IProtocol | None = None  # the protocol the connection went to (101)

    @property
    def reading(self) -> bool:
        """True while the channel takes the client's bytes (parsing is not paused)."""
        return not self._parsing_paused

    def dataReceived(self, data: bytes) -> None:
        """The read loop: lines or raw bytes to the parser, as its state asks.

        Like ``LineReceiver.dataReceived`` (pausing, re-entry, over-long
        lines), on the reader's own buffer; and a head that is all there is
        goes to the parser in one call.
        """
        if data and self._parsing_paused:
            if self._successor is not None:
                self._successor.dataReceived(data)  # HTTP is over on this connection
                return
            self._hold()
            if self._awaiting_request:
                self._request_started()  # held back, but the client has begun a request
        self._unparsed += data
        if self._parsing:
            return
        self._parsing = True
        parser = self._parser
        try:
            while self._unparsed and not self._parsing_paused and not self._closed:
                buffer = self._unparsed
                state = parser.state
                if not state.wants_line:
                    self._unparsed = b""
                    self.rawDataReceived(buffer)
                    continue
                if state is State.REQUEST_LINE and buffer[0] != 0x0D:
                    end = buffer.find(b"\r\n\r\n")
                    if end > 0:
                        self._unparsed = buffer[end + 4:]
                        self._head_received(buffer[:end])
                        continue
                line, found, rest = buffer.partition(b"\r\n")
                if not found:
                    if self._awaiting_request:
                        self._request_started()
                    if len(buffer) >= parser.max_line_length + 2:
                        self._unparsed = b""
                        self.lineLengthExceeded(buffer)
                    return
                self._unparsed = rest
                if len(line) > parser.max_line_length:
                    self._unparsed = b""
                    self.lineLengthExceeded(line)
                    return
                self.lineReceived(line)
        finally:
            self._parsing = False
        if self._read_eof:
            self._end_if_starved()

    def lineReceived(self, line: bytes) -> None:
        if self._closed:
            return
        if self._awaiting_request:
            self._request_started()
        parser = self._parser
        before = parser.state
        try:
            head = parser.line_received(line)
        except ProtocolError as error:
            self._refuse(error)
            return
        if head is not None:
            self._dispatch(head)
        elif parser.state is before:
            return  # another header or trailer line: nothing for the channel to follow
        self._follow_parser()

    def rawDataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        body, rest = self._parser.data_received(data)
        if rest:
            self._unparsed = rest + self._unparsed  # the next message's: it goes first
        self._body_received(body)
        self._follow_parser()

    def lineLengthExceeded(self, line: bytes) -> None:
        self._refuse(self._parser.line_too_long(line))

    def _head_received(self, block: bytes) -> None:
        self._awaiting_request = False  # and no head deadline: the head is all here
        try:
            head = self._parser.head_received(block)
        except ProtocolError as error:
            self._refuse(error)
            return
        self._dispatch(head)
        if self._parser.state is not State.REQUEST_LINE:
            self._follow_parser()
        # else: answered at once, and the channel has set up for the next head.

    def readConnectionLost(self) -> None:
        """The client half-closed: answer what it sent, then close (RFC 9112 §9.6)."""
        self._read_eof = True
        successor = self._successor
        if successor is None:
            self._end_if_starved()
        elif IHalfCloseableProtocol.providedBy(successor):
            successor.readConnectionLost()
        else:
            assert self.transport is not None
            self.transport.loseConnection()  # as Twisted does for a protocol that can't

    def writeConnectionLost(self) -> None:
        pass  # the channel never half-closes its side

    # -- pausing ------------------------------------------------------------

    def pauseProducing(self) -> None:
        self._parsing_paused = True
        if self._unparsed:
            self._hold()  # pipelined bytes already wait: read no more until they are taken

    def resumeProducing(self) -> None:
        self._parsing_paused = False
        if self._holding:
            self._holding = False
            if not self._read_eof:  # a transport resumed after EOF reads the EOF again
                assert self.transport is not None
                self.transport.resumeProducing()  # type: ignore[attr-defined]
        self.dataReceived(b"")

    def _hold(self) -> None:
        if not self._holding:
            self._holding = True
            assert self.transport is not None
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    # -- what the channel does with what is read ------------------------------

    def _request_started(self) -> None:
        """The first byte of a request has arrived."""
        raise NotImplementedError

    def _dispatch(self, head: RequestHead) -> None:
        """A request head is complete: answer it."""
        raise NotImplementedError

    def _body_received(self, data: bytes) -> None:
        """Body bytes of the current request (possibly none: a chunk's framing only)."""
        raise NotImplementedError

    def _follow_parser(self) -> None:
        """The parser's state has moved on: act on the end of a message."""
        raise NotImplementedError

    def _refuse(self, error: ProtocolError) -> None:
        """Bad input: answer it and close."""
        raise NotImplementedError

    def _end_if_starved(self) -> None:
        """After a half-close: end if what the channel waits for cannot come."""
        raise NotImplementedError
