"""Bytes for the wire: status lines, response heads, chunk framing, and request heads for tests."""

from __future__ import annotations

from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus

# Precomputed status lines: the response head starts with one of these.
STATUS_LINES: dict[int, bytes] = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode("ascii"))
    for status in HTTPStatus
}


def status_line(status: int, reason: bytes | None = None) -> bytes:
    """``HTTP/1.1 <status> <reason>\\r\\n``; the standard phrase unless one is given."""
    if reason is None:
        line = STATUS_LINES.get(status)
        if line is not None:
            return line
        reason = b"Unknown"
    return b"HTTP/1.1 %d %s\r\n" % (status, reason)


def response_head(
    status: int, headers: Iterable[tuple[bytes, bytes]], reason: bytes | None = None
) -> bytes:
    """Status line, header lines and the empty line, in one join."""
    return b"".join(
        [status_line(status, reason), *[b"%s: %s\r\n" % pair for pair in headers], b"\r\n"]
    )


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 §7.1); never the last chunk."""
    if not data:
        return b""  # "0\r\n\r\n" would end the body early
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


class HTTPDate:
    """The IMF-fixdate for ``Date``, formatted at most once a second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def at(self, now: float) -> bytes:
        second = int(now)
        if second != self._second:
            self._second = second
            self._value = formatdate(second, usegmt=True).encode("ascii")
        return self._value


class DefaultFields:
    """The Date and Server lines a response starts with; both together made once a second."""

    __slots__ = ("_both", "_date", "_second", "_server")

    def __init__(self, date: HTTPDate, server: bytes) -> None:
        self._server = b"Server: %s\r\n" % server
        self._date = date
        self._second = -1
        self._both = b""

    def lines(self, now: float, date: bool = True, server: bool = True) -> bytes:
        """The header lines for ``now``: Date unless ``date`` is false, Server likewise."""
        if date and server:
            second = int(now)
            if second != self._second:
                self._second = second
                self._both = b"Date: %s\r\n%s" % (self._date.at(now), self._server)
            return self._both
        return (b"Date: %s\r\n" % self._date.at(now) if date else b"") + (
            self._server if server else b""
        )


def request_bytes(
    method: bytes,
    target: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """A request as a client would send it; headers are written exactly as given."""
    lines = [b"%s %s %s\r\n" % (method, target, version)]
    lines.extend(b"%s: %s\r\n" % pair for pair in headers)
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)
