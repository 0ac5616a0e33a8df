"""HTTPChannel: the glue between a transport and the request parser.

One connection, one channel. ``LineReceiver`` does the I/O: it hands over lines
or raw bytes as the parser's state asks (``_follow_parser`` is the only place
the mode changes). Requests are answered strictly one at a time: once a request
has been read, reading stops until its response is finished, so pipelined
requests wait unparsed in the buffer and responses can never go out of order
(Twisted's CVE-2023-46137 and CVE-2024-41671 were both this going wrong).

Bad input ends in ``_refuse``: a status and a short body if no response has
started, then the connection closes. Nothing after a bad request is parsed.

Timers, all on the factory's clock: before a request's first byte the idle
timer (``first_request_timeout``, then ``keep_alive_timeout``) closes quietly;
from the first byte the head deadline (``head_timeout``) answers 408; while a
body is being read, ``body_timeout`` bounds the wait for each next piece.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from twisted.internet.interfaces import IHalfCloseableProtocol, ITCPTransport
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from ..wire.errors import BadRequest, ProtocolError, RequestTimeout
from ..wire.parser import RequestHead, RequestParser, State
from .deadline import Deadline
from .flow import Producer, WriteFlow
from .request import ConnectionInfo, Request, RequestBody
from .response import Response

if TYPE_CHECKING:
    from .factory import HTTPFactory

_RAW_STATES = frozenset({State.BODY, State.CHUNK_DATA})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@implementer(IHalfCloseableProtocol)
class HTTPChannel(LineReceiver):
    """One HTTP/1.1 connection on the server side."""

    delimiter = b"\r\n"
    _log = Logger()

    def __init__(self, site: HTTPFactory) -> None:
        self._site = site
        self._config = site.config
        self._parser = RequestParser(site.config)
        self.MAX_LENGTH = self._parser.max_line_length
        self._head: RequestHead | None = None
        self._request: Request | None = None
        self._response: Response | None = None
        self._deadline = Deadline(site.clock)  # the request timers: idle, head, body
        self._write_deadline = Deadline(site.clock)  # the client not reading
        self._flow = WriteFlow(site.clock, self._write_flow_changed)
        self._awaiting_request = True  # no byte of the next request seen yet
        self._continue_sent = False
        self._closed = False
        self._holding = False  # the transport is paused: bytes came while parsing was held
        self._read_eof = False  # the client has half-closed: no byte will come after these
        self._connection: ConnectionInfo | None = None

    # -- Twisted's side -----------------------------------------------------

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None
        if ITCPTransport.providedBy(transport):
            transport.setTcpNoDelay(True)  # responses are whole; don't let Nagle hold them
        self._connection = ConnectionInfo.from_transport(transport)
        self._site.open_connections += 1
        # For the connection's whole life, every byte for the client goes
        # through the flow, which learns from the transport whether the
        # client keeps up (see _flow.py).
        self._flow.connect(transport)
        self._deadline.set(self._config.first_request_timeout, self._idle_timed_out)

    def dataReceived(self, data: bytes) -> None:
        """``LineReceiver``'s loop, plus one step: a head that is all there is parsed at once.

        Lines, raw mode, ``MAX_LENGTH``, pausing and re-entry behave exactly
        as in ``LineReceiver.dataReceived``. The extra step applies when the
        parser wants a request line and the buffer holds a whole head: the
        parser takes all its lines in one call (``head_received``), with the
        same checks, instead of one ``lineReceived`` round trip per line.
        """
        if data and self.paused:
            self._hold()
            if self._awaiting_request:
                self._request_started()  # held back, but the client has begun a request
        self._buffer += data
        if self._busyReceiving:
            return
        self._busyReceiving = True
        try:
            while self._buffer and not self.paused and not self._closed:
                buffer = self._buffer
                if not self.line_mode:
                    self._buffer = b""
                    self.rawDataReceived(buffer)
                    continue
                if self._parser.state is State.REQUEST_LINE and buffer[0] != 0x0D:
                    end = buffer.find(b"\r\n\r\n")
                    if end > 0:
                        self._buffer = buffer[end + 4:]
                        self._head_received(buffer[:end])
                        continue
                line, found, rest = buffer.partition(b"\r\n")
                if not found:
                    if self._awaiting_request:
                        self._request_started()
                    if len(buffer) >= self.MAX_LENGTH + 2:
                        self._buffer = b""
                        self.lineLengthExceeded(buffer)
                    return
                self._buffer = rest
                if len(line) > self.MAX_LENGTH:
                    self._buffer = b""
                    self.lineLengthExceeded(line)
                    return
                self.lineReceived(line)
        finally:
            self._busyReceiving = False
        if self._read_eof:
            self._end_if_starved()

    # Parsing pauses while a response is pending or the client is behind; the
    # transport is paused only once bytes wait unparsed. A client that waits
    # for its response (all but pipelining ones) thus costs no pause and resume
    # of the socket per request, and what is buffered while parsing is held is
    # still at most one read.

    def pauseProducing(self) -> None:
        self.paused = True
        if self._buffer:
            self._hold()  # pipelined bytes already wait: read no more until they are taken

    def resumeProducing(self) -> None:
        self.paused = False
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

    def readConnectionLost(self) -> None:
        """The client half-closed: answer what it sent, then close (RFC 9112 §9.6)."""
        self._read_eof = True
        self._end_if_starved()

    def writeConnectionLost(self) -> None:
        pass  # the channel never half-closes its side

    def _end_if_starved(self) -> None:
        """After a half-close: end once the channel waits for bytes that cannot come."""
        if self._closed or self.paused or self._busyReceiving:
            return  # held for a response or the client's reading: decided when parsing resumes
        request = self._request
        if request is None:
            self._close()  # at most part of a head is left: nothing more can be asked
        elif self._parser.state is not State.DONE and request.body.flowing:
            self._refuse(BadRequest("Request body cut short by the client"))

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
        self._follow_parser(b"")

    def _head_received(self, block: bytes) -> None:
        self._awaiting_request = False  # and no head deadline: the head is all here
        try:
            head = self._parser.head_received(block)
        except ProtocolError as error:
            self._refuse(error)
            return
        self._dispatch(head)
        if self._parser.state is not State.REQUEST_LINE:
            self._follow_parser(b"")
        # else: answered at once, and _next_request has set up for the next head.

    def rawDataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        body, rest = self._parser.data_received(data)
        self._deadline.set(self._config.body_timeout, self._body_timed_out)  # progress
        assert self._request is not None
        self._request.body.data(body)
        self._follow_parser(rest)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._refuse(self._parser.line_too_long(line))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._connection is not None:
            self._site.open_connections -= 1
            self._connection = None
        self._closed = True
        self._deadline.stop()
        self._write_deadline.stop()
        self._flow.stopProducing()
        self._parser.fail()
        if self._request is not None:
            self._request.body.fail(reason.value or ConnectionError())
        if self._response is not None:
            self._response.connection_lost(reason)
        # Nothing below is needed any more. Dropping it breaks the reference
        # cycles through this channel (its request's body and its flow call
        # back into it), so reference counting frees a connection at once
        # instead of leaving it to the cyclic garbage collector.
        self._head = self._request = self._response = None
        self._flow.release()

    # -- what responses ask of the channel ----------------------------------

    def write(self, data: bytes) -> None:
        self._flow.send(data)

    def write_sequence(self, data: list[bytes]) -> None:
        self._flow.send(b"".join(data))

    def direct_socket(self) -> int | None:
        return self._flow.sendfile_socket()

    def register_producer(self, producer: Producer, streaming: bool) -> None:
        self._flow.attach(producer, streaming)

    def unregister_producer(self) -> None:
        self._flow.detach()

    @property
    def response_producer(self) -> Producer | None:
        """The producer the response being sent registered, if any."""
        return self._flow.producer

    def head_defaults(self, date: bool, server: bool) -> bytes:
        """The Date and Server lines for a response head, those asked for."""
        site = self._site
        return site.default_fields.lines(site.clock.seconds(), date, server)

    def connection_reusable(self) -> bool:
        """Whether the connection can carry another request once this response is out."""
        if self._request is None or self._head is None:
            return False
        body = self._request.body
        return body.complete or body.claimed or self._can_discard()

    def response_finished(self, response: Response) -> None:
        if response is not self._response:
            return  # an error page sent by _refuse, or a stale response
        self._log_access(response)
        if not response.keep_alive:
            self._close()
        elif self._parser.state is State.DONE:
            self._next_request()
        elif self._can_discard():
            assert self._request is not None
            self._request.body.discard()  # reading resumes through the body's demand
        else:
            self._close()

    def response_aborted(self, response: Response) -> None:
        if response is self._response:
            self._close()

    # -- the request cycle --------------------------------------------------

    def _request_started(self) -> None:
        self._awaiting_request = False
        self._deadline.set(self._config.head_timeout, self._head_timed_out)

    def _dispatch(self, head: RequestHead) -> None:
        self._deadline.clear()
        path = unquote_to_bytes(head.path) if b"%" in head.path else head.path
        prefix, handlers = self._site.router.route(path)
        assert self._connection is not None
        request = Request(
            method=head.method,
            target=head.target,
            path=head.path,
            query=head.query,
            version=head.version,
            headers=head.headers,
            host=head.host,
            script_name=prefix,
            path_info=path[len(prefix):],
            connection=self._connection,
            body=RequestBody(head.body_length, self._update_reading),
        )
        response = Response(self, head.method, head.version, head.keep_alive)
        self._head, self._request, self._response = head, request, response
        self._continue_sent = False
        try:
            if path == b"*":
                response.send(200)  # OPTIONS *: the server is here (RFC 9110 §9.3.7)
                return
            for handler in handlers:
                if handler.handle(request, response):
                    return
            response.send_error(404)
        except Exception:
            self._log.failure(
                "Handler failed on {method} {target}",
                method=head.method.decode("ascii"),
                target=head.target.decode("ascii"),
            )
            response.fail()
        finally:
            self._update_reading()

    def _follow_parser(self, rest: bytes) -> None:
        """Act on the parser's new state: end of message, and the LineReceiver mode."""
        parser = self._parser
        if parser.state is State.DONE:
            if self._request is not None and not self._request.body.complete:
                self._request.body.finish(parser.trailers)
            if not self._closed and self._response is not None and self._response.finished:
                self._next_request()
        if self._closed:
            return
        if parser.state in _RAW_STATES:
            self.setRawMode()
        else:
            self.MAX_LENGTH = parser.max_line_length
            self.setLineMode(rest)
        self._update_reading()

    def _next_request(self) -> None:
        self._head = self._request = self._response = None
        self._parser.start_next()
        self.MAX_LENGTH = self._parser.max_line_length
        self._awaiting_request = True
        self._deadline.set(self._config.keep_alive_timeout, self._idle_timed_out)
        self._update_reading()

    def _update_reading(self) -> None:
        """Read from the client exactly when the current request needs it."""
        if self._closed:
            return
        request = self._request
        if request is None:
            # Between requests: read the next head, unless the client has not
            # read what it was sent; pipelining must not let it queue more.
            want = not self._flow.blocked
        else:
            body = request.body
            want = body.flowing and self._parser.state is not State.DONE
            if want:
                self._send_continue()
                if not self._deadline.pending:
                    self._deadline.set(self._config.body_timeout, self._body_timed_out)
            else:
                self._deadline.clear()
        if want:
            if self.paused:
                self.resumeProducing()
        elif not self.paused:
            self.pauseProducing()

    def _send_continue(self) -> None:
        """``100 Continue`` once a handler wants the body and before any final status."""
        head, response = self._head, self._response
        if (
            head is not None and head.expect_continue and not self._continue_sent
            and response is not None and not response.started
        ):
            self._continue_sent = True
            assert self.transport is not None
            self.write(_CONTINUE)

    def _can_discard(self) -> bool:
        """Whether the rest of the body can be read and thrown away to keep the connection."""
        if self._request is None or self._head is None:
            return False
        if self._head.expect_continue and not self._continue_sent:
            return False  # the client holds the body back; whether it sends it is unknowable
        length = self._request.body.length
        return length is not None and length <= self._config.max_discard_size

    # -- endings ------------------------------------------------------------

    def _refuse(self, error: ProtocolError) -> None:
        """Answer a bad request once, then close: framing can no longer be trusted."""
        self._parser.fail()
        response = self._response
        if response is None or not response.started:
            if response is not None:
                response.connection_lost(Failure(error))  # the handler's writes now go nowhere
            method = self._parser.method or b"GET"  # an error page to HEAD has no body either
            page = Response(self, method, b"HTTP/1.1", keep_alive=False)
            page.send_error(error.status, error.message)
        self._log.info(
            "Refused a request from {client}: {status} {message}",
            client=self._client_name(), status=error.status, message=error.message,
        )
        if self._request is not None:
            self._request.body.fail(error)
        self._close()

    def _close(self) -> None:
        """Close once what was written has been sent; abort if it is never read."""
        self._closed = True
        self._deadline.stop()
        self._parser.fail()
        transport = self.transport
        assert transport is not None
        self._flow.close()  # unregisters it: else the transport's close waits on it
        transport.loseConnection()
        self._write_deadline.set(self._config.write_timeout, self._abort)

    def _abort(self) -> None:
        self._closed = True
        self._deadline.stop()
        self._parser.fail()
        self._flow.end_direct()
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

    def _write_flow_changed(self) -> None:
        if self._flow.blocked:
            if not self._write_deadline.pending:
                self._write_deadline.set(self._config.write_timeout, self._write_timed_out)
        elif not self._closed:
            self._write_deadline.clear()
        self._update_reading()

    def _write_timed_out(self) -> None:
        self._log.info(
            "Cut off {client}: it read nothing of its responses for {seconds} seconds",
            client=self._client_name(), seconds=self._config.write_timeout,
        )
        if self._response is not None:
            self._response.connection_lost(Failure(ConnectionError("write timeout")))
        self._abort()

    def _idle_timed_out(self) -> None:
        self._close()  # nothing was asked, so nothing is answered

    def _head_timed_out(self) -> None:
        self._refuse(RequestTimeout("Request head not received in time"))

    def _body_timed_out(self) -> None:
        self._refuse(RequestTimeout("Request body not received in time"))

    # -- helpers ------------------------------------------------------------

    def _client_name(self) -> str:
        info = self._connection
        if info is None or info.client_host is None:
            return "-"
        return info.client_host

    def _log_access(self, response: Response) -> None:
        if not self._config.access_log or self._head is None:
            return
        head = self._head
        self._log.info(
            '{client} "{method} {target} {version}" {status} {size}',
            client=self._client_name(),
            method=head.method.decode("ascii"),
            target=head.target.decode("ascii"),  # visible ASCII only: the parser saw to it
            version=head.version.decode("ascii"),
            status=response.status,
            size=response.bytes_sent,
        )
