"""The WSGI container: PEP 3333 apps on a thread pool, streaming both ways.

Theory of operation. ``WSGIHandler.handle`` runs on the reactor: it builds the
environ and hands an ``_Exchange`` to the thread pool. On the app's thread the
exchange calls the app and walks its iterable; every call into the core (start,
write, finish, fail) hops to the reactor with ``callFromThread``, in order.

Backpressure: the exchange is the response's streaming producer. When the
transport's buffer fills, ``pauseProducing`` marks it paused and the app's
thread waits (in ``_wait_writable``) before taking the next chunk from the app;
``resumeProducing`` lets it go on. Bytes handed to the reactor but not yet
written are bounded by ``output_window`` too, so an app cannot outrun the
reactor. The reactor thread only takes the lock for a few assignments.

When the client goes away, the app's thread stops iterating, calls ``close()``,
and a ``write()`` raises ``ConnectionError``. A client that stops reading is
the channel's business: its write timeout aborts the connection, which stops
this producer and so frees the thread.

A request waits at most ``thread_wait_timeout`` for a thread; then it gets a
503, and when a thread does come it finds the request expired and moves on.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol

from twisted.internet.interfaces import IDelayedCall, IPushProducer
from twisted.logger import Logger
from twisted.protocols.basic import FileSender
from twisted.python.failure import Failure
from zope.interface import implementer

from ._interfaces import IRequestHandler
from ._request import Request
from ._response import Response
from ._wsgi_environ import make_environ, response_head
from ._wsgi_io import FileWrapper, ThreadHop, WouldDeadlock, WSGIErrors, WSGIInput

__all__ = ["FileWrapper", "WSGIHandler", "WouldDeadlock"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Head = tuple[int, list[tuple[bytes, bytes]], bytes]

_log = Logger(namespace="twisted_http.wsgi")


class Reactor(ThreadHop, Protocol):
    """The reactor methods the container uses."""

    def callLater(  # noqa: N802 - Twisted's name
        self, delay: float, f: Callable[..., object], /, *args: Any, **kwargs: Any
    ) -> IDelayedCall: ...


class ThreadPool(Protocol):
    def callInThread(  # noqa: N802 - Twisted's name
        self, f: Callable[..., object], /, *args: Any, **kwargs: Any
    ) -> None: ...


class _ClientGone(ConnectionError):
    """Raised inside the app's thread to unwind once the client has left."""


@implementer(IRequestHandler)
class WSGIHandler:
    """Runs a WSGI application for every request under its mount.

    ``thread_pool`` runs the app (a started ``twisted.python.threadpool.ThreadPool``);
    ``reactor`` defaults to the global one. ``input_buffer`` bounds how much of
    a request body waits for the app, ``output_window`` how much of its output
    waits for the reactor, and a request not started on a thread within
    ``thread_wait_timeout`` seconds gets 503.
    """

    def __init__(
        self,
        app: WSGIApp,
        thread_pool: ThreadPool,
        reactor: Reactor | None = None,
        *,
        input_buffer: int = 65536,
        output_window: int = 65536,
        thread_wait_timeout: float = 30.0,
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

    def handle(self, request: Request, response: Response) -> bool:
        exchange = _Exchange(self, request, response)
        exchange.wait_for_thread(self.thread_wait_timeout)
        self.thread_pool.callInThread(exchange.run)
        return True


@implementer(IPushProducer)
class _Exchange:
    """One request's trip through the app. Methods say which thread they run on."""

    def __init__(self, handler: WSGIHandler, request: Request, response: Response) -> None:
        self._app = handler.app
        self._reactor = handler.reactor
        self._window = handler.output_window
        self._request = request
        self._response = response
        self._reactor_thread = threading.get_ident()
        self._is_head = request.method == b"HEAD"
        # Shared between the threads, under _cond.
        self._cond = threading.Condition()
        self._paused = False
        self._gone = False
        self._started = False  # an app thread has taken the request
        self._expired = False  # ... or it waited too long and got a 503
        self._in_flight = 0
        # The app thread's own.
        self._head: Head | None = None
        self._head_sent = False
        self._timer: IDelayedCall | None = None
        self._input = WSGIInput(request.body, self._reactor, handler.input_buffer,
                                self._on_reactor_thread)
        self._environ = make_environ(request, self._input, WSGIErrors(self._log_error), FileWrapper)
        response.register_producer(self, True)
        response.notify_finish().addCallbacks(
            lambda _: self._cancel_timer(), lambda _: self._lost()
        )

    # -- the app's thread -----------------------------------------------------

    def run(self) -> None:
        """Call the app and send what it returns; never raises."""
        result: Iterable[bytes] | None = None
        handed_off = False
        with self._cond:
            if self._expired:
                return
            self._started = True
        try:
            if self._gone:
                return
            result = self._app(self._environ, self._start_response)
            handed_off = self._respond(result)
        except _ClientGone:
            pass
        except BaseException as error:
            self._reactor.callFromThread(self._fail, Failure())
            if not isinstance(error, Exception):
                raise
        finally:
            if result is not None and not handed_off:
                self._close(result)

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
        if self._gone:
            raise _ClientGone("the client has disconnected")
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
                self._reactor.callFromThread(self._send_file, head, result)
                return True
        for data in result:
            if self._gone:
                raise _ClientGone()
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
        with self._cond:
            self._in_flight += len(data)
        self._reactor.callFromThread(self._send, head, data)
        self._wait_writable()

    def _finish(self, length: int | None) -> None:
        head = None
        if not self._head_sent:
            if length is None and not self._is_head:
                length = 0  # nothing was written, so the body is empty
            head = self._head_with_length(length)
            self._head_sent = True
        self._reactor.callFromThread(self._end, head)

    def _head_with_length(self, length: int | None) -> Head:
        if self._head is None:
            raise RuntimeError("the app sent a body or returned without calling start_response")
        status, headers, reason = self._head
        if length is not None and status not in (204, 304) and not any(
            name.lower() == b"content-length" for name, _ in headers
        ):
            headers = [*headers, (b"Content-Length", b"%d" % length)]
        return status, headers, reason

    def _wait_writable(self) -> None:
        """Wait while the client is not taking what was sent (backpressure)."""
        with self._cond:
            while not self._gone and (self._paused or self._in_flight > self._window):
                if self._on_reactor_thread():
                    raise WouldDeadlock(
                        "the app would wait for the client on the reactor thread;"
                        " resume the transport's producer before running the app"
                    )
                self._cond.wait()
            if self._gone:
                raise _ClientGone()

    def _close(self, result: Iterable[bytes]) -> None:
        close = getattr(result, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception:
            self._reactor.callFromThread(self._fail, Failure())

    def _on_reactor_thread(self) -> bool:
        return threading.get_ident() == self._reactor_thread

    def _log_error(self, line: str) -> None:
        self._reactor.callFromThread(
            _log.error, "wsgi.errors: {line}", line=line, target=self._target()
        )

    # -- the reactor's side ---------------------------------------------------

    def _send(self, head: Head | None, data: bytes) -> None:
        try:
            if head is not None:
                self._response.start(*head)
            self._response.write(data)
        except Exception:
            self._fail(Failure())
        finally:
            with self._cond:
                self._in_flight -= len(data)
                self._cond.notify_all()

    def _end(self, head: Head | None) -> None:
        try:
            if head is not None:
                self._response.start(*head)
            self._response.finish()
        except Exception:
            self._fail(Failure())

    def _send_file(self, head: Head, wrapper: FileWrapper) -> None:
        response = self._response

        def done(result: object) -> None:
            try:
                wrapper.close()
            except Exception:
                self._fail(Failure())
            if isinstance(result, Failure):
                response.fail()
            elif not response.finished:
                response.finish()

        try:
            response.unregister_producer()  # FileSender is the producer now
            response.start(*head)
        except Exception:
            self._fail(Failure())
            done(None)
            return
        FileSender().beginFileTransfer(wrapper.filelike, _Consumer(response)).addBoth(done)

    def _fail(self, failure: Failure) -> None:
        """Log the app's failure; 500 if nothing was sent yet, else close the connection."""
        started = self._response.started
        _log.failure(
            "WSGI application failed on {target}" + (" after the headers were sent" if started
                                                      else ""),
            failure=failure, target=self._target(),
        )
        self._response.fail()
        self._lost()

    def _lost(self) -> None:
        with self._cond:
            self._gone = True
            self._cond.notify_all()
        self._cancel_timer()

    def _target(self) -> str:
        request = self._request
        return f"{request.method.decode('ascii')} {request.target.decode('ascii')}"

    def pauseProducing(self) -> None:  # noqa: N802
        with self._cond:
            self._paused = True

    def resumeProducing(self) -> None:  # noqa: N802
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stopProducing(self) -> None:  # noqa: N802
        self._lost()

    def wait_for_thread(self, seconds: float) -> None:
        """Answer 503 unless an app thread takes the request within ``seconds``."""
        self._timer = self._reactor.callLater(seconds, self._thread_wait_timed_out)

    def _thread_wait_timed_out(self) -> None:
        self._timer = None
        with self._cond:
            if self._started:
                return  # the app is running; how long it takes is its own business
            self._expired = True
        _log.warn("No thread for {target} in time: every WSGI thread is busy",
                  target=self._target())
        self._response.send_error(503, "Every worker is busy; try again shortly.",
                                  [(b"Retry-After", b"5")])

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None


class _Consumer:
    """The IConsumer FileSender writes to: a Response."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def registerProducer(self, producer: Any, streaming: bool) -> None:  # noqa: N802
        self._response.register_producer(producer, streaming)

    def unregisterProducer(self) -> None:  # noqa: N802
        self._response.unregister_producer()

    def write(self, data: bytes) -> None:
        self._response.write(data)


def _known_length(result: Iterable[bytes]) -> int | None:
    """The body's length when the app returned a list or tuple of bytes (PEP 3333 allows it)."""
    if isinstance(result, list | tuple) and all(isinstance(item, bytes) for item in result):
        return sum(len(item) for item in result)
    return None


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
