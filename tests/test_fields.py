"""Response fields: checked before they can reach the wire, once when a HeaderBlock holds them."""

from __future__ import annotations

import pytest

from twisted_http import HeaderBlock
from twisted_http.testing import FakeConnection
from twisted_http.wire.fields import check_fields

from .handlers import Calls

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
PAIRS = [(b"Content-Type", b"text/plain"), (b"ETag", b'"1"'), (b"Content-Length", b"5")]


@pytest.mark.parametrize("pair", [
    (b"X-Bad", b"a\r\nSet-Cookie: x=1"), (b"Bad Name", b"v"), (b"Transfer-Encoding", b"chunked"),
    (b"Content-Length", b"-1"), (b"Connection", b"upgrade"),
])
def test_a_block_refuses_what_a_response_refuses(pair: tuple[bytes, bytes]) -> None:
    """A HeaderBlock is checked when built, by the rules start() applies."""
    with pytest.raises(ValueError):
        HeaderBlock([pair])
    with pytest.raises(ValueError):
        check_fields([pair])


def test_a_block_gives_back_its_pairs() -> None:
    """Iterating a block gives the pairs it was built from, in order."""
    assert list(HeaderBlock(PAIRS)) == PAIRS


def _head(headers: object, status: int = 200, body: bytes = b"hello") -> bytes:
    def respond(request: object, response: object) -> None:
        response.start(status, headers)  # type: ignore[attr-defined]
        response.write(body)  # type: ignore[attr-defined]
        response.finish()  # type: ignore[attr-defined]

    conn = FakeConnection(Calls(respond))
    conn.send(GET)
    return conn.written


@pytest.mark.parametrize("status", [200, 204, 404])
def test_a_block_and_its_pairs_make_the_same_response(status: int) -> None:
    """Bytes on the wire are the same from a block as from the pairs, 204 included
    (where Content-Length is left out either way)."""
    assert _head(HeaderBlock(PAIRS), status) == _head(PAIRS, status)
    if status == 204:
        assert b"Content-Length" not in _head(HeaderBlock(PAIRS), status)


def test_send_checks_a_blocks_length_against_the_body() -> None:
    """send() with a block whose Content-Length is not the body's is a 500, never sent."""
    def respond(request: object, response: object) -> None:
        response.send(200, b"too long", HeaderBlock(PAIRS))  # type: ignore[attr-defined]

    conn = FakeConnection(Calls(respond))
    conn.send(GET)
    [response] = conn.responses()
    assert response.status == 500 and b"too long" not in conn.written
