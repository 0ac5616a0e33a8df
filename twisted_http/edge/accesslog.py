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
from typing import NamedTuple

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


def _client(client: str | None) -> str:
    """The client address, escaped too: after trusted-proxy headers it came from a client."""
    if client is None:
        return "-"
    return escape(client.encode("utf-8"))


def _optional(value: bytes | None) -> str:
    return "-" if not value else escape(value)


def _request_line(entry: AccessEntry) -> str:
    if not entry.method:
        return "-"  # nothing readable came: nginx logs such a request as "-" as well
    return f"{escape(entry.method)} {escape(entry.target)} {escape(entry.version)}"


class _SecondCache:
    """A time's per-second text, formatted once per second rather than once per line."""

    def __init__(self, render: Callable[[float], str]) -> None:
        self._render = render
        self._second = -1
        self._text = ""

    def __call__(self, when: float) -> str:
        second = int(when)
        if second != self._second:
            self._second, self._text = second, self._render(second)
        return self._text


def _clf_time(second: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))


class CommonFormat:
    """NCSA Common Log Format: ``client - - [time] "request" status bytes``."""

    def __init__(self) -> None:
        self._time = _SecondCache(_clf_time)

    def __call__(self, entry: AccessEntry) -> str:
        return (
            f'{_client(entry.client)} - - [{self._time(entry.time)}] '
            f'"{_request_line(entry)}" {entry.status} {entry.size}\n'
        )


class CombinedFormat(CommonFormat):
    """Common plus ``"referer" "user-agent"`` (nginx's and Apache's combined), plus
    the duration in seconds with microseconds (``$request_time``, finer)."""

    def __call__(self, entry: AccessEntry) -> str:
        return (
            f'{_client(entry.client)} - - [{self._time(entry.time)}] '
            f'"{_request_line(entry)}" {entry.status} {entry.size} '
            f'"{_optional(entry.referer)}" "{_optional(entry.user_agent)}" '
            f"{entry.duration:.6f}\n"
        )


def _json_string(value: bytes | None) -> str:
    """A JSON string literal (or null) for a client-sent field; see the module docstring."""
    if value is None:
        return "null"
    if _UNSAFE.search(value) is None:
        return f'"{value.decode("ascii")}"'  # plain printable ASCII needs no JSON escape
    return json.dumps(value.decode("utf-8", "backslashreplace"))


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
        self._parts = ("", "")

    def __call__(self, entry: AccessEntry) -> str:
        second = int(entry.time)
        if second != self._second:
            self._second, self._parts = second, _json_time(second)
        stamp, offset = self._parts
        millis = int((entry.time - second) * 1000)
        client = "null" if entry.client is None else _json_string(entry.client.encode("utf-8"))
        method = _json_string(entry.method or None)
        return (
            f'{{"time": "{stamp}.{millis:03d}{offset}", "client": {client}, '
            f'"method": {method}, "target": {_json_string(entry.target or None)}, '
            f'"version": {_json_string(entry.version or None)}, "status": {entry.status}, '
            f'"bytes": {entry.size}, "duration": {entry.duration:.6f}, '
            f'"referer": {_json_string(entry.referer)}, '
            f'"user_agent": {_json_string(entry.user_agent)}}}\n'
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
