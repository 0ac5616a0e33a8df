"""Request smuggling: every framing trick a known CVE used, replayed byte for byte.

Each test sends the advisory's trigger and checks the three things a smuggling
attack needs to go wrong: minihttp answers exactly once with a 4xx and
``Connection: close``, closes, and the smuggled request never reaches a
handler. A server with the vulnerable behaviour would answer twice, or hand
``/smuggled`` to the handler, and the test would fail.
"""

from __future__ import annotations

import pytest

from twisted_http import Router, ServerConfig
from twisted_http.testing import FakeConnection, InlineReactor, QueuedThreadPool
from twisted_http.wsgi.handler import WSGIHandler

from ._support import refused, replay, wsgi_environs

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"


def assert_not_smuggled(raw: bytes, status: int = 400) -> None:
    """``raw`` is refused with ``status``, whole and one byte at a time, and nothing is smuggled."""
    for bytewise in (False, True):
        conn, recorder = replay(raw, bytewise=bytewise)
        refused(conn, status)
        assert b"/smuggled" not in recorder.seen
        assert recorder.bodies == []  # no handler was given a body it could trust


# -- Twisted ------------------------------------------------------------------------


def test_cve_2020_10108_two_content_lengths() -> None:
    """Twisted CVE-2020-10108 (GHSA-p5xh-vx83-mxcj): with two Content-Length fields
    twisted.web used the last one; ``Content-Length: 0`` after a real length made
    the body a pipelined request. minihttp refuses more than one Content-Length."""
    body = SMUGGLED
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nContent-Length: 0\r\n\r\n"
           % len(body)) + body
    assert_not_smuggled(raw)


def test_cve_2020_10109_content_length_and_chunked() -> None:
    """Twisted CVE-2020-10109 (GHSA-h96w-mmrf-2h6v): with Content-Length and
    ``Transfer-Encoding: chunked`` twisted.web let the length win, so the rest of
    the chunked body was read as the next request. minihttp refuses the pair."""
    chunked = b"0\r\n\r\n" + SMUGGLED
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n") + chunked
    assert_not_smuggled(raw)


@pytest.mark.parametrize(
    "head, body",
    [
        # Content-Length with a sign: int() took "+5" and "-0" (the advisory's first case).
        (b"Content-Length: +%d\r\n" % len(SMUGGLED), SMUGGLED),
        (b"Content-Length: -0\r\n", SMUGGLED),
        # chunk-size through int(x, 16): "0x", signs and "_" were accepted.
        (b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
        (b"Transfer-Encoding: chunked\r\n", b"+5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
        (b"Transfer-Encoding: chunked\r\n", b"-5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
        (b"Transfer-Encoding: chunked\r\n", b"5_0\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
        # Header fields were not checked for invalid characters (a bare LF in a value,
        # a space before the colon).
        (b"X-Foo: bar\nContent-Length: 0\r\nContent-Length: 5\r\n", b"hello" + SMUGGLED),
        (b"Content-Length : 0\r\n", SMUGGLED),
        # Chunk extensions were read without validation.
        (b"Transfer-Encoding: chunked\r\n", b"5;\x00=x\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ],
    ids=["cl-plus", "cl-minus", "chunk-0x", "chunk-plus", "chunk-minus", "chunk-underscore",
         "bare-lf-in-field", "space-before-colon", "chunk-ext-nul"],
)
def test_cve_2022_24801_lenient_parsing(head: bytes, body: bytes) -> None:
    """Twisted CVE-2022-24801 (GHSA-c2jg-hw38-jrqq): signed Content-Length, chunk
    sizes parsed with int() ("0x", "+", "-", "_"), unchecked header characters and
    unvalidated chunk extensions. Each of the advisory's constructs gets a 400."""
    assert_not_smuggled(b"POST / HTTP/1.1\r\nHost: a\r\n" + head + b"\r\n" + body)


# -- waitress -------------------------------------------------------------------------


def test_cve_2019_16785_bare_lf_line_ending() -> None:
    """waitress CVE-2019-16785 (GHSA-pg36-wpm5-g57p): a bare LF ended a header line,
    so ``X-Header: x[LF]Content-Length: 0`` hid a second Content-Length from a
    front end. The advisory's exact example: minihttp ends lines at CRLF only,
    sees a LF inside a field value and refuses it."""
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n"
           b"X-Header: x\nContent-Length: 0\r\n\r\n" % len(SMUGGLED)) + SMUGGLED
    assert_not_smuggled(raw)


def test_cve_2019_16785_bare_lf_request_is_never_dispatched() -> None:
    """The same advisory, a whole request with LF endings: it never completes as a
    head, so no handler sees it, and the head deadline answers 408."""
    conn, recorder = replay(b"GET /smuggled HTTP/1.1\nHost: a\n\n",
                            ServerConfig(head_timeout=5))
    assert conn.written == b"" and recorder.seen == []
    conn.clock.advance(5)
    refused(conn, 408)
    assert recorder.seen == []


@pytest.mark.parametrize("coding, status", [
    (b"gzip, chunked", 400),  # with a Content-Length: both framings, refused
    (b"chunked, gzip", 400),
    (b"gzip", 400),
])
def test_cve_2019_16786_transfer_encoding_other_than_chunked(coding: bytes, status: int) -> None:
    """waitress CVE-2019-16786 (GHSA-g2xc-35jw-c63p): only ``Transfer-Encoding:
    chunked`` exactly was recognised; any other value fell through to
    Content-Length. minihttp never lets Content-Length decide when a
    Transfer-Encoding is present."""
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + coding
           + b"\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED)) + SMUGGLED
    assert_not_smuggled(raw, status)


def test_cve_2019_16786_unsupported_coding_alone_is_501() -> None:
    """The same advisory without a Content-Length: a coding minihttp does not
    implement is 501 (RFC 9112 §6.1), and nothing after it is read."""
    raw = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + SMUGGLED
    assert_not_smuggled(raw, 501)


@pytest.mark.parametrize("value", [b"\x85chunked", b"chunked\x85", b"\xa0chunked", b"\x0bchunked"])
def test_cve_2019_16789_special_whitespace_in_transfer_encoding(value: bytes) -> None:
    """waitress CVE-2019-16789 (GHSA-968f-66r5-5v74): str.strip() took NEL (\\x85),
    NBSP (\\xa0) and VT off a Transfer-Encoding value, so waitress saw chunked
    where a front end saw an invalid field and used Content-Length. minihttp
    trims only SP and HTAB: the value is not ``chunked`` and the request is refused."""
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + value
           + b"\r\n\r\n0\r\n\r\n" + SMUGGLED)
    assert_not_smuggled(raw)
    with_length = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: "
                   + value + b"\r\n\r\n0\r\n\r\n" + SMUGGLED)
    assert_not_smuggled(with_length)


def test_cve_2019_16792_same_content_length_twice() -> None:
    """waitress CVE-2019-16792 (GHSA-4ppp-gpcr-7qf6): two Content-Length fields were
    joined into "N, N", failed int(), and the request was taken as bodiless, so
    its body became the next request. minihttp refuses two, even if equal."""
    n = len(SMUGGLED)
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n"
           % (n, n)) + SMUGGLED
    assert_not_smuggled(raw)
    joined = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d, %d\r\n\r\n" % (n, n)) + SMUGGLED
    assert_not_smuggled(joined)


@pytest.mark.parametrize("head, body", [
    # int() on Content-Length and chunk-size: the advisory's "+10" and "0x01".
    (b"Content-Length: +%d\r\n" % len(SMUGGLED), SMUGGLED),
    (b"Transfer-Encoding: chunked\r\n", b"0x01\r\nA\r\n0\r\n\r\n" + SMUGGLED),
    # Chunk extensions were discarded without checking their characters.
    (b"Transfer-Encoding: chunked\r\n", b"1;\x7f\r\nA\r\n0\r\n\r\n" + SMUGGLED),
    (b"Transfer-Encoding: chunked\r\n", b"1;ext=val\rue\r\nA\r\n0\r\n\r\n" + SMUGGLED),
], ids=["cl-plus", "chunk-0x", "chunk-ext-del", "chunk-ext-bare-cr"])
def test_cve_2022_24761_int_parsing_and_chunk_extensions(head: bytes, body: bytes) -> None:
    """waitress CVE-2022-24761 (GHSA-4f7p-27jc-3c36): Python's int() parsed "+10"
    and "0x01", and chunk extensions were thrown away unchecked. Each is a 400."""
    assert_not_smuggled(b"POST / HTTP/1.1\r\nHost: a\r\n" + head + b"\r\n" + body)


def test_cve_2024_49768_invalid_first_request_then_pipelined() -> None:
    """waitress CVE-2024-49768 (GHSA-9298-4cf8-g4wj): an invalid first request of
    exactly recv_bytes (8192) followed by a pipelined request; with lookahead on,
    waitress processed the second although the first had failed. minihttp reads
    nothing after a refused request: one 400, and ``/smuggled`` is never handled."""
    start = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: "
    end = b"\r\nBad Header Line\r\n\r\n"
    first = start + b"p" * (8192 - len(start) - len(end)) + end
    assert len(first) == 8192
    assert_not_smuggled(first + SMUGGLED)


# -- gunicorn -------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    # gunicorn's regression file for the fix, chunked_04.http ("chunked_twice").
    [b"identity", b"chunked", b"identity", b"chunked"],
    # Conflicting fields where chunked is not the final coding.
    [b"chunked", b"gzip"],
    [b"chunked", b"identity"],
])
def test_cve_2024_1135_conflicting_transfer_encodings(fields: list[bytes]) -> None:
    """gunicorn CVE-2024-1135 (GHSA-w3h3-4rj7-4ph4): several conflicting
    Transfer-Encoding fields were treated as chunked whatever the final coding.
    minihttp joins them into one list and refuses unless chunked is last, once."""
    head = b"".join(b"Transfer-Encoding: %s\r\n" % f for f in fields)
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\n" + head
           + b"\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + SMUGGLED)
    conn, recorder = replay(raw)
    assert conn.responses()[0].status in (400, 501)
    assert len(conn.responses()) == 1 and conn.closed
    assert b"/smuggled" not in recorder.seen


def test_cve_2024_1135_underscore_header_is_not_transfer_encoding() -> None:
    """The same release's ambiguous header mapping (gunicorn chunked_07.http):
    ``Transfer_Encoding: gzip`` next to ``Transfer-Encoding: chunked``. The body is
    read as chunked, and the WSGI app never sees HTTP_TRANSFER_ENCODING from the
    underscore spelling, which CGI-style mapping would have merged."""
    app, environs = wsgi_environs()
    pool = QueuedThreadPool()
    reactor = InlineReactor()
    handler = WSGIHandler(app, thread_pool=pool, reactor=reactor)
    conn = FakeConnection(Router([("/", handler)]), clock=reactor)
    conn.send(b"POST /chunked_ambiguous_header_mapping HTTP/1.1\r\nHost: a\r\n"
              b"Transfer_Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    pool.run()
    [response] = conn.responses()
    assert (response.status, response.body) == (200, b"hello world")
    # "gzip" from the underscore spelling reaches the app nowhere; the real field is
    # gone too, since the body was read ahead and comes with a CONTENT_LENGTH.
    environ = environs[0]
    assert "gzip" not in [value for value in environ.values() if isinstance(value, str)]
    assert "HTTP_TRANSFER_ENCODING" not in environ
    assert environ["CONTENT_LENGTH"] == "11"


@pytest.mark.parametrize("coding", [b"chunked,gzip", b",chunked", b"xchunked", b"chunked\x0b",
                                    b"CHUNKED, identity"])
def test_cve_2024_6827_transfer_encoding_never_falls_back_to_length(coding: bytes) -> None:
    """gunicorn CVE-2024-6827 (GHSA-hc5x-x2vx-497g): gunicorn 21.2.0 did not validate
    Transfer-Encoding and fell back to Content-Length for values it did not
    understand (TE.CL smuggling). minihttp never lets Content-Length decide when
    any Transfer-Encoding is present: the pair is refused."""
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + coding
           + b"\r\nContent-Length: 4\r\n\r\n1\r\nA\r\n0\r\n\r\n" + SMUGGLED)
    assert_not_smuggled(raw)


@pytest.mark.parametrize("coding", [b"chunked,gzip", b"xchunked", b"chunked\x0b",
                                    b"CHUNKED, identity"])
def test_cve_2024_6827_malformed_transfer_encoding_alone(coding: bytes) -> None:
    """The same advisory without a Content-Length to fall back to: a
    Transfer-Encoding that does not end in chunked is refused, never guessed at."""
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + coding
           + b"\r\n\r\n1\r\nA\r\n0\r\n\r\n" + SMUGGLED)
    conn, recorder = replay(raw)
    assert [r.status for r in conn.responses()] in ([400], [501]) and conn.closed
    assert recorder.seen == []


# -- h11 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("terminator", [b"XX", b"\n\n", b"\r\r", b"\rX", b"X\n"])
def test_cve_2025_43859_chunk_data_not_followed_by_crlf(terminator: bytes) -> None:
    """h11 CVE-2025-43859 (GHSA-vqfr-h8mv-ghfj): after a chunk's data h11 accepted
    any two bytes instead of CRLF. minihttp requires exactly CRLF: 400."""
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello" + terminator + b"0\r\n\r\n" + SMUGGLED)
    assert_not_smuggled(raw)
