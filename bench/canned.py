"""The ceiling: a bare Twisted reactor answering each request with canned bytes.

No HTTP layer to speak of: it finds the end of each request head, skips a
Content-Length body, and writes a response prepared at start-up, chosen by
the last path segment. Whatever an HTTP server on this reactor does beyond
that is what the gap between it and this ceiling measures.

    python bench/canned.py PORT
"""

from __future__ import annotations

import sys

from benchapp import CHUNK, CHUNKS, HELLO
from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol


def _response(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


RESPONSES = {
    b"1k.bin": _response(b"x" * 1024),
    b"1m.bin": _response(CHUNK * CHUNKS),
    b"hello": _response(HELLO),
    b"stream": _response(CHUNK * CHUNKS),
}
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class Canned(Protocol):
    def __init__(self) -> None:
        self._buffer = b""
        self._skip = 0  # body bytes of the current request still to come
        self._received = 0
        self._pending = b""  # the response waiting for the end of the body

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's name
        self.transport.setTcpNoDelay(True)  # type: ignore[union-attr]
        self._close = False

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        buffer = self._buffer + data
        while buffer:
            if self._skip:
                taken = min(self._skip, len(buffer))
                self._skip -= taken
                self._received += taken
                buffer = buffer[taken:]
                if not self._skip:
                    self._answer(self._pending or _response(b"%d" % self._received))
                continue
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head, buffer = buffer[:end].lower(), buffer[end + 4 :]
            target = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
            name = target.rsplit(b"/", 1)[-1]
            self._close = b"connection: close" in head
            marker = head.find(b"content-length:")
            length = int(head[marker + 15 :].split(b"\r\n", 1)[0]) if marker >= 0 else 0
            self._pending = RESPONSES.get(name, b"")
            if name == b"post" or not self._pending:
                self._pending = b"" if name == b"post" else NOT_FOUND
            self._received = 0
            if length:
                self._skip = length
            else:
                self._answer(self._pending or _response(b"0"))
        self._buffer = buffer

    def _answer(self, response: bytes) -> None:
        assert self.transport is not None
        if self._close:
            # Say so, as any server must: a client reading a keep-alive response would
            # send its next request on this connection and see it reset.
            self.transport.write(response.replace(b"\r\n", b"\r\nConnection: close\r\n", 1))
            self.transport.loseConnection()
        else:
            self.transport.write(response)


def main() -> None:
    factory = Factory.forProtocol(Canned)
    factory.noisy = False
    reactor.listenTCP(int(sys.argv[1]), factory, backlog=1024, interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
