"""The WSGI container's streams: ``wsgi.input``, ``wsgi.errors`` and ``wsgi.file_wrapper``.

Theory of operation for ``wsgi.input``: the request body is filled in on the
reactor thread (``IBodyReceiver``) and read on the app's thread, through one
small buffer guarded by a condition. Nothing is read from the client until the
app first reads (that is when ``100 Continue`` goes out). When the buffer holds
``limit`` bytes the body is paused, so the channel stops reading the socket; as
the app drains it below half of that, the body is resumed. The app thread hops
to the reactor with ``callFromThread`` for every call into the core, and the
reactor thread only ever holds the lock for a few assignments: it never waits
on an app.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Protocol

from zope.interface import implementer

from ..channel.body import IBodyReceiver, RequestBody


class ThreadHop(Protocol):
    """What the container needs of a reactor: a way onto its thread."""

    def callFromThread(  # noqa: N802 - Twisted's name
        self, f: Callable[..., object], /, *args: Any
    ) -> None: ...


class WouldDeadlock(RuntimeError):
    """An app thread had to wait for the client while running on the reactor thread.

    Only synchronous test fakes (an inline thread pool) put the app there; with
    a real thread pool this cannot happen.
    """


class InputLines:
    """``readlines`` and iteration of an input stream, made of its ``readline``."""

    def readline(self, size: int | None = -1) -> bytes:
        raise NotImplementedError

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


@implementer(IBodyReceiver)
class WSGIInput(InputLines):
    """``wsgi.input``: the request body as it arrives, read from an app thread."""

    def __init__(
        self,
        body: RequestBody,
        reactor: ThreadHop,
        limit: int,
        reactor_thread: int,
        on_wait: Callable[[], None],
        delivered: bool = False,
    ) -> None:
        """``delivered``: the body already flows to a receiver that passes it on here."""
        self._body = body
        self._reactor = reactor
        self._limit = limit
        self._reactor_thread = reactor_thread
        self._on_wait = on_wait  # told when the app's thread is about to wait for the client
        self._then: Callable[[], None] | None = None  # prefetch's
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()  # as delivered: no copy until the app reads
        self._buffered = 0  # bytes in _chunks
        self._eof = body.length == 0
        self._error: BaseException | None = None
        self._requested = delivered  # deliver_to has been asked for
        self._paused = False  # the body is paused because the buffer is full
        self._resuming = False  # a resume is on its way to the reactor

    # -- the reactor's side ---------------------------------------------------

    def body_received(self, data: bytes) -> None:
        with self._cond:
            self._chunks.append(data)
            self._buffered += len(data)
            pause = self._buffered >= self._limit and not self._paused
            if pause:
                self._paused = True
            self._cond.notify_all()
        if pause:
            self._body.pause()

    def body_finished(self) -> None:
        with self._cond:
            self._eof = True
            self._cond.notify_all()
        self._complete()

    def body_failed(self, reason: BaseException) -> None:
        with self._cond:
            self._error = reason
            self._cond.notify_all()
        self._complete()

    def prefetch(self, then: Callable[[], None]) -> None:
        """Read the whole body now, and call ``then`` once it is in, or has failed.

        For a body that fits the buffer, sent by a client that does not wait
        for ``100 Continue``: the app then finds it all there, and never waits.
        """
        self._requested = True
        self._then = then
        self._body.deliver_to(self)

    def _complete(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            then()

    def _start(self) -> None:
        self._body.deliver_to(self)

    def _resume(self) -> None:
        with self._cond:
            self._paused = self._resuming = False
        self._body.resume()

    # -- the app's side: the PEP 3333 input stream ----------------------------

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self._take(self._limit), b""))
        parts = []
        while size > 0:
            data = self._take(size)
            if not data:
                break
            parts.append(data)
            size -= len(data)
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        limit = size if size is not None and size >= 0 else None
        parts = []
        while limit is None or limit > 0:
            data = self._take(self._limit if limit is None else limit, line=True)
            if not data:
                break
            parts.append(data)
            if limit is not None:
                limit -= len(data)
            if data.endswith(b"\n"):
                break
        return b"".join(parts)

    def _take(self, size: int, line: bool = False) -> bytes:
        """Up to ``size`` bytes, waiting for at least one; b"" at the end of the body."""
        while True:
            with self._cond:
                if self._chunks:
                    data = self._pop(size, line)
                    resume = (
                        self._paused and not self._resuming
                        and self._buffered < self._limit // 2
                    )
                    if resume:
                        self._resuming = True
                    break
                if self._error is not None:
                    raise ConnectionError(f"the request body ended early: {self._error}")
                if self._eof:
                    return b""
                start = not self._requested
                self._requested = True
                if not start:
                    if threading.get_ident() == self._reactor_thread:
                        raise WouldDeadlock(
                            "wsgi.input would wait for the client on the reactor thread;"
                            " send the whole body before running a synchronous thread pool"
                        )
                    self._on_wait()
                    self._cond.wait()
                    continue
            self._reactor.callFromThread(self._start)
        if resume:
            self._reactor.callFromThread(self._resume)
        return data

    def _pop(self, size: int, line: bool) -> bytes:
        """Up to ``size`` buffered bytes (to the first newline with ``line``); under _cond."""
        chunks, parts, taken = self._chunks, [], 0
        while chunks and taken < size:
            chunk = chunks[0]
            want = size - taken
            newline = chunk.find(b"\n", 0, want) if line else -1
            if newline >= 0:
                want = newline + 1
            if len(chunk) <= want:
                parts.append(chunks.popleft())
                taken += len(chunk)
            else:
                parts.append(chunk[:want])
                chunks[0] = chunk[want:]
                taken += want
            if newline >= 0:
                break
        self._buffered -= taken
        return parts[0] if len(parts) == 1 else b"".join(parts)


class EmptyInput:
    """``wsgi.input`` for a request without a body: always at its end.

    It holds nothing, so one serves every such request, on any thread.
    """

    def read(self, size: int | None = -1) -> bytes:
        return b""

    def readline(self, size: int | None = -1) -> bytes:
        return b""

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


EMPTY_INPUT = EmptyInput()


class WSGIErrors:
    """``wsgi.errors``: text the app writes, sent to the server's log a line at a time."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._partial = ""

    def write(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors takes str, not {type(text).__name__}")
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._emit(line)

    def writelines(self, seq: Iterable[str]) -> None:
        for text in seq:
            self.write(text)

    def flush(self) -> None:
        if self._partial:
            line, self._partial = self._partial, ""
            self._emit(line)


class FileWrapper:
    """``wsgi.file_wrapper``: a file as a response body.

    Returned as is by an app, a wrapped regular file is sent by the reactor
    with a producer (as static files are), freeing the app's thread; anything
    else is iterated in blocks like any other body.
    """

    def __init__(self, filelike: IO[bytes] | Any, block_size: int = 65536) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data: bytes = self.filelike.read(self.block_size)
        if not data:
            raise StopIteration
        return data

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()
