"""Chunked request bodies read ahead of the WSGI app (issue 16, ``wsgi/readahead.py``).

A chunked body reaches the app whole, with ``CONTENT_LENGTH`` and a seekable
``wsgi.input``, so apps that read exactly ``CONTENT_LENGTH`` bytes (Django) see
it; bad framing is answered before the app runs, and the app is never called.
Fed whole and one byte at a time, on fakes (``InlineThreadPool``: the app runs
on the reactor thread, which only works because the body is all there).
"""

from __future__ import annotations

import hashlib
import io
import socket
from typing import Any

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.threads import deferToThread

from twisted_http import ServerConfig
from twisted_http.testing import FakeConnection, parse_responses
from twisted_http.wire.parser import MAX_CHUNK_LINE
from twisted_http.wire.serializer import chunk
from twisted_http.wsgi.readahead import ContinuedInput

from ._parser_driver import split_at
from .apps.support import serve
from .test_parser import BAD_CHUNK_DATA, MALFORMED_SIZE_LINES, MALFORMED_TRAILERS

HEAD = b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"


def chunked_body(data: bytes, size: int = 1000) -> bytes:
    """``data`` as chunks of ``size`` bytes and the last chunk."""
    pieces = [chunk(data[i:i + size]) for i in range(0, len(data), size)]
    return b"".join(pieces) + b"0\r\n\r\n"


def multipart(name: str, data: bytes) -> tuple[bytes, bytes]:
    """A form upload of one file: (Content-Type value, body)."""
    boundary = b"----minihttp-boundary"
    body = (b"--" + boundary + b"\r\n"
            b'Content-Disposition: form-data; name="file"; filename="' + name.encode() + b'"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
            b"--" + boundary + b"--\r\n")
    return b"multipart/form-data; boundary=" + boundary, body


class Recorder:
    """A WSGI app that records its calls and what it read of the body."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls.append(dict(environ))
        length = environ.get("CONTENT_LENGTH")
        stream = environ["wsgi.input"]
        body = stream.read(int(length)) if length else stream.read()
        self.bodies.append(body)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d" % len(body)]


class Rereads(Recorder):
    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        result = super().__call__(environ, start_response)
        environ["wsgi.input"].seek(0)
        self.bodies.append(environ["wsgi.input"].read())
        return result


def send(conn: FakeConnection, data: bytes, bytewise: bool) -> None:
    if bytewise:
        conn.send_bytewise(data)
    else:
        conn.send(data)


# -- what the app gets ----------------------------------------------------------------


def django_app() -> Any:
    from .apps.django_app import app

    return app


def flask_app() -> Any:
    from .apps.flask_app import app

    return app


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize("make_app", [django_app, flask_app], ids=["django", "flask"])
def test_frameworks_read_a_chunked_upload(make_app: Any, bytewise: bool) -> None:
    """Django and Flask get a chunked file upload whole: Django reads CONTENT_LENGTH bytes."""
    data = bytes(range(256)) * 40
    content_type, body = multipart("notes.bin", data)
    conn = serve(make_app(), validate=False)
    send(conn, HEAD + b"Content-Type: " + content_type + b"\r\n\r\n"
         + chunked_body(body, 777), bytewise)
    [response] = conn.responses()
    assert response.status == 200, response.body
    assert response.body == f"notes.bin {len(data)} {hashlib.sha256(data).hexdigest()}".encode()


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_the_app_gets_content_length_and_a_seekable_input(bytewise: bool) -> None:
    """CONTENT_LENGTH is the body's length, wsgi.input seeks, and it is no longer 'chunked'."""
    app = Rereads()
    conn = serve(app, validate=False)  # wsgiref's validator hides seek()
    send(conn, HEAD + b"\r\n" + chunked_body(b"hello world", 3), bytewise)
    [response] = conn.responses()
    assert (response.status, response.body) == (200, b"11")
    [environ] = app.calls
    assert environ["CONTENT_LENGTH"] == "11"
    assert "HTTP_TRANSFER_ENCODING" not in environ
    assert app.bodies == [b"hello world", b"hello world"]  # read, seek(0), read again



def test_an_empty_chunked_body_has_content_length_zero() -> None:
    app = Recorder()
    conn = serve(app)
    conn.send(HEAD + b"\r\n0\r\n\r\n")
    assert conn.responses()[0].body == b"0"
    assert app.calls[0]["CONTENT_LENGTH"] == "0"


def test_past_read_ahead_memory_the_body_is_spooled_to_a_file() -> None:
    """Over read_ahead_memory the body goes to a temporary file, handed to the app at its start."""
    data = bytes(range(256)) * 8
    app = Recorder()
    conn = serve(app, validate=False, read_ahead_memory=100)
    conn.send(HEAD + b"\r\n" + chunked_body(data, 64))
    assert conn.responses()[0].body == b"2048"
    assert app.bodies == [data]
    stream = app.calls[0]["wsgi.input"]
    assert stream.closed  # the exchange closed it once the app was done: its space is freed
    assert not isinstance(stream, io.BytesIO)


def test_within_read_ahead_memory_the_body_stays_in_memory() -> None:
    app = Recorder()
    conn = serve(app, validate=False, read_ahead_memory=4096)
    conn.send(HEAD + b"\r\n" + chunked_body(b"x" * 4096))
    assert conn.responses()[0].body == b"4096"
    assert isinstance(app.calls[0]["wsgi.input"], io.BytesIO)


def test_a_content_length_body_is_not_read_ahead() -> None:
    """Content-Length framing is untouched: the app gets the server's streaming input."""
    app = Recorder()
    conn = serve(app, validate=False)
    conn.request(b"POST", b"/", [(b"Content-Length", b"5")], b"hello")
    assert conn.responses()[0].body == b"5"
    assert not isinstance(app.calls[0]["wsgi.input"], io.BytesIO)


def test_expect_100_continue_is_answered_before_the_read_ahead() -> None:
    """The read-ahead asks for the body, so a client waiting for 100 Continue gets it first."""
    app = Recorder()
    conn = serve(app)
    conn.send(HEAD + b"Expect: 100-continue\r\n\r\n")
    interim = conn.responses()
    assert [r.status for r in interim] == [100]
    assert app.calls == []
    conn.send(chunked_body(b"hello"))
    assert [r.status for r in conn.responses()] == [100, 200]
    assert app.bodies == [b"hello"]


# -- bad framing: answered before the app runs --------------------------------------

_SMUGGLING_SHAPES = [
    b"0x5\r\nhello\r\n0\r\n\r\n", b"+5\r\nhello\r\n0\r\n\r\n", b"5_0\r\nhello\r\n0\r\n\r\n",
    b"5;\x00=x\r\nhello\r\n0\r\n\r\n", b"1;\x7f\r\nA\r\n0\r\n\r\n",
    b"1;ext=val\rue\r\nA\r\n0\r\n\r\n",
    *(b"5\r\nhello" + end + b"0\r\n\r\n" for end in (b"XX", b"\n\n", b"\r\r", b"\rX", b"X\n")),
    b"f" * 17 + b"\r\n", b"0" * 1000 + b"1\r\nA\r\n0\r\n\r\n",
    b"1" + b";a=b" * (MAX_CHUNK_LINE // 4 + 10),  # an extension flood over the line limit
]
MALFORMED_BODIES = [
    *(line + b"\r\nhello\r\n0\r\n\r\n" for line in MALFORMED_SIZE_LINES),
    *BAD_CHUNK_DATA,
    *(b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n\r\n" for trailer in MALFORMED_TRAILERS),
    *_SMUGGLING_SHAPES,
]


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize("body", MALFORMED_BODIES)
def test_malformed_chunked_bodies_are_400_and_the_app_is_never_called(
    body: bytes, bytewise: bool
) -> None:
    """Every malformed-chunk shape the parser tests know: 400, closed, and no app call."""
    app = Recorder()
    conn = serve(app)
    send(conn, HEAD + b"\r\n" + body, bytewise)
    [response] = conn.responses()
    assert response.status == 400
    assert conn.closed
    assert app.calls == []


@pytest.mark.parametrize("body", [b"5\r\nhello\r\n", b"5\r\nhel", b"5\r\nhello\r\n0\r\n"])
def test_a_missing_last_chunk_is_400_and_the_app_is_never_called(body: bytes) -> None:
    """A client that half-closes before the last chunk: 400, not a 200 from a partial body."""
    app = Recorder()
    conn = serve(app)
    conn.send(HEAD + b"\r\n" + body)
    conn.half_close()
    [response] = conn.responses()
    assert response.status == 400
    assert app.calls == []


def test_a_stalled_chunked_body_is_408_and_the_app_is_never_called() -> None:
    """A body that stops coming times out before the app runs."""
    app = Recorder()
    conn = serve(app, config=ServerConfig(body_timeout=5))
    conn.send(HEAD + b"\r\n5\r\nhello\r\n")
    conn.clock.advance(5)
    [response] = conn.responses()
    assert response.status == 408
    assert app.calls == []


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_a_chunked_body_over_max_body_size_is_413_before_the_app(bytewise: bool) -> None:
    app = Recorder()
    conn = serve(app, config=ServerConfig(max_body_size=10))
    send(conn, HEAD + b"\r\n" + chunked_body(b"x" * 11, 4), bytewise)
    [response] = conn.responses()
    assert response.status == 413
    assert app.calls == []


# -- longer than the read-ahead: streamed --------------------------------------------


def test_continued_input_reads_the_part_read_ahead_then_the_rest() -> None:
    """read, readline and iteration run across the seam between the two parts."""
    def make() -> ContinuedInput:
        return ContinuedInput(io.BytesIO(b"ab\ncd"), io.BytesIO(b"ef\ngh"))

    assert make().read() == b"ab\ncdef\ngh"
    stream = make()
    assert [stream.read(4), stream.read(4), stream.read(4), stream.read(4)] == [
        b"ab\nc", b"def\n", b"gh", b""]
    assert list(make()) == [b"ab\n", b"cdef\n", b"gh"]
    stream = make()
    assert [stream.readline(2), stream.readline(2), stream.readline(4)] == [b"ab", b"\n", b"cdef"]
    assert make().readlines(4) == [b"ab\n", b"cdef\n"]


@pytest.mark.parametrize("make_app", [flask_app], ids=["flask"])
@pytest_twisted.ensureDeferred
async def test_a_body_over_read_ahead_size_is_streamed_to_the_app(make_app: Any) -> None:
    """Over a real socket, real threads: past read_ahead_size the app gets it all, streamed.

    Flask reads to the end (wsgi.input_terminated); docs/wsgi.md says which apps do.
    """
    from .test_wsgi_end_to_end import listening

    data = bytes(range(256)) * 200
    content_type, body = multipart("big.bin", data)
    request = HEAD + b"Content-Type: " + content_type + b"\r\nConnection: close\r\n\r\n"
    request += chunked_body(body, 1000)
    async with listening([("/", make_app())], read_ahead_memory=1000,
                         read_ahead_size=10_000) as url:
        [reply] = parse_responses(await deferToThread(_exchange, url, request))
    assert reply.status == 200
    assert reply.body == f"big.bin {len(data)} {hashlib.sha256(data).hexdigest()}".encode()


@pytest_twisted.ensureDeferred
async def test_django_over_a_socket_reads_a_chunked_upload() -> None:
    """The issue's case end to end: Django, a chunked upload, a real socket and threads."""
    from .test_wsgi_end_to_end import listening

    data = bytes(range(256)) * 200
    content_type, body = multipart("big.bin", data)
    request = HEAD + b"Content-Type: " + content_type + b"\r\nConnection: close\r\n\r\n"
    request += chunked_body(body, 1000)
    async with listening([("/", django_app())], read_ahead_memory=1000) as url:
        [reply] = parse_responses(await deferToThread(_exchange, url, request))
    assert reply.status == 200
    assert reply.body == f"big.bin {len(data)} {hashlib.sha256(data).hexdigest()}".encode()


def _exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        parts = []
        while data := sock.recv(65536):
            parts.append(data)
    return b"".join(parts)


@given(st.binary(max_size=3000), st.lists(st.integers(1, 700), min_size=1, max_size=6),
       st.lists(st.integers(0, 4000), max_size=8))
def test_any_chunking_and_any_split_give_the_app_the_same_body(
    body: bytes, sizes: list[int], cuts: list[int]
) -> None:
    """However the body is chunked and the bytes arrive, the app gets it whole, with its length."""
    pieces, rest = [], body
    for size in sizes * (len(body) // max(1, sum(sizes)) + 1):
        if not rest:
            break
        pieces.append(chunk(rest[:size]))
        rest = rest[size:]
    data = HEAD + b"\r\n" + b"".join(pieces) + b"0\r\n\r\n"
    app = Recorder()
    conn = serve(app, validate=False, read_ahead_memory=1000)
    for piece in split_at(data, cuts):
        conn.send(piece)
    [response] = conn.responses()
    assert response.status == 200
    assert app.bodies == [body]
    assert app.calls[0]["CONTENT_LENGTH"] == str(len(body))
