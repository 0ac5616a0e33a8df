"""Access log lines: the ``combined``, ``common`` and ``json`` formats, and their escaping.

A formatter turns one finished exchange (an ``AccessEntry``) into one line of
text, newline included. Nothing here does I/O; ``edge.logfile`` batches the
entries and writes them.

Escaping. Every field that comes from the client (the target, Referer,
User-Agent, the method of a refused request) is untrusted bytes. In the text
formats a byte is written as itself only if it is printable ASCII other than
``"`` and ``\\``; anything else, control bytes (CR, LF, NUL, ESC) and every
byte above 0x7E included, becomes ``\\xHH``, exactly as nginx's default
``escape=default`` does. So a field can neither end its quotes, nor start a
new line, nor smuggle terminal escapes; and since ``\\`` itself is escaped the
original bytes can always be recovered. In ``json`` each value is a JSON
string written with JSON's own escapes (``ensure_ascii``): a value that is
valid UTF-8 reads back as that text, and bytes that are not are spelled
``\\xHH`` first, so ``json.loads`` gives back the text and never fails.

Times: ``[%d/%b/%Y:%H:%M:%S %z]`` in local time for the text formats, ISO 8601
with milliseconds for ``json``; the second-level part is formatted once per
second, not once per line. The duration is seconds from the request's head
being parsed to the response's last byte handed to the connection.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

FORMATS = ("combined", "common", "json")
DEFAULT_FORMAT = "combined"

# Bytes that are written as themselves in the text formats: printable ASCII but
# the quote and the backslash. The rest is \xHH, as nginx writes it.
_UNSAFE = re.compile(rb'[^\x20\x21\x23-\x5b\x5d-\x7e]')
_ESCAPES = {byte: b"\\x%02X" % byte for byte in range(256)}


class AccessEntry(NamedTuple):
    """One finished exchange, as the access log sees it. Client-sent fields are raw bytes."""

    time: float  # when the response finished, seconds since the epoch
    client: str | None  # the client's address; None on a UNIX socket
    method: bytes  # b"" when the request line could not be read
    target: bytes
    version: bytes
    status: int
    size: int  # body bytes sent
    duration: float  # seconds
    referer: bytes | None
    user_agent: bytes | None


def _escape_match(match: re.Match[bytes]) -> bytes:
    return _ESCAPES[match[0][0]]


def escape(value: bytes) -> str:
    """``value`` as nginx logs a field: ``"``, ``\\``, controls and non-ASCII as ``\\xHH``."""
    if _UNSAFE.search(value) is None:
        return value.decode("ascii")
    return _UNSAFE.sub(_escape_match, value).decode("ascii")


class _Remembered(dict[Any, str]):
    """``make``, remembered: a busy server logs the same clients, targets, agents and
    referers over and over, and a dictionary lookup is a tenth of a regular expression
    search."""

    MOST = 4096  # distinct values kept; then it starts over, so a scan cannot grow it

    def __init__(self, make: Callable[[Any], str]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, value: Any) -> str:
        if len(self) >= self.MOST:
            self.clear()
        text = self[value] = self._make(value)
        return text


def _client(client: str | None) -> str:
    """The client address, escaped too: after trusted-proxy headers it came from a client."""
    if client is None:
        return "-"
    return escape(client.encode("utf-8"))


def _clf_time(second: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))


class _TextFormat:
    """What the text formats share: escaped values, client names and the time, remembered."""

    def __init__(self) -> None:
        self._escaped = _Remembered(escape)
        self._clients = _Remembered(_client)
        self._second = -1
        self._stamp = ""

    def _start(self, when: float, client: str | None, method: bytes, target: bytes,
               version: bytes) -> str:
        """``client - - [time] "request"``, the start of every text line."""
        second = int(when)
        if second != self._second:
            self._second, self._stamp = second, _clf_time(second)
        name = self._clients[client]
        if not method:
            # Nothing readable came: nginx logs such a request as "-" as well.
            return f'{name} - - [{self._stamp}] "-"'
        escaped = self._escaped
        return (f'{name} - - [{self._stamp}] '
                f'"{escaped[method]} {escaped[target]} {escaped[version]}"')


class CommonFormat(_TextFormat):
    """NCSA Common Log Format: ``client - - [time] "request" status bytes``."""

    def __call__(self, entry: AccessEntry) -> str:
        when, client, method, target, version, status, size, _, _, _ = entry
        return f"{self._start(when, client, method, target, version)} {status} {size}\n"


class CombinedFormat(_TextFormat):
    """Common plus ``"referer" "user-agent"`` (nginx's and Apache's combined), plus
    the duration in seconds with microseconds (``$request_time``, finer)."""

    def __call__(self, entry: AccessEntry) -> str:
        when, client, method, target, version, status, size, duration, referer, agent = entry
        escaped = self._escaped
        return (
            f"{self._start(when, client, method, target, version)} {status} {size} "
            f'"{escaped[referer] if referer else "-"}" "{escaped[agent] if agent else "-"}" '
            f"{duration:.6f}\n"
        )


def _json_string(value: bytes | None) -> str:
    """A JSON string literal (or null) for a client-sent field; see the module docstring."""
    if value is None:
        return "null"
    if _UNSAFE.search(value) is None:
        return f'"{value.decode("ascii")}"'  # plain printable ASCII needs no JSON escape
    return json.dumps(value.decode("utf-8", "backslashreplace"))


def _json_client(client: str | None) -> str:
    """The client address as a JSON string literal, or null on a UNIX socket."""
    return "null" if client is None else _json_string(client.encode("utf-8"))


def _json_time(second: float) -> tuple[str, str]:
    local = time.localtime(second)
    offset = time.strftime("%z", local)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local), f"{offset[:3]}:{offset[3:]}"


class JSONFormat:
    """One JSON object per line, always the same keys in the same order.

    ``time`` (ISO 8601, local, milliseconds), ``client``, ``method``,
    ``target``, ``version``, ``status``, ``bytes``, ``duration`` (seconds),
    ``referer``, ``user_agent``. A missing field is ``null``.
    """

    KEYS = ("time", "client", "method", "target", "version", "status", "bytes", "duration",
            "referer", "user_agent")

    def __init__(self) -> None:
        self._second = -1
        self._stamp = ""
        self._offset = ""
        self._strings = _Remembered(_json_string)
        self._clients = _Remembered(_json_client)

    def __call__(self, entry: AccessEntry) -> str:
        when, client, method, target, version, status, size, duration, referer, agent = entry
        second = int(when)
        if second != self._second:
            self._second = second
            self._stamp, self._offset = _json_time(second)
        name = self._clients[client]
        strings = self._strings
        return (
            f'{{"time": "{self._stamp}.{int((when - second) * 1000):03d}{self._offset}", '
            f'"client": {name}, "method": {strings[method or None]}, '
            f'"target": {strings[target or None]}, "version": {strings[version or None]}, '
            f'"status": {status}, "bytes": {size}, "duration": {duration:.6f}, '
            f'"referer": {strings[referer]}, "user_agent": {strings[agent]}}}\n'
        )


Formatter = Callable[[AccessEntry], str]


def formatter(name: str) -> Formatter:
    """A fresh formatter for the format called ``name``; ValueError for an unknown name."""
    kinds: dict[str, Callable[[], Formatter]] = {
        "combined": CombinedFormat, "common": CommonFormat, "json": JSONFormat,
    }
    try:
        return kinds[name]()
    except KeyError:
        raise ValueError(
            f"unknown access log format {name!r}; one of {', '.join(FORMATS)}"
        ) from None
