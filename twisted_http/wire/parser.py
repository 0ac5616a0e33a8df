"""The HTTP/1.1 request parser: a state machine over lines and raw bytes, with no I/O.

Theory of operation
-------------------
A request is a head (request line, header lines, an empty line) and a body framed
by Content-Length or chunked coding (RFC 9112 §2-§7). The parser is fed in the
two shapes ``LineReceiver`` delivers: whole lines without their CRLF, and raw
bytes. Its ``state`` says which it wants next (``wants_line``) and how long a
line may be (``max_line_length``); the channel follows it and never keeps a mode
of its own.

    REQUEST_LINE -> HEADERS -> DONE                          (no body)
                            -> BODY -> DONE                  (Content-Length)
                            -> CHUNK_SIZE -> CHUNK_DATA -> CHUNK_END -> CHUNK_SIZE ...
                                          -> TRAILERS -> DONE  (chunked; size 0 ends it)
    any state -> FAILED on bad input

``line_received`` returns the ``RequestHead`` when the head is complete, and
``data_received`` returns the body bytes it consumed and whatever follows them.
In DONE the parser takes nothing until ``start_next``: the channel answers one
request at a time, so pipelined bytes wait, unparsed, until the response is out.

Bad input raises a ``ProtocolError`` subclass carrying the status to send, and
nothing else; after one, the parser stays FAILED and the connection is closed.
"""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

from .errors import (
    BadRequest,
    ContentTooLarge,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    ProtocolError,
)
from .framing import HTTP_11, keep_alive, request_body_length
from .headers import Headers, is_field_value, lowered_token, parse_list
from .limits import ServerConfig
from .requestline import (
    check_host,
    check_method,
    check_version,
    request_line_too_long,
    split_target,
)


class State(enum.Enum):
    """Where the parser is, and whether it wants a whole line next or raw bytes."""

    REQUEST_LINE = ("request line", True)
    HEADERS = ("headers", True)
    BODY = ("body", False)
    CHUNK_SIZE = ("chunk size", True)
    CHUNK_DATA = ("chunk data", False)
    CHUNK_END = ("chunk end", True)
    TRAILERS = ("trailers", True)
    DONE = ("done", False)  # takes nothing until start_next: the channel is paused till then
    FAILED = ("failed", False)  # takes nothing ever: the channel is closing

    def __init__(self, label: str, wants_line: bool) -> None:
        self.label, self.wants_line = label, wants_line  # plain attributes: read per step


LINE_STATES = frozenset(state for state in State if state.wants_line)  # derived, never listed

# chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1). Hex digits only and at
# most 16 of them: no "0x", signs or underscores (waitress CVE-2022-24761), and no
# unbounded digit strings to spend CPU on.
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t !-~\x80-\xff])*"'
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[ \t]*" + _TOKEN
    + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?)*"
)
# A chunk-size line with extensions has no business being longer than this.
MAX_CHUNK_LINE = 4096

# The fields that decide a request's framing and validity; the parser keeps a
# second list of just these, so deciding scans a handful of fields, not all.
_FRAMING_FIELDS = frozenset(
    {b"host", b"content-length", b"transfer-encoding", b"expect", b"connection"}
)


class RequestHead(NamedTuple):
    """A parsed request head, validated and with its framing decided.

    A named tuple rather than a frozen attrs class: just as immutable, and
    built in a third of the time, once per request.
    """

    method: bytes
    target: bytes
    path: bytes  # the target's path, still percent-encoded; b"*" for OPTIONS *
    query: bytes  # after the first "?", without it
    version: bytes
    headers: Headers
    host: bytes  # the absolute-form authority when given, else the Host field
    body_length: int | None  # None: chunked
    keep_alive: bool
    expect_continue: bool


class RequestParser:
    """Parses a stream of requests, one at a time; see the module docstring."""

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        # The limits read on every line, as plain attributes.
        self._max_head_size = config.max_head_size
        self._max_headers = config.max_headers
        self.state = State.REQUEST_LINE
        self.trailers = Headers()
        self._reset()

    def _reset(self) -> None:
        self._head_size = 0
        self._request_line: tuple[bytes, bytes, bytes, bytes, bytes, bytes | None] | None = None
        self._fields: list[tuple[bytes, bytes]] = []  # becomes the head's Headers
        # Copies of the fields _finish_head decides on (see _FRAMING_FIELDS).
        self._hosts: list[bytes] = []
        self._framing: list[tuple[bytes, bytes]] = []  # all but Host
        self._remaining = 0  # bytes left in the Content-Length body or current chunk
        self._body_size = 0  # chunked bytes so far, against max_body_size

    @property
    def method(self) -> bytes | None:
        """The current request's method, once its request line has been read."""
        return self._request_line[0] if self._request_line is not None else None

    @property
    def wants_line(self) -> bool:  # the state's: see State
        return self.state.wants_line

    @property
    def max_line_length(self) -> int:
        """The longest line acceptable in the current state, without its CRLF."""
        state = self.state
        if state is State.REQUEST_LINE:
            return self._config.max_request_line
        if state is State.HEADERS or state is State.TRAILERS:
            # A line costs its length plus its CRLF against what is left of the head.
            budget = self._config.max_head_size - self._head_size - 2
            return max(0, min(self._config.max_header_line, budget))
        if state is State.CHUNK_SIZE:
            return MAX_CHUNK_LINE
        return 0  # CHUNK_END: only an empty line

    def line_too_long(self, line: bytes) -> ProtocolError:
        """The error for a line over ``max_line_length``; the parser is then FAILED.

        ``line`` is what has arrived of it: an over-long request line is told
        apart from an over-long method by its start.
        """
        state, self.state = self.state, State.FAILED
        if state is State.REQUEST_LINE:
            return request_line_too_long(line)
        if state is State.HEADERS or state is State.TRAILERS:
            return HeaderFieldsTooLarge()
        return BadRequest("Malformed chunked body")

    def fail(self) -> None:
        """Stop parsing for good: the connection is being closed."""
        self.state = State.FAILED

    def start_next(self) -> None:
        """After DONE: expect the next request on the same connection."""
        assert self.state is State.DONE, self.state
        self._reset()
        self.trailers = Headers()
        self.state = State.REQUEST_LINE

    def line_received(self, line: bytes) -> RequestHead | None:
        """Take one line; returns the head when it is complete."""
        try:
            state = self.state
            if state is State.HEADERS:
                if line:
                    self._header_line(line, self._fields, self._framing)
                    return None
                self._count(line)  # the head's closing CRLF is part of the head
                return self._finish_head()
            if state is State.REQUEST_LINE:
                self._on_request_line(line)
            elif state is State.CHUNK_SIZE:
                self._on_chunk_size(line)
            elif state is State.CHUNK_END:
                if line:
                    raise BadRequest("Missing CRLF after chunk data")
                self.state = State.CHUNK_SIZE
            elif state is State.TRAILERS:
                if line:
                    self._header_line(line, self._trailer_fields, None)
                else:
                    self._count(line)
                    self.trailers = Headers(self._trailer_fields)
                    self.state = State.DONE
            else:
                raise AssertionError(f"no line expected in state {state}")
            return None
        except ProtocolError:
            self.state = State.FAILED
            raise

    def head_received(self, block: bytes) -> RequestHead:
        """Take a whole head at once: its lines, CRLF-separated, without the empty line.

        Exactly what feeding those lines and then ``b""`` to ``line_received``
        gives, each line held to ``max_line_length`` as ``LineReceiver`` holds
        it, in one call: the channel's path for a head that arrived whole.
        """
        assert self.state is State.REQUEST_LINE, self.state
        try:
            lines = block.split(b"\r\n")
            line = lines[0]
            if len(line) > self._config.max_request_line:
                raise request_line_too_long(line)
            self._on_request_line(line)
            limit = self._config.max_header_line  # the head-size budget is _header_line's
            fields, framing, field_line = self._fields, self._framing, self._header_line
            for line in lines[1:]:
                if len(line) > limit:
                    raise HeaderFieldsTooLarge()
                field_line(line, fields, framing)
            self._count(b"")
            return self._finish_head()
        except ProtocolError:
            self.state = State.FAILED
            raise

    def data_received(self, data: bytes) -> tuple[bytes, bytes]:
        """Take raw body bytes; returns (body bytes consumed, bytes left over)."""
        remaining = self._remaining
        if len(data) < remaining:
            self._remaining = remaining - len(data)
            return data, b""
        self._remaining = 0
        self.state = State.DONE if self.state is State.BODY else State.CHUNK_END
        if len(data) == remaining:
            return data, b""
        return data[:remaining], data[remaining:]

    # -- the head -----------------------------------------------------------

    def _count(self, line: bytes) -> None:
        self._head_size += len(line) + 2
        if self._head_size > self._max_head_size:
            raise HeaderFieldsTooLarge()

    def _on_request_line(self, line: bytes) -> None:
        self._count(line)
        if not line:
            # RFC 9112 §2.2: ignore empty lines before a request line (some
            # clients send an extra CRLF after a POST body); they count
            # toward the head size, so a stream of them is still bounded.
            return
        parts = line.split(b" ")
        if len(parts) != 3:
            raise BadRequest("Malformed request line")
        method, target, version = parts
        check_method(method)
        version = check_version(version)
        path, query, authority = split_target(method, target)
        self._request_line = (method, target, path, query, version, authority)
        self.state = State.HEADERS

    def _header_line(
        self, line: bytes, into: list[tuple[bytes, bytes]],
        framing: list[tuple[bytes, bytes]] | None,
    ) -> None:
        size = self._head_size + len(line) + 2  # _count, inline: this runs for every field
        if size > self._max_head_size:
            raise HeaderFieldsTooLarge()
        self._head_size = size
        if len(into) >= self._max_headers:
            raise HeaderFieldsTooLarge("Too many header fields")
        if line[0] in b" \t":
            # RFC 9112 §5.2: obs-fold is refused outright, never unfolded.
            raise BadRequest("Obsolete line folding in header")
        name, colon, value = line.partition(b":")
        key = lowered_token(name) if colon else None
        if key is None:
            # Covers whitespace before the colon (RFC 9112 §5.1: MUST reject).
            raise BadRequest("Malformed header field")
        value = value.strip(b" \t")
        if not is_field_value(value):
            raise BadRequest("Invalid character in header field")
        into.append((key, value))
        if framing is not None and key in _FRAMING_FIELDS:
            if key == b"host":
                self._hosts.append(value)
            else:
                framing.append((key, value))

    def _finish_head(self) -> RequestHead:
        assert self._request_line is not None
        method, target, path, query, version, authority = self._request_line
        hosts = self._hosts
        if len(hosts) > 1:
            raise BadRequest("More than one Host")  # RFC 9112 §3.2
        if not hosts and version == HTTP_11:
            raise BadRequest("Missing Host")
        if hosts:
            check_host(hosts[0], authority is not None)
        length: int | None = 0
        persist = version == HTTP_11
        expect_continue = False
        if self._framing:  # else: no body, and the version's default persistence
            framing = Headers(self._framing)
            length = request_body_length(version, framing)
            if length is not None and length > self._config.max_body_size:
                raise ContentTooLarge()
            expectations = framing.get_all(b"expect")
            if expectations:
                if parse_list(expectations) != [b"100-continue"]:
                    raise ExpectationFailed()
                # RFC 9110 §10.1.1: ignored on HTTP/1.0, and moot without a body.
                expect_continue = version == HTTP_11 and length != 0
            persist = keep_alive(version, framing)
        if length == 0:
            self.state = State.DONE
        elif length is None:
            self.state = State.CHUNK_SIZE
        else:
            self.state = State.BODY
            self._remaining = length
        return RequestHead(
            method=method,
            target=target,
            path=path,
            query=query,
            version=version,
            headers=Headers(self._fields),
            host=authority if authority is not None else (hosts[0] if hosts else b""),
            body_length=length,
            keep_alive=persist,
            expect_continue=expect_continue,
        )

    # -- chunked bodies -----------------------------------------------------

    def _on_chunk_size(self, line: bytes) -> None:
        match = _CHUNK_LINE.fullmatch(line)
        if match is None:
            raise BadRequest("Malformed chunk size")
        size = int(match.group(1), 16)
        if size == 0:
            self._head_size = 0  # trailers get a head's budget of their own
            self._trailer_fields: list[tuple[bytes, bytes]] = []
            self.state = State.TRAILERS
            return
        self._body_size += size
        if self._body_size > self._config.max_body_size:
            raise ContentTooLarge()
        self._remaining = size
        self.state = State.CHUNK_DATA
