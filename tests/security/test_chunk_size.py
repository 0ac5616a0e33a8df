"""Chunk-size attacks on CPU and integer size: huge hex, leading zeros, extension floods."""

from __future__ import annotations

import time

import pytest

from twisted_http import ServerConfig
from twisted_http.wire.errors import BadRequest
from twisted_http.wire.parser import MAX_CHUNK_LINE

from .._parser_driver import feed
from ._support import refused, replay

HEAD = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("size_line", [
    b"f" * 17,  # more than 64 bits: Go's and Node's old overflow
    b"1" + b"0" * 100_000,  # a huge number: int() on it is quadratic in older Pythons
    b"f" * 4000,
])
def test_huge_hex_chunk_size_is_refused(size_line: bytes) -> None:
    """A chunk size over 16 hex digits is a 400 (or 400 for the line being too
    long), decided without converting the digits to an integer."""
    conn, recorder = replay(HEAD + size_line + b"\r\n")
    refused(conn, 400)
    assert recorder.bodies == []


def test_largest_allowed_chunk_size_is_a_413_not_an_allocation() -> None:
    """Sixteen hex digits parse (2**64 - 1) and are refused against max_body_size
    before a byte of the chunk is read or any buffer is sized by it."""
    conn, _ = replay(HEAD + b"f" * 16 + b"\r\n")
    refused(conn, 413)


@pytest.mark.parametrize("zeros", [16, 1000, 5000])
def test_many_leading_zeros_are_refused(zeros: int) -> None:
    """``000...0001``: a size with more than 16 digits is refused even when its
    value is small, so a client cannot make each size line cost arbitrary CPU."""
    conn, _ = replay(HEAD + b"0" * zeros + b"1\r\nA\r\n0\r\n\r\n")
    refused(conn, 400)


def test_chunk_extension_flood_over_the_line_limit_is_refused() -> None:
    """A size line whose extensions pass MAX_CHUNK_LINE is refused as soon as the
    limit is crossed, without waiting for its end (nothing is buffered past it)."""
    flood = b"1" + b";a=b" * (MAX_CHUNK_LINE // 4 + 10)
    conn, _ = replay(HEAD + flood)  # no CRLF ever comes
    refused(conn, 400)


def test_chunk_extension_parsing_is_linear() -> None:
    """The worst size lines under the limit (long runs of extensions, a bad byte
    at the very end so the pattern must fail) are refused without a regex
    backtracking blow-up.

    Not a speed test: a linear scan of such a line takes microseconds, and a
    backtracking one takes seconds to centuries, so a bound of a quarter of a
    second for one line can only trip on the blow-up, never on a loaded machine."""
    config = ServerConfig()
    worst = [
        b"1" + b";a" * ((MAX_CHUNK_LINE - 3) // 2) + b"\x00",
        b"1" + b" ;  a  =  b" * ((MAX_CHUNK_LINE - 3) // 11) + b"=",
        b'1;a="' + b"\\a" * ((MAX_CHUNK_LINE - 8) // 2) + b"\x00",
        b"1;" + b"a" * (MAX_CHUNK_LINE - 4) + b" ",
    ]
    for line in worst:
        assert len(line) <= MAX_CHUNK_LINE
        start = time.perf_counter()
        outcome = feed([HEAD + line + b"\r\n"], config)
        assert isinstance(outcome.error, BadRequest)
        assert time.perf_counter() - start < 0.25, line[:40]


def test_many_small_chunks_with_extensions_are_bounded_by_max_body_size() -> None:
    """Go's CVE-2023-39326 shape: 1-byte chunks each carrying a large extension.
    The body is still counted against max_body_size, and the size lines are
    never kept: the server's buffer holds at most one line at a time."""
    config = ServerConfig(max_body_size=100)
    chunk = b"1;" + b"x" * 4000 + b"\r\nA\r\n"
    conn, recorder = replay(HEAD + chunk * 101 + b"0\r\n\r\n", config)
    refused(conn, 413)
    assert recorder.bodies == []
