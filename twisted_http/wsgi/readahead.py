"""A chunked request body read before the WSGI app runs, so the app gets a ``CONTENT_LENGTH``.

PEP 3333 lets a server stream a body of unknown length and say so with
``wsgi.input_terminated``, but most apps (Django's among them) read exactly
``CONTENT_LENGTH`` bytes and, without it, see an empty body. So before the
app runs, a chunked body is read here: up to ``memory`` bytes in memory, and
past that, up to ``limit``, into an anonymous temporary file (waitress's
``inbuf_overflow`` idea, our own code). Reading it asks for the body, so a
client that sent ``Expect: 100-continue`` gets its ``100 Continue`` first.

- The whole body arrives within ``limit``: ``done`` is called, and the app gets
  ``CONTENT_LENGTH`` and a seekable ``wsgi.input`` (``stream``).
- The body's framing is bad, the client goes or is too slow: the channel
  answers (400, 413 past ``max_body_size``, 408) and ``done`` is never called,
  so the app never runs for a request it could not have read.
- The body goes past ``limit``: ``done`` is called with ``complete`` false; the
  app gets what was read (``stream``) followed by the rest as it arrives
  (``hand_over``), streamed as before, with no ``CONTENT_LENGTH``.

Runs on the reactor thread. Writes to the temporary file are synchronous: they
go to the page cache, and at most ``limit`` bytes per request.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import IO, Protocol

from zope.interface import implementer

from ..channel.body import IBodyReceiver, RequestBody
from .io import InputLines


class _Stream(Protocol):
    def read(self, size: int | None = -1, /) -> bytes: ...
    def readline(self, size: int | None = -1, /) -> bytes: ...


@implementer(IBodyReceiver)
class ReadAhead:
    """Reads one chunked body ahead of the app; see the module docstring."""

    def __init__(
        self, body: RequestBody, memory: int, limit: int, done: Callable[[ReadAhead], None]
    ) -> None:
        self._body = body
        self._memory = memory
        self._limit = limit
        self._done: Callable[[ReadAhead], None] | None = done
        self._parts: list[bytes] = []
        self._spool: IO[bytes] | None = None
        self._pending = b""  # past the limit, for whoever takes the rest
        self._receiver: IBodyReceiver | None = None  # after hand_over, everything goes there
        self.size = 0
        self.complete = False

    def start(self) -> None:
        self._body.deliver_to(self)

    def stream(self) -> IO[bytes]:
        """What was read, as a file at its start. Once."""
        if self._spool is None:
            data = b"".join(self._parts)
            self._parts = []
            return io.BytesIO(data)
        spool, self._spool = self._spool, None
        spool.seek(0)
        return spool

    def hand_over(self, receiver: IBodyReceiver) -> None:
        """After a ``done`` with ``complete`` false: the rest of the body goes to ``receiver``."""
        self._receiver = receiver
        pending, self._pending = self._pending, b""
        if pending:
            receiver.body_received(pending)

    # -- IBodyReceiver ------------------------------------------------------

    def body_received(self, data: bytes) -> None:
        if self._receiver is not None:
            self._receiver.body_received(data)
            return
        if self._done is None:  # past the limit, not yet handed over
            self._pending += data
            return
        size = self.size + len(data)
        if size > self._limit:
            self._pending = data
            self._finish()
            return
        self.size = size
        if self._spool is not None:
            self._spool.write(data)
        elif size > self._memory:
            self._spool = tempfile.TemporaryFile()
            self._spool.writelines(self._parts)
            self._spool.write(data)
            self._parts = []
        else:
            self._parts.append(data)

    def body_finished(self) -> None:
        if self._receiver is not None:
            self._receiver.body_finished()
            return
        self.complete = True
        self._finish()

    def body_failed(self, reason: BaseException) -> None:
        if self._receiver is not None:
            self._receiver.body_failed(reason)
            return
        # The channel answers this request; the app never sees it.
        self._done = None
        self._parts = []
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def _finish(self) -> None:
        done, self._done = self._done, None
        if done is not None:
            done(self)


class ContinuedInput(InputLines):
    """``wsgi.input`` for a body longer than the read-ahead: what was read, then the rest live."""

    def __init__(self, first: IO[bytes], rest: _Stream) -> None:
        self._first = first
        self._rest = rest

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self._first.read() + self._rest.read()
        data = self._first.read(size)
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        line = self._first.readline(limit)
        if line.endswith(b"\n") or 0 <= limit == len(line):
            return line
        return line + self._rest.readline(limit - len(line) if limit >= 0 else -1)
