"""Message framing as pure functions: how long a body is, and whether the connection persists.

Request framing follows RFC 9112 §6.3 and is deliberately strict, because every
request-smuggling attack is a disagreement between two parsers about where a body
ends. Anything ambiguous is refused, and the channel closes the connection after
answering, so no byte after a doubtful request is ever read as a new one.
"""

from __future__ import annotations

import enum

from .errors import BadRequest, NotImplementedCoding
from .headers import Headers, is_token, parse_list

HTTP_10 = b"HTTP/1.0"
HTTP_11 = b"HTTP/1.1"

# Content-Length is 1*DIGIT. Eighteen digits is an exabyte; longer strings are
# refused before int() sees them (int parsing of huge digit strings is costly).
_MAX_LENGTH_DIGITS = 18


def request_body_length(version: bytes, headers: Headers) -> int | None:
    """The request body's length in bytes, or None when it is chunked.

    Raises BadRequest or NotImplementedCoding for every framing RFC 9112 §6
    does not define exactly one way.
    """
    codings = headers.get_all(b"transfer-encoding")
    lengths = headers.get_all(b"content-length")
    if codings:
        if lengths:
            # §6.1: a sender MUST NOT send both; a server MAY reject. We do:
            # the pair is the classic CL.TE / TE.CL smuggling vector.
            raise BadRequest("Both Content-Length and Transfer-Encoding")
        if version == HTTP_10:
            # §6.1: chunked is not defined for 1.0, so framing would be guesswork.
            raise BadRequest("Transfer-Encoding on HTTP/1.0")
        members = parse_list(codings)
        if not members or members[-1] != b"chunked":
            raise BadRequest("Transfer-Encoding must end with chunked")
        if any(not is_token(member) for member in members):
            raise BadRequest("Malformed Transfer-Encoding")
        if len(members) > 1:
            if b"chunked" in members[:-1]:
                raise BadRequest("chunked applied more than once")
            raise NotImplementedCoding()
        return None
    if not lengths:
        return 0
    if len(lengths) > 1:
        raise BadRequest("More than one Content-Length")
    value = lengths[0]
    if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
        # isdigit() on bytes is ASCII digits only: signs, spaces, commas and
        # hex are all refused here.
        raise BadRequest("Malformed Content-Length")
    return int(value)


def keep_alive(version: bytes, headers: Headers) -> bool:
    """Whether the client lets the connection persist after this message (RFC 9112 §9.3)."""
    options = parse_list(headers.get_all(b"connection"))
    if b"close" in options:
        return False
    if version == HTTP_11:
        return True
    return b"keep-alive" in options


class BodyMode(enum.Enum):
    """How a response body is delimited on the wire."""

    NONE = "none"  # HEAD, 1xx, 204, 304: no body whatever the handler writes
    LENGTH = "length"  # Content-Length
    CHUNKED = "chunked"  # HTTP/1.1 with no length known
    CLOSE = "close"  # HTTP/1.0 with no length known: the close ends the body


def response_body_mode(
    method: bytes, status: int, version: bytes, content_length: int | None
) -> BodyMode:
    """How to delimit a response (RFC 9112 §6.3 rules 1 and 2, seen from the sender)."""
    if method == b"HEAD" or status in (204, 304) or status < 200:
        return BodyMode.NONE
    if content_length is not None:
        return BodyMode.LENGTH
    if version == HTTP_11:
        return BodyMode.CHUNKED
    return BodyMode.CLOSE
