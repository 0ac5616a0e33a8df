"""Framing as pure functions: a request body's length, keep-alive, and a response's body mode."""

from __future__ import annotations

import pytest

from twisted_http.wire.errors import BadRequest, NotImplementedCoding, ProtocolError
from twisted_http.wire.framing import (
    HTTP_10,
    HTTP_11,
    BodyMode,
    keep_alive,
    request_body_length,
    response_body_mode,
)
from twisted_http.wire.headers import Headers


def headers(*pairs: tuple[bytes, bytes]) -> Headers:
    return Headers(pairs)


@pytest.mark.parametrize(
    ("version", "pairs", "expected"),
    [
        (HTTP_11, (), 0),
        (HTTP_10, (), 0),
        (HTTP_11, ((b"content-length", b"0"),), 0),
        (HTTP_11, ((b"content-length", b"42"),), 42),
        (HTTP_10, ((b"content-length", b"42"),), 42),
        (HTTP_11, ((b"content-length", b"0042"),), 42),
        (HTTP_11, ((b"content-length", b"9" * 18),), 10**18 - 1),
        (HTTP_11, ((b"transfer-encoding", b"chunked"),), None),
        (HTTP_11, ((b"transfer-encoding", b"CHUNKED"),), None),
        (HTTP_11, ((b"transfer-encoding", b""), (b"transfer-encoding", b"chunked")), None),
        (HTTP_11, ((b"content-type", b"text/plain"),), 0),
    ],
)
def test_request_body_length(
    version: bytes, pairs: tuple[tuple[bytes, bytes], ...], expected: int | None
) -> None:
    """No framing is an empty body, Content-Length its decimal value, chunked None."""
    assert request_body_length(version, headers(*pairs)) == expected


@pytest.mark.parametrize(
    ("version", "pairs", "kind"),
    [
        (HTTP_11, ((b"content-length", b"1"), (b"content-length", b"1")), BadRequest),
        (HTTP_11, ((b"content-length", b"1, 1"),), BadRequest),
        (HTTP_11, ((b"content-length", b"-1"),), BadRequest),
        (HTTP_11, ((b"content-length", b"+1"),), BadRequest),
        (HTTP_11, ((b"content-length", b"0x10"),), BadRequest),
        (HTTP_11, ((b"content-length", b""),), BadRequest),
        (HTTP_11, ((b"content-length", b"1 "),), BadRequest),
        (HTTP_11, ((b"content-length", b"\xd9\xa1"),), BadRequest),
        (HTTP_11, ((b"content-length", b"1" * 19),), BadRequest),
        (HTTP_11, ((b"content-length", b"1"), (b"transfer-encoding", b"chunked")), BadRequest),
        (HTTP_10, ((b"transfer-encoding", b"chunked"),), BadRequest),
        (HTTP_11, ((b"transfer-encoding", b"gzip"),), BadRequest),
        (HTTP_11, ((b"transfer-encoding", b""),), BadRequest),
        (HTTP_11, ((b"transfer-encoding", b"chunked, gzip"),), BadRequest),
        (HTTP_11, ((b"transfer-encoding", b"chunked, chunked"),), BadRequest),
        (HTTP_11, ((b"transfer-encoding", b"chunked"), (b"transfer-encoding", b"chunked")),
         BadRequest),
        (HTTP_11, ((b"transfer-encoding", b"g@zip, chunked"),), BadRequest),
        (HTTP_11, ((b"transfer-encoding", b"gzip, chunked"),), NotImplementedCoding),
        (HTTP_11, ((b"transfer-encoding", b"gzip"), (b"transfer-encoding", b"chunked")),
         NotImplementedCoding),
    ],
)
def test_ambiguous_or_unsupported_framing_is_refused(
    version: bytes, pairs: tuple[tuple[bytes, bytes], ...], kind: type[ProtocolError]
) -> None:
    """Every framing RFC 9112 §6 does not define exactly one way raises; codings we lack are 501."""
    with pytest.raises(ProtocolError) as caught:
        request_body_length(version, headers(*pairs))
    assert type(caught.value) is kind
    assert caught.value.status == (501 if kind is NotImplementedCoding else 400)


@pytest.mark.parametrize(
    ("version", "connection", "expected"),
    [
        (HTTP_11, (), True),
        (HTTP_11, (b"close",), False),
        (HTTP_11, (b"Close",), False),
        (HTTP_11, (b"keep-alive",), True),
        (HTTP_11, (b"upgrade, close",), False),
        (HTTP_11, (b"upgrade", b"close"), False),
        (HTTP_11, (b"closed",), True),
        (HTTP_10, (), False),
        (HTTP_10, (b"keep-alive",), True),
        (HTTP_10, (b"KEEP-ALIVE",), True),
        (HTTP_10, (b" keep-alive ,",), True),
        (HTTP_10, (b"keep-alive, close",), False),
        (HTTP_10, (b"close",), False),
        (HTTP_10, (b"keep-alives",), False),
    ],
)
def test_keep_alive(version: bytes, connection: tuple[bytes, ...], expected: bool) -> None:
    """1.1 persists unless Connection has close; 1.0 only with keep-alive (RFC 9112 §9.3)."""
    fields = headers(*((b"connection", value) for value in connection))
    assert keep_alive(version, fields) is expected


@pytest.mark.parametrize(
    ("method", "status", "version", "length", "expected"),
    [
        (b"HEAD", 200, HTTP_11, 10, BodyMode.NONE),
        (b"HEAD", 200, HTTP_10, None, BodyMode.NONE),
        (b"GET", 204, HTTP_11, None, BodyMode.NONE),
        (b"GET", 304, HTTP_11, 10, BodyMode.NONE),
        (b"GET", 100, HTTP_11, None, BodyMode.NONE),
        (b"GET", 199, HTTP_11, None, BodyMode.NONE),
        (b"GET", 200, HTTP_11, 10, BodyMode.LENGTH),
        (b"GET", 200, HTTP_10, 0, BodyMode.LENGTH),
        (b"POST", 404, HTTP_11, None, BodyMode.CHUNKED),
        (b"GET", 200, HTTP_10, None, BodyMode.CLOSE),
        (b"GET", 205, HTTP_11, None, BodyMode.CHUNKED),
    ],
)
def test_response_body_mode(
    method: bytes, status: int, version: bytes, length: int | None, expected: BodyMode
) -> None:
    """HEAD, 1xx, 204 and 304 have no body; else a length, chunked on 1.1, or close on 1.0."""
    assert response_body_mode(method, status, version, length) is expected
