"""The WSGI container: PEP 3333 apps on a thread pool, streaming both ways.

Theory of operation. ``WSGIHandler.handle`` runs on the reactor: it builds the
environ and queues an ``_Exchange`` for an app thread (``_wsgi_threads``). On
the app's thread the exchange calls the app and walks its iterable, putting
the head, the chunks and the end into the response's outbox
(``_wsgi_output``), which the reactor writes out in batches as the client
reads. Every hop back to the reactor goes through the handler's
``ReactorQueue``, in order, so a burst of calls costs one wakeup.

When the client goes away, the app's thread stops iterating, calls ``close()``,
and a ``write()`` raises ``ConnectionError``. A client that stops reading is
the channel's business: its write timeout aborts the connection, which stops
the outbox and so frees the thread.

A request waits at most ``thread_wait_timeout`` for a thread; then it gets a
503 and the app never sees it.

No object of an exchange refers back to the exchange: a finished request is
freed by reference counting alone, leaving nothing for the cyclic garbage
collector, whose passes cost a busy server more than its whole environ.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterable
from functools import partial
from types import TracebackType
from typing import IO, Any, Protocol

from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..channel.interfaces import IRequestHandler
from ..channel.request import Request
from ..channel.response import Response
from ..channel.sender import FileSender
from ..wire.fields import HeaderBlock
from .environ import Head, make_environ, response_head
from .io import (
    EMPTY_INPUT,
    EmptyInput,
    FileWrapper,
    ThreadHop,
    WouldDeadlock,
    WSGIErrors,
    WSGIInput,
)
from .output import ClientGone, Outbox, describe
from .readahead import ContinuedInput, ReadAhead
from .threads import Clock, Dispatcher, ReactorQueue, ThreadPool

__all__ = ["FileWrapper", "WSGIHandler", "WouldDeadlock"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_log = Logger(namespace="twisted_http.wsgi")


class Reactor(ThreadHop, Clock, Protocol):
    """The reactor methods the container uses."""


@implementer(IRequestHandler)
class WSGIHandler:
    """Runs a WSGI application for every request under its mount.

    ``thread_pool`` runs the app (a started ``twisted.python.threadpool.ThreadPool``);
    ``reactor`` defaults to the global one. ``input_buffer`` bounds how much of
    a request body waits for the app (a body that fits is read before the app
    starts), ``output_window`` how far the app's output may run ahead of the
    client (1 MiB: Twisted is handed a stream in large batches, fewer reactor
    turns per byte), and a request not started on a thread within
    ``thread_wait_timeout`` seconds gets 503. A chunked body is read before
    the app runs, ``read_ahead_memory`` bytes of it in memory and the rest up
    to ``read_ahead_size`` in a temporary file, so the app gets a
    ``CONTENT_LENGTH`` (``readahead``; ``WSGIOptions`` in serve/mounts.py says why).
    """

    def __init__(
        self,
        app: WSGIApp,
        thread_pool: ThreadPool,
        reactor: Reactor | None = None,
        *,
        input_buffer: int = 65536,
        output_window: int = 1 << 20,
        thread_wait_timeout: float = 30.0,
        read_ahead_memory: int = 1 << 20,
        read_ahead_size: int = 1 << 30,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor  # type: ignore[assignment]
        assert reactor is not None
        self.app = app
        self.thread_pool = thread_pool
        self.reactor: Reactor = reactor
        self.input_buffer = input_buffer
        self.output_window = output_window
        self.thread_wait_timeout = thread_wait_timeout
        self.read_ahead_memory = read_ahead_memory
        self.read_ahead_size = read_ahead_size
        self.hop = ReactorQueue(reactor)
        self.dispatcher = Dispatcher(thread_pool, reactor, thread_wait_timeout)
        self.running: set[_Exchange] = set()  # on app threads now
        add_trigger = getattr(reactor, "addSystemEventTrigger", None)
        if add_trigger is not None:
            # "during": after the server's drain (a "before" trigger), in which
            # every request already received still runs to its end.
            add_trigger("during", "shutdown", self._shut_down)

    def handle(self, request: Request, response: Response) -> bool:
        length = request.body.length
        if length is None and self.read_ahead_size:
            # Chunked: read it first, so the app gets a CONTENT_LENGTH and bad
            # framing gets its 400 before the app runs (wsgi/readahead.py).
            ReadAhead(request.body, self.read_ahead_memory, self.read_ahead_size,
                      partial(self._read_ahead, request, response)).start()
            return True
        exchange = _Exchange(self, request, response)
        if length and length <= self.input_buffer and b"expect" not in request.headers:
            # A small body from a client that is sending it anyway: the app
            # starts once it is all in, so its thread never waits for it.
            assert exchange.input is not None
            exchange.input.prefetch(partial(self.dispatcher.dispatch, exchange))
        else:
            self.dispatcher.dispatch(exchange)
        return True

    def _read_ahead(self, request: Request, response: Response, ahead: ReadAhead) -> None:
        self.dispatcher.dispatch(_Exchange(self, request, response, ahead))

    def _shut_down(self) -> None:
        """Let every app thread go before the pool is joined.

        An app's thread may be waiting for the reactor (to write, or for body
        bytes), and the reactor is about to wait for the thread: its request
        is let go, as the client would be a moment later.
        """
        for exchange in [*self.dispatcher.stop(), *self.running]:
            exchange.abort()


class _Exchange:
    """One request's trip through the app. Methods say which thread they run on."""

    def __init__(self, handler: WSGIHandler, request: Request, response: Response,
                 ahead: ReadAhead | None = None) -> None:
        self._app = handler.app
        self._running = handler.running
        self._hop = handler.hop
        self._window = handler.output_window
        self._request = request
        self._response = response
        self._reactor_thread = threading.get_ident()
        self._is_head = request.method == b"HEAD"
        # The app thread's own.
        self._head: Head | None = None
        self._head_sent = False  # handed to the outbox
        on_wait = handler.dispatcher.blocking
        self._out = Outbox(request, response, self._hop, handler.output_window,
                           self._reactor_thread, on_wait)
        self.input: WSGIInput | None = None
        self._body_file: IO[bytes] | None = None  # a chunked body read ahead whole
        wsgi_input: WSGIInput | EmptyInput | ContinuedInput | IO[bytes] = EMPTY_INPUT
        if ahead is not None and ahead.complete:
            wsgi_input = self._body_file = ahead.stream()
        elif request.body.length != 0:
            wsgi_input = self.input = WSGIInput(request.body, self._hop, handler.input_buffer,
                                                self._reactor_thread, on_wait,
                                                delivered=ahead is not None)
            if ahead is not None:  # longer than the read-ahead: the rest is streamed
                wsgi_input = ContinuedInput(ahead.stream(), self.input)
                ahead.hand_over(self.input)
        errors = WSGIErrors(partial(self._hop.callFromThread, _log_error_line, request))
        self._environ = make_environ(request, wsgi_input, errors, FileWrapper)
        if self._body_file is not None and ahead is not None:
            # The app sees a body of known length, no longer chunked (waitress does too).
            self._environ["CONTENT_LENGTH"] = str(ahead.size)
            self._environ.pop("HTTP_TRANSFER_ENCODING", None)
        response.register_producer(self._out, True)
        response.on_lost(self._lost)

    # -- the app's thread -----------------------------------------------------

    def run(self) -> None:
        """Call the app and send what it returns; never raises."""
        result: Iterable[bytes] | None = None
        handed_off = False
        self._running.add(self)
        try:
            if self._out.gone:
                return
            result = self._app(self._environ, self._start_response)
            handed_off = self._respond(result)
        except ClientGone:
            pass
        except BaseException as error:
            self._hop.callFromThread(self._out.fail, Failure())
            if not isinstance(error, Exception):
                raise
        finally:
            if result is not None and not handed_off:
                self._close(result)
            if self._body_file is not None:
                self._body_file.close()  # a temporary file's space is freed now
            self._running.discard(self)

    def _start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self._head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # PEP 3333: break the traceback's reference cycle
        elif self._head is not None:
            raise RuntimeError("start_response called twice without exc_info")
        self._head = response_head(status, headers)
        return self._write_callable

    def _write_callable(self, data: bytes) -> None:
        """The ``write()`` that ``start_response`` returns."""
        if not isinstance(data, bytes):
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        if self._out.gone:
            raise ClientGone("the client has disconnected")
        if data:
            self._write(data, None)

    def _respond(self, result: Iterable[bytes]) -> bool:
        """Send the app's body; True when the reactor took over (a wrapped file)."""
        length = _known_length(result) if not self._head_sent else None
        if self._is_head:
            # Nothing of the body is sent; iterate only until start_response is
            # called, for apps that call it from inside a generator.
            if self._head is None:
                for _ in result:
                    if self._head is not None:
                        break
            self._finish(length)
            return False
        if type(result) is FileWrapper and self._head is not None and not self._head_sent:
            size = _file_size(result)
            if size is not None:
                self._head_sent = True
                head = self._head_with_length(size)
                self._hop.callFromThread(self._send_file, head, result, size)
                return True
        if length is not None and length <= self._window:
            # A whole body already in memory: head, body and end leave in one hop.
            head = self._head_with_length(length)
            self._head_sent = True
            self._out.put(head, [data for data in result if data], length, True)
            self._out.wait_writable(end=True)
            return False
        for data in result:
            if self._out.gone:
                raise ClientGone("the client has disconnected")
            if not isinstance(data, bytes):
                raise TypeError(f"the app yielded {type(data).__name__}, not bytes")
            if data:
                self._write(data, length)
        self._finish(length)
        return False

    def _write(self, data: bytes, length: int | None) -> None:
        head = None
        if not self._head_sent:
            head = self._head_with_length(length)
            self._head_sent = True
        self._out.put(head, [data], len(data), False)
        self._out.wait_writable()

    def _finish(self, length: int | None) -> None:
        head = None
        if not self._head_sent:
            if length is None and not self._is_head:
                length = 0  # nothing was written, so the body is empty
            head = self._head_with_length(length)
            self._head_sent = True
        self._out.put(head, [], 0, True)
        self._out.wait_writable(end=True)

    def _head_with_length(self, length: int | None) -> Head:
        if self._head is None:
            raise RuntimeError("the app sent a body or returned without calling start_response")
        status, headers, reason = self._head
        if length is not None and status not in (204, 304) and not _has_length(headers):
            headers = [*headers, (b"Content-Length", b"%d" % length)]
        return status, headers, reason

    def _close(self, result: Iterable[bytes]) -> None:
        close = getattr(result, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception:
            # Logged only: the response may be complete, waiting for the client.
            self._hop.callFromThread(self._log_close_failure, Failure())

    # -- the reactor's side ---------------------------------------------------

    def _log_close_failure(self, failure: Failure) -> None:
        _log.failure("close() of the WSGI response failed on {target}", failure=failure,
                     target=describe(self._request))

    def _send_file(self, head: Head, wrapper: FileWrapper, size: int) -> None:
        """The wrapped file's ``size`` bytes from where it stands, by the static files'
        ``FileSender`` (``os.sendfile`` where it can); the wrapper is closed at the end."""
        response = self._response
        try:
            response.unregister_producer()  # the file sender is the producer now
            response.start(*head)
            fd = os.dup(wrapper.filelike.fileno())  # the sender closes its own descriptor
            offset = wrapper.filelike.tell()
        except Exception:
            self._out.fail(Failure())
            self._close_wrapper(wrapper)
            return
        response.notify_finish().addBoth(lambda _: self._close_wrapper(wrapper))
        FileSender(fd, [(offset, size)], response).start()

    def _close_wrapper(self, wrapper: FileWrapper) -> None:
        try:
            wrapper.close()
        except Exception:
            self._log_close_failure(Failure())

    def _lost(self, _: object) -> None:
        self._out.lose()

    def abort(self) -> None:
        self._out.lose()
        if self.input is not None:
            self.input.body_failed(ConnectionError("the server is shutting down"))

    def expire(self) -> None:
        """No thread came in time: 503, and the app never runs."""
        self._out.lose()
        _log.warn("No thread for {target} in time: every WSGI thread is busy",
                  target=describe(self._request))
        self._response.send_error(503, "Every worker is busy; try again shortly.",
                                  [(b"Retry-After", b"5")])


def _log_error_line(request: Request, line: str) -> None:
    _log.error("wsgi.errors: {line}", line=line, target=describe(request))


def _has_length(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    if type(headers) is HeaderBlock:
        return headers.fields.length is not None
    return any(name.lower() == b"content-length" for name, _ in headers)


def _known_length(result: Iterable[bytes]) -> int | None:
    """The body's length when the app returned a list or tuple of bytes (PEP 3333 allows it)."""
    if type(result) is not list and type(result) is not tuple:
        return None
    length = 0
    for item in result:
        if type(item) is not bytes:
            return None
        length += len(item)
    return length


def _file_size(wrapper: FileWrapper) -> int | None:
    """Bytes left in a wrapped regular file, or None when it is not one."""
    try:
        fd = wrapper.filelike.fileno()
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        return max(0, info.st_size - wrapper.filelike.tell())
    except (AttributeError, OSError, ValueError):
        return None
