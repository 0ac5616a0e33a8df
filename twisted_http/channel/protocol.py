"""HTTPChannel: one connection's request cycle, glue between the reader and the handlers.

The reading half is ``RequestReader`` (reader.py): LineReceiver's loop driven by the
parser. This half answers what it reads. Requests are answered strictly one at a time:
once a request has been read, reading stops until its response is finished, so pipelined
requests wait unparsed and responses can never go out of order (Twisted's CVE-2023-46137
and CVE-2024-41671 were both this going wrong).

Bad input ends in ``_refuse``: a status and a short body if no response has
started, then the connection closes. Nothing after a bad request is parsed.

Timers, all on the server's clock: before a request's first byte the idle
timer (``first_request_timeout``, then ``keep_alive_timeout``) closes quietly;
from the first byte the head deadline (``head_timeout``) answers 408; while a
body is being read, ``body_timeout`` bounds the wait for each next piece.

The channel knows its server only as an ``IServer``: it reports its opening,
its closing and each ended response there, and the server may ask it to
``drain`` or ``abort`` (``IConnection``). Responses reach it through a
``ResponseLink`` (link.py), not through public methods of its own.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocol, ITCPTransport
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..wire.errors import BadRequest, ProtocolError, RequestTimeout
from ..wire.limits import ServerConfig
from ..wire.parser import RequestHead, RequestParser, State
from .body import RequestBody
from .deadline import Deadline
from .flow import Producer, WriteFlow
from .interfaces import IConnection, IServer
from .link import ResponseLink
from .reader import RequestReader
from .request import ConnectionInfo, Request
from .response import Response
from .routing import Mount
from .upgrade import UpgradeRefused, refusal

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# A connection accepted just before a drain has its first request on the way: a second
# covers any round trip but the slowest, and bounds a client that connects and says nothing.
DRAIN_GRACE = 1.0


@implementer(IHalfCloseableProtocol, IConnection)
class HTTPChannel(RequestReader):
    """One HTTP/1.1 connection on the server side, serving for ``server``.

    Public: Twisted's protocol methods, ``drain`` and ``abort``
    (``IConnection``), and ``reading`` and ``response_producer`` for tests.
    """

    _log = Logger()

    def __init__(self, server: IServer) -> None:
        config: ServerConfig = server.config
        super().__init__(RequestParser(config))
        self._server = server
        self._config = config
        self._head: RequestHead | None = None
        self._request: Request | None = None
        self._response: Response | None = None
        self._started = 0.0  # when the current request's head was complete
        self._deadline = Deadline(server.clock)  # the request timers: idle, head, body
        self._write_deadline = Deadline(server.clock)  # the client not reading
        self._flow = WriteFlow(server.clock, self._write_flow_changed)
        self._link = ResponseLink(self._flow, server.head_defaults, self._reusable,
                                  self._response_finished, self._response_aborted,
                                  self._switch_protocols)
        self._continue_sent = False
        self._draining = False  # close after the response in flight
        self._fresh = True  # no request yet: one may be on its way
        self._connection: ConnectionInfo | None = None

    @property
    def response_producer(self) -> Producer | None:
        """The producer the response being sent registered, if any."""
        return self._flow.producer

    # -- Twisted's side -----------------------------------------------------

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None
        if ITCPTransport.providedBy(transport):
            transport.setTcpNoDelay(True)  # responses are whole; don't let Nagle hold them
        self._connection = ConnectionInfo.from_transport(transport)
        # For the connection's whole life, every byte for the client goes
        # through the flow, which learns from the transport whether the
        # client keeps up (see flow.py).
        self._flow.connect(transport)
        self._deadline.set(self._config.first_request_timeout, self._idle_timed_out)
        self._server.connection_opened(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._successor is not None:
            self._successor.connectionLost(reason)
        if self._connection is not None:
            self._connection = None
            self._server.connection_closed(self)
        self._closed = True
        self._deadline.stop()
        self._write_deadline.stop()
        self._flow.stopProducing()
        self._parser.fail()
        if self._request is not None:
            self._request.body.fail(reason.value or ConnectionError())
        response = self._response
        if response is not None:
            cut_off = response.status != 0 and not response.finished  # begun, never ended
            response.connection_lost(reason)
            if cut_off:
                self._server.response_completed(self._request, response, self._started)
        # Nothing below is needed any more. Dropping it breaks the reference cycles through
        # this channel (its request's body, its flow and its response link call back into
        # it), so reference counting frees a connection at once, not the cyclic collector.
        self._head = self._request = self._response = None
        self._flow.release()
        self._link.release()

    # -- IConnection: what the server asks ----------------------------------

    @property
    def in_flight(self) -> bool:
        response = self._response
        return not self._closed and response is not None and not response.finished

    def drain(self) -> None:
        self._draining = True
        if self._successor is not None:  # switched: a protocol with a drain() is told so
            getattr(self._successor, "drain", lambda: None)()
        if self._closed or self._request is not None or not self._awaiting_request:
            return
        if self._fresh:
            # Just accepted: its first request is on its way (clients send it right
            # after connecting), and is answered with Connection: close.
            self._deadline.set(min(DRAIN_GRACE, self._config.first_request_timeout),
                               self._idle_timed_out)
        else:
            self._close()  # idle between requests: nothing is lost by closing now

    def abort(self) -> None:
        self._closed = True
        self._deadline.stop()
        self._parser.fail()
        self._flow.end_direct()
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

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
            if self._parsing_paused:
                self.resumeProducing()
        elif not self._parsing_paused:
            self.pauseProducing()

    def _end_if_starved(self) -> None:
        """After a half-close: end once the channel waits for bytes that cannot come."""
        if self._closed or self._parsing_paused or self._parsing:
            return  # held for a response or the client's reading: decided when parsing resumes
        request = self._request
        if request is None:
            self._close()  # at most part of a head is left: nothing more can be asked
        elif self._parser.state is not State.DONE and request.body.flowing:
            self._refuse(BadRequest("Request body cut short by the client"))

    # -- the request cycle --------------------------------------------------

    def _request_started(self) -> None:
        self._awaiting_request = False
        self._deadline.set(self._config.head_timeout, self._head_timed_out)

    def _body_received(self, data: bytes) -> None:
        self._deadline.set(self._config.body_timeout, self._body_timed_out)  # progress
        assert self._request is not None
        self._request.body.data(data)

    def _dispatch(self, head: RequestHead) -> None:
        self._fresh = False
        self._deadline.clear()
        self._started = self._server.clock.seconds()
        path = unquote_to_bytes(head.path) if b"%" in head.path else head.path
        mount: Mount = self._server.router.route(path)
        prefix = mount.prefix
        connection, host = self._connection, head.host
        assert connection is not None
        forwarded = self._server.forwarded
        if forwarded is not None:  # a proxy in front may say who the client is
            connection, host = forwarded(connection, head.headers, host)
        request = Request(
            method=head.method,
            target=head.target,
            path=head.path,
            query=head.query,
            version=head.version,
            headers=head.headers,
            host=host,
            script_name=prefix,
            path_info=path[len(prefix):],
            connection=connection,
            body=RequestBody(head.body_length, self._update_reading),
        )
        response = Response(self._link, head.method, head.version, head.keep_alive)
        self._head, self._request, self._response = head, request, response
        self._continue_sent = False
        try:
            mount.handle(request, response)
        except Exception:
            self._log.failure("Handler failed on {method} {target}",
                              method=head.method.decode("ascii"),
                              target=head.target.decode("ascii"))
            response.fail()
        finally:
            self._update_reading()

    def _follow_parser(self) -> None:
        """Act on the parser's new state: the end of a message, and what to read next."""
        parser = self._parser
        if parser.state is State.DONE:
            if self._request is not None and not self._request.body.complete:
                self._request.body.finish(parser.trailers)
            if not self._closed and self._response is not None and self._response.finished:
                self._next_request()
        if not self._closed:
            self._update_reading()

    def _next_request(self) -> None:
        if self._draining:
            self._close()
            return
        self._head = self._request = self._response = None
        self._parser.start_next()
        self._awaiting_request = True
        self._deadline.set(self._config.keep_alive_timeout, self._idle_timed_out)
        self._update_reading()

    def _send_continue(self) -> None:
        """``100 Continue`` once a handler wants the body and before any final status."""
        head, response = self._head, self._response
        if (
            head is not None and head.expect_continue and not self._continue_sent
            and response is not None and not response.started
        ):
            self._continue_sent = True
            self._flow.send(_CONTINUE)

    def _can_discard(self) -> bool:
        """Whether the rest of the body can be read and thrown away to keep the connection."""
        if self._request is None or self._head is None:
            return False
        if self._head.expect_continue and not self._continue_sent:
            return False  # the client holds the body back; whether it sends it is unknowable
        length = self._request.body.length
        return length is not None and length <= self._config.max_discard_size

    # -- what the response link reports -------------------------------------

    def _reusable(self) -> bool:
        if self._request is None or self._draining:
            return False
        body = self._request.body
        return body.complete or body.claimed or self._can_discard()

    def _response_finished(self, response: Response) -> None:
        self._server.response_completed(self._request, response, self._started)
        if response is not self._response:
            return  # an error page sent by _refuse
        if not response.keep_alive or self._draining:
            self._close()
        elif self._parser.state is State.DONE:
            self._next_request()
        elif self._can_discard():
            assert self._request is not None
            self._request.body.discard()  # reading resumes through the body's demand
        else:
            self._close()

    def _response_aborted(self, response: Response) -> None:
        if response is self._response:
            self._close()

    def _switch_protocols(
        self, response: Response, upgrade: bytes, head: bytes, protocol: IProtocol
    ) -> None:
        """Send the 101 head, then hand the transport and every later byte to ``protocol``."""
        head_in = self._head
        if response is not self._response or head_in is None:
            raise RuntimeError("only the response in flight can switch protocols")
        why = refusal(head_in.version, head_in.headers, head_in.body_length, upgrade)
        if why is not None:
            raise UpgradeRefused(why)
        assert self._parser.state is State.DONE  # no body: the request has been read
        self._flow.send(head)
        self._server.response_completed(self._request, response, self._started)
        self._closed = True  # to HTTP: no more parsing, timers or responses
        self._parsing_paused = True  # and so the reader passes bytes on (see reader.py)
        self._successor = protocol
        self._deadline.stop()
        self._write_deadline.stop()
        self._parser.fail()
        self._flow.close()  # the transport's producer no more: the protocol may register one
        transport = self.transport
        assert transport is not None
        protocol.makeConnection(transport)
        early, self._unparsed = self._unparsed, b""
        if self._holding:
            self._holding = False
            transport.resumeProducing()  # type: ignore[attr-defined]
        if early:
            protocol.dataReceived(early)
        if self._draining:  # switched in a drain's grace: the protocol hears of it now
            self.drain()

    # -- endings ------------------------------------------------------------

    def _refuse(self, error: ProtocolError) -> None:
        """Answer a bad request once, then close: framing can no longer be trusted."""
        self._parser.fail()
        response = self._response
        if response is None or not response.started:
            if response is not None:
                response.connection_lost(Failure(error))  # the handler's writes now go nowhere
            else:
                self._started = self._server.clock.seconds()
            method = self._parser.method or b"GET"  # an error page to HEAD has no body either
            page = Response(self._link, method, b"HTTP/1.1", keep_alive=False)
            page.refusal, page.connection = True, self._connection
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
        if not self._flow.close():  # (unregistered: else the transport's close waits on it)
            self._write_deadline.set(self._config.write_timeout, self.abort)  # bytes wait
        transport.loseConnection()

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
        self.abort()

    def _idle_timed_out(self) -> None:
        self._close()  # nothing was asked, so nothing is answered

    def _head_timed_out(self) -> None:
        self._refuse(RequestTimeout("Request head not received in time"))

    def _body_timed_out(self) -> None:
        self._refuse(RequestTimeout("Request body not received in time"))

    def _client_name(self) -> str:
        return "-" if self._connection is None else self._connection.client_name
