"""Byte ranges (RFC 9110 §14) and precompressed siblings, end to end.

Every test runs on FakeConnection and with treq over a real 127.0.0.1 socket.
"""

from __future__ import annotations

import re
from email.utils import formatdate
from pathlib import Path

import pytest
import pytest_twisted

from .static_fixtures import BIG_SIZE, Connect, Reply, connect_fixture, root_fixture  # noqa: F401 - fixtures

HELLO = b"hello world\n"  # 12 bytes


def parts_of(reply: Reply) -> list[tuple[bytes, bytes, bytes]]:
    """(Content-Type, Content-Range, data) of each part of a multipart/byteranges body."""
    content_type = reply.header(b"content-type") or b""
    match = re.fullmatch(rb"multipart/byteranges; boundary=([0-9a-f]+)", content_type)
    assert match, content_type
    boundary = match.group(1)
    body = reply.body
    assert body.startswith(b"--" + boundary + b"\r\n")
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
    chunks = body[: -len(b"\r\n--" + boundary + b"--\r\n")].split(b"\r\n--" + boundary + b"\r\n")
    chunks[0] = chunks[0][len(b"--" + boundary + b"\r\n"):]
    parts = []
    for chunk in chunks:
        head, _, data = chunk.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        parts.append((fields[b"Content-Type"], fields[b"Content-Range"], data))
    return parts


# -- single ranges ---------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "content_range", "data"), [
    (b"bytes=0-4", b"bytes 0-4/12", b"hello"),
    (b"bytes=6-", b"bytes 6-11/12", b"world\n"),
    (b"bytes=-6", b"bytes 6-11/12", b"world\n"),
    (b"bytes=-100", b"bytes 0-11/12", HELLO),
    (b"bytes=6-1000", b"bytes 6-11/12", b"world\n"),
    (b"bytes=11-11", b"bytes 11-11/12", b"\n"),
    (b"BYTES = 0-0", b"bytes 0-0/12", b"h"),
    (b"bytes=0-1,20-30", b"bytes 0-1/12", b"he"),
])
@pytest_twisted.ensureDeferred
async def test_single_open_and_suffix_ranges(connect: Connect, spec: bytes,
                                             content_range: bytes, data: bytes) -> None:
    """One satisfiable range: 206, its Content-Range and Content-Length, just those bytes."""
    reply = await connect().request(b"GET", b"/hello.txt", [(b"Range", spec)])
    assert reply.status == 206
    assert reply.header(b"content-range") == content_range
    assert reply.header(b"content-type") == b"text/plain; charset=utf-8"
    assert reply.header(b"content-length") == b"%d" % len(data)
    assert reply.body == data
    assert reply.header(b"etag") is not None and reply.header(b"last-modified") is not None


@pytest_twisted.ensureDeferred
async def test_a_range_across_chunks_of_a_streamed_file(connect: Connect, root: Path) -> None:
    """A range spanning several 64 KiB chunks, sent through the producer, is exact."""
    first, last = 1000, BIG_SIZE - 7
    spec = b"bytes=%d-%d" % (first, last)
    reply = await connect().request(b"GET", b"/big.bin", [(b"Range", spec)])
    assert reply.status == 206
    assert reply.body == (root / "big.bin").read_bytes()[first:last + 1]


# -- several ranges ------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_several_ranges_are_multipart_byteranges(connect: Connect) -> None:
    """Several ranges: one multipart/byteranges body, a part per range in the order asked."""
    reply = await connect().request(b"GET", b"/hello.txt", [(b"Range", b"bytes=6-10, 0-4")])
    assert reply.status == 206
    assert reply.header(b"content-range") is None
    assert reply.header(b"content-length") == b"%d" % len(reply.body)
    assert parts_of(reply) == [
        (b"text/plain; charset=utf-8", b"bytes 6-10/12", b"world"),
        (b"text/plain; charset=utf-8", b"bytes 0-4/12", b"hello"),
    ]


@pytest_twisted.ensureDeferred
async def test_multipart_of_a_big_file_streams(connect: Connect, root: Path) -> None:
    """Multipart ranges over a file larger than a chunk go through the producer intact."""
    data = (root / "big.bin").read_bytes()
    reply = await connect().request(b"GET", b"/big.bin",
                                    [(b"Range", b"bytes=0-99999,150000-")])
    assert reply.status == 206
    parts = parts_of(reply)
    assert [p[2] for p in parts] == [data[:100000], data[150000:]]
    assert parts[1][1] == b"bytes 150000-%d/%d" % (BIG_SIZE - 1, BIG_SIZE)


# -- refused and ignored ranges -----------------------------------------------------------------


@pytest.mark.parametrize("spec", [b"bytes=12-", b"bytes=100-200", b"bytes=12-20, 30-"])
@pytest_twisted.ensureDeferred
async def test_unsatisfiable_range_is_416(connect: Connect, spec: bytes) -> None:
    """No range within the file: 416 with Content-Range: bytes */12, a small page."""
    reply = await connect().request(b"GET", b"/hello.txt", [(b"Range", spec)])
    assert reply.status == 416
    assert reply.header(b"content-range") == b"bytes */12"
    assert reply.header(b"x-content-type-options") == b"nosniff"
    assert HELLO not in reply.body and len(reply.body) < 512


@pytest.mark.parametrize("spec", [
    b"bytes=5-1", b"bytes=abc", b"items=0-1", b"bytes=", b"bytes=--1", b"bytes=0-1-2",
    b"bytes 0-1", b"bytes=1.5-2", b"bytes=-", b"bytes=0x1-2", b"bytes=99999999999999999999-",
])
@pytest_twisted.ensureDeferred
async def test_malformed_range_is_ignored(connect: Connect, spec: bytes) -> None:
    """A Range that does not parse is ignored: 200 with the whole file."""
    reply = await connect().request(b"GET", b"/hello.txt", [(b"Range", spec)])
    assert reply.status == 200 and reply.body == HELLO


@pytest_twisted.ensureDeferred
async def test_too_many_ranges_get_the_whole_file(connect: Connect) -> None:
    """More ranges than max_ranges: 200 with the whole file, once."""
    client = connect(max_ranges=4)
    four = b"bytes=0-0,2-2,4-4,6-6"
    five = four + b",8-8"
    assert (await client.request(b"GET", b"/hello.txt", [(b"Range", four)])).status == 206
    reply = await client.request(b"GET", b"/hello.txt", [(b"Range", five)])
    assert reply.status == 200 and reply.body == HELLO


@pytest_twisted.ensureDeferred
async def test_the_default_range_cap_stops_hundreds_of_ranges(connect: Connect) -> None:
    """Two hundred disjoint one-byte ranges, over the default cap: the whole file, once."""
    spec = b"bytes=" + b",".join(b"%d-%d" % (i, i) for i in range(0, 400, 2))
    reply = await connect().request(b"GET", b"/big.bin", [(b"Range", spec)])
    assert reply.status == 200
    assert len(reply.body) == BIG_SIZE


@pytest.mark.parametrize("spec", [b"bytes=0-5,3-8", b"bytes=0-,0-", b"bytes=-5,0-"])
@pytest_twisted.ensureDeferred
async def test_overlapping_ranges_get_the_whole_file(connect: Connect, spec: bytes) -> None:
    """Overlapping ranges (the same bytes asked for twice): 200 with the whole file, once."""
    reply = await connect().request(b"GET", b"/hello.txt", [(b"Range", spec)])
    assert reply.status == 200 and reply.body == HELLO


@pytest_twisted.ensureDeferred
async def test_range_is_ignored_on_head(connect: Connect) -> None:
    """Range is defined for GET only (RFC 9110 §14.2): HEAD gets the 200 headers."""
    reply = await connect().request(b"HEAD", b"/hello.txt", [(b"Range", b"bytes=0-1")])
    assert reply.status == 200
    assert reply.header(b"content-length") == b"12"


# -- If-Range ---------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_if_range(connect: Connect, root: Path) -> None:
    """If-Range: the current ETag or Last-Modified gets 206; anything else, weak tags
    included, gets the whole current file."""
    client = connect()
    full = await client.request(b"GET", b"/hello.txt")
    etag, modified = full.header(b"etag"), full.header(b"last-modified")
    assert etag is not None and modified is not None
    earlier = formatdate((root / "hello.txt").stat().st_mtime - 60, usegmt=True).encode()
    for value, status in [(etag, 206), (modified, 206), (b'"stale"', 200), (b"W/" + etag, 200),
                          (earlier, 200), (b"not a date", 200)]:
        reply = await client.request(b"GET", b"/hello.txt",
                                     [(b"Range", b"bytes=0-4"), (b"If-Range", value)])
        assert reply.status == status, value
        assert reply.body == (b"hello" if status == 206 else HELLO)


# -- precompressed siblings ---------------------------------------------------------------


@pytest.mark.parametrize(("accept", "body", "coding"), [
    (b"gzip, deflate, br", b"BROTLI-BYTES", b"br"),
    (b"br", b"BROTLI-BYTES", b"br"),
    (b"gzip", b"GZIP-BYTES", b"gzip"),
    (b"x-gzip", b"GZIP-BYTES", b"gzip"),
    (b"br;q=0.5, gzip;q=0.8", b"GZIP-BYTES", b"gzip"),
    (b"br;q=0, gzip", b"GZIP-BYTES", b"gzip"),
    (b"*", b"BROTLI-BYTES", b"br"),
    (b"*;q=0.5, br;q=0", b"GZIP-BYTES", b"gzip"),
    (b"br;q=0.3, identity;q=0.5", b"body { color: red }\n" * 10, None),
    (b"identity", b"body { color: red }\n" * 10, None),
    (b"deflate", b"body { color: red }\n" * 10, None),
    (b"gzip;q=0, br;q=0", b"body { color: red }\n" * 10, None),
    (b"br;q=nonsense, gzip", b"GZIP-BYTES", b"gzip"),
])
@pytest_twisted.ensureDeferred
async def test_precompressed_sibling_by_q_value(connect: Connect, accept: bytes, body: bytes,
                                                coding: bytes | None) -> None:
    """The best accepted sibling is sent with Content-Encoding, the original's type, and Vary."""
    reply = await connect().request(b"GET", b"/comp.css", [(b"Accept-Encoding", accept)])
    assert reply.status == 200
    assert reply.body == body
    assert reply.header(b"content-encoding") == coding
    assert reply.header(b"content-type") == b"text/css; charset=utf-8"
    assert reply.header(b"vary") == b"Accept-Encoding"


@pytest_twisted.ensureDeferred
async def test_no_accept_encoding_gets_identity_with_vary(connect: Connect) -> None:
    """Without Accept-Encoding the original is sent, still with Vary (a cache must know)."""
    reply = await connect().request(b"GET", b"/comp.css")
    assert reply.header(b"content-encoding") is None
    assert reply.header(b"vary") == b"Accept-Encoding"
    assert reply.body == b"body { color: red }\n" * 10


@pytest_twisted.ensureDeferred
async def test_only_existing_siblings_are_used(connect: Connect) -> None:
    """onlygz.js has a .gz and no .br: a br-only client gets the original."""
    client = connect()
    brotli = await client.request(b"GET", b"/onlygz.js", [(b"Accept-Encoding", b"br")])
    assert brotli.body == b"let x = 1;\n" and brotli.header(b"content-encoding") is None
    both = await client.request(b"GET", b"/onlygz.js", [(b"Accept-Encoding", b"br, gzip")])
    assert both.body == b"GZ-ONLY" and both.header(b"content-encoding") == b"gzip"
    assert both.header(b"content-type") == b"text/javascript; charset=utf-8"


@pytest_twisted.ensureDeferred
async def test_no_siblings_no_vary(connect: Connect) -> None:
    """A file with no precompressed sibling varies on nothing."""
    reply = await connect().request(b"GET", b"/hello.txt", [(b"Accept-Encoding", b"gzip, br")])
    assert reply.header(b"vary") is None and reply.header(b"content-encoding") is None


@pytest_twisted.ensureDeferred
async def test_each_encoding_has_its_own_etag(connect: Connect) -> None:
    """Identity, gzip and br have three ETags; a 304 needs the tag of the chosen encoding."""
    client = connect()
    tags = {}
    for accept in (b"identity", b"gzip", b"br"):
        reply = await client.request(b"GET", b"/comp.css", [(b"Accept-Encoding", accept)])
        tags[accept] = reply.header(b"etag")
    assert len(set(tags.values())) == 3
    brotli_tag = tags[b"br"]
    assert brotli_tag is not None
    same = await client.request(b"GET", b"/comp.css",
                                [(b"Accept-Encoding", b"br"), (b"If-None-Match", brotli_tag)])
    assert same.status == 304 and same.header(b"vary") == b"Accept-Encoding"
    assert same.header(b"etag") == brotli_tag
    other = await client.request(b"GET", b"/comp.css",
                                 [(b"Accept-Encoding", b"gzip"), (b"If-None-Match", brotli_tag)])
    assert other.status == 200 and other.body == b"GZIP-BYTES"


@pytest_twisted.ensureDeferred
async def test_ranges_apply_to_the_encoded_bytes(connect: Connect) -> None:
    """A Range on a precompressed response counts bytes of the encoded file."""
    reply = await connect().request(b"GET", b"/comp.css",
                                    [(b"Accept-Encoding", b"br"), (b"Range", b"bytes=0-6")])
    assert reply.status == 206
    assert reply.body == b"BROTLI-"
    assert reply.header(b"content-range") == b"bytes 0-6/12"
    assert reply.header(b"content-encoding") == b"br"


@pytest_twisted.ensureDeferred
async def test_precompressed_can_be_turned_off(connect: Connect) -> None:
    """precompressed=False: the original always, and no Vary."""
    reply = await connect(precompressed=False).request(b"GET", b"/comp.css",
                                                       [(b"Accept-Encoding", b"br, gzip")])
    assert reply.body == b"body { color: red }\n" * 10
    assert reply.header(b"content-encoding") is None and reply.header(b"vary") is None


@pytest_twisted.ensureDeferred
async def test_a_sibling_requested_by_name_is_a_plain_file(connect: Connect) -> None:
    """GET /comp.css.gz is that file, application/gzip, with no Content-Encoding."""
    reply = await connect().request(b"GET", b"/comp.css.gz", [(b"Accept-Encoding", b"gzip")])
    assert reply.body == b"GZIP-BYTES"
    assert reply.header(b"content-type") == b"application/gzip"
    assert reply.header(b"content-encoding") is None
