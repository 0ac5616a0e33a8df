"""Bytes for the wire: status lines, response heads, chunks, the Date value, and request bytes."""

from __future__ import annotations

import re
import time
from email.utils import formatdate, parsedate_to_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_http.wire import serializer as _serializer
from twisted_http.wire.serializer import (
    LAST_CHUNK,
    DefaultFields,
    HTTPDate,
    chunk,
    request_bytes,
    response_head,
    status_line,
)

from ._parser_driver import feed

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
IMF_FIXDATE = re.compile(
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] "
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    rb"[0-2][0-9]:[0-5][0-9]:[0-6][0-9] GMT"
)


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (200, b"HTTP/1.1 200 OK\r\n"),
        (204, b"HTTP/1.1 204 No Content\r\n"),
        (404, b"HTTP/1.1 404 Not Found\r\n"),
        (431, b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        (505, b"HTTP/1.1 505 HTTP Version Not Supported\r\n"),
        (299, b"HTTP/1.1 299 Unknown\r\n"),
        (999, b"HTTP/1.1 999 Unknown\r\n"),
    ],
)
def test_status_line_uses_the_standard_phrase(status: int, line: bytes) -> None:
    """The standard reason phrase is used, and "Unknown" for a code without one."""
    assert status_line(status) == line


def test_status_line_takes_a_given_reason() -> None:
    """A reason given by the handler replaces the standard phrase."""
    assert status_line(200, b"Fine") == b"HTTP/1.1 200 Fine\r\n"
    assert status_line(599, b"Custom") == b"HTTP/1.1 599 Custom\r\n"


def test_response_head_is_status_fields_and_empty_line() -> None:
    """A head is the status line, each field as given, in order, then CRLF."""
    head = response_head(200, [(b"Content-Length", b"5"), (b"X-A", b""), (b"x-a", b"2")])
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: \r\nx-a: 2\r\n\r\n"
    assert response_head(404, [], b"Gone Fishing") == b"HTTP/1.1 404 Gone Fishing\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "framed"),
    [
        (b"a", b"1\r\na\r\n"),
        (b"hello", b"5\r\nhello\r\n"),
        (b"\r\n", b"2\r\n\r\n\r\n"),
        (b"x" * 15, b"f\r\n" + b"x" * 15 + b"\r\n"),
        (b"x" * 255, b"ff\r\n" + b"x" * 255 + b"\r\n"),
        (b"x" * 4096, b"1000\r\n" + b"x" * 4096 + b"\r\n"),
    ],
)
def test_chunk_frames_data_with_its_hex_size(data: bytes, framed: bytes) -> None:
    """A chunk is the size in lower-case hex, CRLF, the data, CRLF."""
    assert chunk(data) == framed


def test_empty_chunk_is_nothing_not_the_last_chunk() -> None:
    """chunk(b"") writes nothing: a zero-size chunk would end the body early."""
    assert chunk(b"") == b""
    assert LAST_CHUNK == b"0\r\n\r\n"


@given(st.lists(st.binary(max_size=300), max_size=6))
def test_chunks_parse_back_to_the_data(pieces: list[bytes]) -> None:
    """Any pieces written with chunk() then LAST_CHUNK parse back to their concatenation."""
    body = b"".join(chunk(piece) for piece in pieces) + LAST_CHUNK
    data = request_bytes(b"POST", b"/", [(b"Host", b"a"), (b"Transfer-Encoding", b"chunked")], body)
    outcome = feed([data])
    assert outcome.error is None
    [message] = outcome.messages
    assert (message.complete, message.body) == (True, b"".join(pieces))


@pytest.mark.parametrize(
    ("now", "value"),
    [
        (0, b"Thu, 01 Jan 1970 00:00:00 GMT"),
        (784111777, b"Sun, 06 Nov 1994 08:49:37 GMT"),  # RFC 9110 §5.6.7's example
        (784111777.999, b"Sun, 06 Nov 1994 08:49:37 GMT"),
        (951782400, b"Tue, 29 Feb 2000 00:00:00 GMT"),
        (4102444799, b"Thu, 31 Dec 2099 23:59:59 GMT"),
    ],
)
def test_http_date_is_imf_fixdate(now: float, value: bytes) -> None:
    """The Date value is the IMF-fixdate of the whole second, in GMT."""
    assert HTTPDate().at(now) == value


@given(st.integers(0, 2**33))
def test_http_date_matches_the_calendar(seconds: int) -> None:
    """For any time, the value is well-formed IMF-fixdate naming the same instant."""
    value = HTTPDate().at(seconds + 0.5)
    assert IMF_FIXDATE.fullmatch(value), value
    t = time.gmtime(seconds)
    expected = (
        f"{DAYS[t.tm_wday]}, {t.tm_mday:02d} {MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
    assert value == expected.encode("ascii")
    assert parsedate_to_datetime(value.decode("ascii")).timestamp() == seconds


def test_http_date_formats_once_per_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Within one second the cached value is reused; a new second, either way, is formatted anew."""
    calls: list[float] = []

    def counting(timeval: float, **kwargs: bool) -> str:
        calls.append(timeval)
        return formatdate(timeval, **kwargs)

    monkeypatch.setattr(_serializer, "formatdate", counting)
    date = HTTPDate()
    first = date.at(100.0)
    assert date.at(100.5) is first and date.at(100.999) is first
    assert calls == [100]
    assert date.at(101.0) == b"Thu, 01 Jan 1970 00:01:41 GMT"
    assert date.at(100.2) == first  # the clock went back: recomputed, not stale
    assert calls == [100, 101, 100]


def test_default_fields_follow_the_second_and_the_flags() -> None:
    """Date and Server lines, together reused within a second; either one alone on request."""
    fields = DefaultFields(HTTPDate(), b"minihttp")
    both = fields.lines(784111777.1)
    assert both == b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: minihttp\r\n"
    assert fields.lines(784111777.9) is both
    assert fields.lines(784111778.0) == both.replace(b":37 GMT", b":38 GMT")
    assert fields.lines(0, date=False) == b"Server: minihttp\r\n"
    assert fields.lines(0, server=False) == b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
    assert fields.lines(0, date=False, server=False) == b""


def test_request_bytes_writes_what_it_is_given() -> None:
    """request_bytes writes the request line, fields as given, CRLF, and the body."""
    data = request_bytes(b"POST", b"/p?q", [(b"Host", b"a"), (b"X", b" y ")], b"body")
    assert data == b"POST /p?q HTTP/1.1\r\nHost: a\r\nX:  y \r\n\r\nbody"
    assert request_bytes(b"GET", b"/", version=b"HTTP/1.0") == b"GET / HTTP/1.0\r\n\r\n"
