"""A WSGI response on its way out: from the app's thread to the client, batched and paced.

Theory of operation. The app's thread puts the head, the body chunks and the
end into an outbox, under a lock. The first thing put there after the reactor
last emptied it posts one flush to the reactor; whatever the app adds before
that flush runs leaves with it, so a small response (head, body, end) is one
hop, and a fast stream is one hop per batch rather than per chunk.

Backpressure: the outbox is the response's streaming producer. While the
transport has paused it (its buffer is past the high-water mark: the client
is behind) nothing is flushed, and ``resumeProducing`` writes out what piled
up meanwhile, all of it. The app's thread runs ahead of the client by at most
``window`` bytes: past that it waits (``wait_writable``) for the next flush.
So the outbox holds at most the window and one chunk, and the transport at
most that above its high-water mark. Handing Twisted a whole window at once is
deliberate: it sends at most 128 KiB per reactor turn however much it holds,
but every resume-flush-pause cycle costs turns of its own (measured on a 1 MiB
stream: flushing only until the transport pauses, 64 KiB at a time, halved
the throughput). At the end of a response the thread waits while more than
``HELD_AT_END`` is left, so a response whose thread went back to the pool
leaves little behind. The reactor thread never waits on an app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..channel.request import Request
from ..channel.response import Response
from .environ import Head
from .io import ThreadHop, WouldDeadlock

_log = Logger(namespace="twisted_http.wsgi")



class ClientGone(ConnectionError):
    """Raised inside the app's thread to unwind once the client has left."""


# What a finished response may leave queued when its thread goes back to the
# pool: the transport's own high-water mark (Twisted's ``bufferSize``).
HELD_AT_END = 65536


@implementer(IPushProducer)
class Outbox:
    """One response's output. Methods say which thread they run on."""

    def __init__(
        self, request: Request, response: Response, hop: ThreadHop, window: int,
        reactor_thread: int, on_wait: Callable[[], None],
    ) -> None:
        # Nothing here refers back to the exchange: a finished request is freed
        # by reference counting, with no cycle for the garbage collector.
        self._request = request
        self._response = response
        self._hop = hop
        self._window = window
        self._reactor_thread = reactor_thread
        self._on_wait = on_wait  # told when the app's thread is about to wait for the client
        # Shared between the threads, under _lock.
        self._lock = threading.Lock()
        self._head: Head | None = None
        self._chunks: list[bytes] = []
        self._queued = 0  # bytes in _chunks
        self._end = False
        self._posted = False  # a flush is on its way to the reactor
        self._paused = False  # the transport's buffer is full: the client is behind
        self._waiter: threading.Lock | None = None  # held while the app's thread waits
        self.gone = False  # the client left, or the response failed

    @property
    def waiting(self) -> bool:
        """True while the app's thread waits for the client to take what is queued."""
        return self._waiter is not None

    # -- the app's thread -----------------------------------------------------

    def put(self, head: Head | None, chunks: list[bytes], size: int, end: bool) -> None:
        """Queue ``chunks`` (``size`` bytes in all), after ``head`` if given; ``end`` finishes.

        Raises ClientGone once the client has left.
        """
        with self._lock:
            if self.gone:
                raise ClientGone("the client has disconnected")
            if head is not None:
                self._head = head
            if chunks:
                self._chunks += chunks
                self._queued += size
            if end:
                self._end = True
            post = not (self._posted or self._paused)
            if post:
                self._posted = True
        if post:
            self._hop.callFromThread(self._flush)

    def wait_writable(self, end: bool = False) -> None:
        """Wait while more than the window is queued (with ``end``, than HELD_AT_END).

        Raises ClientGone once the client has left.
        """
        limit = min(self._window, HELD_AT_END) if end else self._window
        while True:
            with self._lock:
                if self.gone:
                    raise ClientGone("the client has disconnected")
                if self._queued <= limit:
                    return
                if threading.get_ident() == self._reactor_thread:
                    raise WouldDeadlock(
                        "the app would wait for the client on the reactor thread;"
                        " resume the transport's producer before running the app"
                    )
                waiter = self._waiter = threading.Lock()
                waiter.acquire()
                self._on_wait()
            waiter.acquire()  # released by a flush, or by lose()

    # -- the reactor's side ---------------------------------------------------

    def _flush(self) -> None:
        """Write everything queued, unless the client is behind; finish at the end."""
        response = self._response
        with self._lock:
            self._posted = False
            if self._paused or self.gone:
                return
            head, chunks, end = self._head, self._chunks, self._end
            self._head, self._chunks, self._queued, self._end = None, [], 0, False
            if self._waiter is not None:
                self._waiter.release()
                self._waiter = None
        try:
            if head is not None:
                response.start(*head)
            for chunk in chunks:
                response.write(chunk)
            if end:
                response.finish()
        except Exception:
            self.fail(Failure())

    def fail(self, failure: Failure) -> None:
        """Log the app's failure; 500 if nothing was sent yet, else close the connection."""
        request, response = self._request, self._response
        _log.failure(
            "WSGI application failed on {target}" + (" after the headers were sent"
                                                      if response.started else ""),
            failure=failure, target=describe(request),
        )
        self.lose()
        response.fail()

    def lose(self) -> None:
        """The response is over without its end: drop the outbox, free the app's thread."""
        with self._lock:
            self.gone = True
            self._head, self._chunks, self._queued = None, [], 0
            if self._waiter is not None:
                self._waiter.release()
                self._waiter = None

    def pauseProducing(self) -> None:  # noqa: N802
        self._paused = True  # the reactor's own flag: only the reactor writes it

    def resumeProducing(self) -> None:  # noqa: N802
        self._paused = False
        self._flush()

    def stopProducing(self) -> None:  # noqa: N802
        self.lose()


def describe(request: Request) -> str:
    """The request as the log names it: method and target."""
    return f"{request.method.decode('ascii')} {request.target.decode('ascii')}"
