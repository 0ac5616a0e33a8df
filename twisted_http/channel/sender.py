"""FileSender: file bytes to a response, one chunk each time the client's side asks.

The one file sender: static files and WSGI's ``wsgi.file_wrapper`` both use it.

A pull producer (``IPullProducer``): the transport calls ``resumeProducing``
whenever its buffer has drained. On a plain TCP connection whose transport
holds nothing, each call hands the file to ``os.sendfile`` for as much as the
socket takes (``Response.sendfile``): no copy through Python, no
concatenation in the transport. Otherwise, and once the socket is full, a call
reads one chunk with ``pread`` and writes it. So the bytes held for a
connection never exceed about one chunk plus the transport's own buffer,
whatever the file size and however slowly the client reads; and the reactor is
never held for more than one chunk's read
(64 KiB, microseconds from the page cache). The file descriptor is closed when
the last byte is written, when the client goes away, or when the response fails.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from twisted.internet.interfaces import IPullProducer
from twisted.logger import Logger
from zope.interface import implementer

from .response import Response

# twisted.web and Twisted's own transports use 64 KiB: big enough that the
# per-call overhead vanishes, small enough that a read never stalls the reactor.
CHUNK_SIZE = 65536

# A piece of the body: literal bytes (multipart framing) or (offset, length) of the file.
Piece = bytes | tuple[int, int]


@implementer(IPullProducer)
class FileSender:
    """Sends ``pieces`` of open file ``fd`` through ``response``, then finishes it.

    Takes ownership of ``fd``. Call ``start`` once the response has started.
    """

    _log = Logger()

    def __init__(self, fd: int, pieces: Sequence[Piece], response: Response,
                 chunk_size: int = CHUNK_SIZE) -> None:
        self._fd: int | None = fd
        self._pieces = list(pieces)
        self._index = 0
        self._response = response
        self._chunk_size = chunk_size

    def start(self) -> None:
        self._response.on_lost(lambda _: self._close())
        self._response.register_producer(self, streaming=False)

    def resumeProducing(self) -> None:  # noqa: N802
        if self._fd is None:
            return
        while self._index < len(self._pieces):
            piece = self._pieces[self._index]
            if isinstance(piece, bytes):
                self._index += 1
                if piece:
                    self._write(piece)
                    return
                continue
            offset, length = piece
            if length <= 0:
                self._index += 1
                continue
            sent = self._response.sendfile(self._fd, offset, length)
            if sent:
                self._advance(offset, length, sent)
                continue  # straight from the page cache to the socket: on while it takes more
            # The transport's way: one chunk, which also has the transport wait
            # for the socket and ask again once it has taken everything.
            try:
                data = os.pread(self._fd, min(length, self._chunk_size), offset)
            except OSError:
                self._log.failure("Reading a static file failed")
                data = b""
            if not data:
                # The file shrank (or failed) under us: the promised length can no
                # longer be met, so end here and let the response close the connection.
                self._finish()
                return
            self._advance(offset, length, len(data))
            self._write(data)
            return
        self._finish()

    def _advance(self, offset: int, length: int, done: int) -> None:
        if done == length:
            self._index += 1
        else:
            self._pieces[self._index] = (offset + done, length - done)

    def _write(self, data: bytes) -> None:
        self._response.write(data)
        if self._index == len(self._pieces) and self._fd is not None:
            self._finish()  # the last bytes are out: no need to wait for another pull

    def stopProducing(self) -> None:  # noqa: N802
        self._close()

    def _finish(self) -> None:
        self._close()
        self._response.finish()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd is None
