"""Static files end to end: methods, types, validators, preconditions, directories, caching.

Every test runs twice through the ``client`` fixture: on FakeConnection
(StringTransport) and with treq over a real 127.0.0.1 socket.
Ranges and precompressed files are in test_static_ranges.py; traversal
attempts in test_static_traversal.py.
"""

from __future__ import annotations

import os
import time
from email.utils import formatdate
from pathlib import Path

import pytest
import pytest_twisted

from twisted_http import Request, Response, Router, StaticFiles
from twisted_http.static.conditional import parse_http_date

from .static_fixtures import BIG_SIZE, Client, Connect, FakeClient, connect_fixture, root_fixture  # noqa: F401 - fixtures


def http_date(seconds: float) -> bytes:
    return formatdate(int(seconds), usegmt=True).encode()


class App:
    """A handler that takes every request: what a WSGI app beside a folder would do."""

    def handle(self, request: Request, response: Response) -> bool:
        response.send(200, b"app:" + request.path_info, [(b"Content-Type", b"text/plain")])
        return True


# -- methods ------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_get_sends_the_file_with_length_and_validators(connect: Connect, root: Path) -> None:
    """GET of a file: 200, the bytes, Content-Length, Accept-Ranges, ETag, Last-Modified."""
    reply = await connect().request(b"GET", b"/hello.txt")
    assert reply.status == 200
    assert reply.body == b"hello world\n"
    assert reply.header(b"content-length") == b"12"
    assert reply.header(b"accept-ranges") == b"bytes"
    assert reply.header(b"etag") is not None
    assert reply.header(b"last-modified") == http_date((root / "hello.txt").stat().st_mtime)


@pytest_twisted.ensureDeferred
async def test_head_has_the_get_headers_and_no_body(connect: Connect) -> None:
    """HEAD: the same status and headers as GET, Content-Length included, and no body."""
    client = connect()
    get = await client.request(b"GET", b"/page.html")
    head = await client.request(b"HEAD", b"/page.html")
    assert head.status == 200 and head.body == b""
    for name in (b"content-length", b"content-type", b"etag", b"last-modified",
                 b"x-content-type-options", b"accept-ranges"):
        assert head.header(name) == get.header(name), name


@pytest.mark.parametrize("method", [b"BREW", b"PROPFIND"])
@pytest_twisted.ensureDeferred
async def test_unrecognized_methods_get_501(connect: Connect, method: bytes) -> None:
    """RFC 9110 §9.1: a method the server does not recognize is 501, not 405."""
    reply = await connect().request(method, b"/hello.txt")
    assert reply.status == 501
    assert reply.header(b"allow") is None


@pytest_twisted.ensureDeferred
async def test_a_future_mtime_is_never_a_future_last_modified(connect: Connect,
                                                              root: Path) -> None:
    """RFC 9110 §8.8.2.1: a file stamped in the future has Last-Modified no later than now."""
    ahead = time.time() + 86400
    os.utime(root / "hello.txt", (ahead, ahead))
    before = time.time()
    reply = await connect().request(b"GET", b"/hello.txt")
    modified = reply.header(b"last-modified")
    assert modified is not None
    assert parse_http_date(modified) <= time.time()
    assert parse_http_date(modified) >= int(before)


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"])
@pytest_twisted.ensureDeferred
async def test_other_methods_get_405_with_allow(connect: Connect, method: bytes) -> None:
    """Anything but GET and HEAD on a file: 405 with Allow: GET, HEAD, a small page."""
    reply = await connect().request(method, b"/hello.txt")
    assert reply.status == 405
    assert reply.header(b"allow") == b"GET, HEAD"
    assert reply.header(b"x-content-type-options") == b"nosniff"
    assert len(reply.body) < 512


@pytest_twisted.ensureDeferred
async def test_post_to_a_missing_path_is_declined_to_the_app(connect: Connect, root: Path) -> None:
    """No file: the folder declines, so an app on the same prefix gets the request."""
    client = connect(Router([("/", StaticFiles(root)), ("/", App())]))
    missing = await client.request(b"POST", b"/api/items")
    assert missing.status == 200 and missing.body == b"app:/api/items"
    present = await client.request(b"GET", b"/hello.txt")
    assert present.body == b"hello world\n"


@pytest_twisted.ensureDeferred
async def test_missing_file_alone_is_404(connect: Connect) -> None:
    """With nothing else mounted, a path with no file is the router's 404."""
    reply = await connect().request(b"GET", b"/no-such-file.txt")
    assert reply.status == 404


# -- types ----------------------------------------------------------------------

TYPES = [
    ("hello.txt", b"text/plain; charset=utf-8"),
    ("UPPER.TXT", b"text/plain; charset=utf-8"),
    ("page.html", b"text/html; charset=utf-8"),
    ("style.css", b"text/css; charset=utf-8"),
    ("app.js", b"text/javascript; charset=utf-8"),
    ("mod.mjs", b"text/javascript; charset=utf-8"),
    ("data.json", b"application/json; charset=utf-8"),
    ("app.js.map", b"application/json; charset=utf-8"),
    ("image.svg", b"image/svg+xml; charset=utf-8"),
    ("pic.webp", b"image/webp"),
    ("pic.avif", b"image/avif"),
    ("font.woff2", b"font/woff2"),
    ("code.wasm", b"application/wasm"),
    ("unknown.xyz", b"application/octet-stream"),
    ("noext", b"application/octet-stream"),
]


@pytest.mark.parametrize(("name", "expected"), TYPES)
@pytest_twisted.ensureDeferred
async def test_content_type_from_the_extension(connect: Connect, name: str,
                                               expected: bytes) -> None:
    """Types from the extension, modern web types included; charset on text; unknown is binary."""
    reply = await connect().request(b"GET", b"/" + name.encode())
    assert reply.header(b"content-type") == expected
    assert reply.header(b"x-content-type-options") == b"nosniff"


@pytest_twisted.ensureDeferred
async def test_types_are_overridable_per_mount(connect: Connect, root: Path) -> None:
    """A mount's content_types win; a bare text type gets a charset, a given one is kept."""
    client = connect(Router([
        ("/", StaticFiles(root)),
        ("/custom", StaticFiles(root, content_types={
            ".xyz": "text/x-custom", "js": "application/javascript",
            ".txt": "text/plain; charset=latin-1",
        })),
    ]))
    assert (await client.request(b"GET", b"/unknown.xyz")).header(
        b"content-type") == b"application/octet-stream"
    assert (await client.request(b"GET", b"/custom/unknown.xyz")).header(
        b"content-type") == b"text/x-custom; charset=utf-8"
    assert (await client.request(b"GET", b"/custom/app.js")).header(
        b"content-type") == b"application/javascript; charset=utf-8"
    assert (await client.request(b"GET", b"/custom/hello.txt")).header(
        b"content-type") == b"text/plain; charset=latin-1"


@pytest.mark.parametrize(("name", "expected_type"), [
    ("script.cgi", b"application/octet-stream"),
    ("page.rpy", b"application/octet-stream"),
    ("run.py", None),
])
@pytest_twisted.ensureDeferred
async def test_nothing_is_executed(connect: Connect, root: Path, name: str,
                                   expected_type: bytes | None) -> None:
    """.cgi, .rpy and .py files are sent as their bytes, never run."""
    reply = await connect().request(b"GET", b"/" + name.encode())
    assert reply.status == 200
    assert reply.body == (root / name).read_bytes()
    assert b"executed" in reply.body  # the source itself, not its output
    if expected_type is not None:
        assert reply.header(b"content-type") == expected_type


# -- validators and preconditions (RFC 9110 §13) --------------------------------------


@pytest_twisted.ensureDeferred
async def test_etag_is_strong_and_changes_with_the_file(connect: Connect, root: Path) -> None:
    """The ETag is a strong tag, the same on every GET, and new once the file changes."""
    client = connect()
    first = (await client.request(b"GET", b"/hello.txt")).header(b"etag")
    again = (await client.request(b"GET", b"/hello.txt")).header(b"etag")
    assert first is not None and first == again
    assert first.startswith(b'"') and first.endswith(b'"')
    (root / "hello.txt").write_bytes(b"hello there\n")
    os.utime(root / "hello.txt", (time.time() + 5, time.time() + 5))
    changed = await client.request(b"GET", b"/hello.txt")
    assert changed.header(b"etag") != first
    assert changed.body == b"hello there\n"


async def _validators(client: Client) -> tuple[bytes, bytes]:
    reply = await client.request(b"GET", b"/hello.txt")
    etag, modified = reply.header(b"etag"), reply.header(b"last-modified")
    assert etag is not None and modified is not None
    return etag, modified


@pytest_twisted.ensureDeferred
async def test_if_none_match_gives_304_with_validators(connect: Connect) -> None:
    """A matching If-None-Match: 304, no body, the ETag and Last-Modified, nosniff."""
    client = connect()
    etag, modified = await _validators(client)
    reply = await client.request(b"GET", b"/hello.txt", [(b"If-None-Match", etag)])
    assert reply.status == 304
    assert reply.body == b""
    assert reply.header(b"etag") == etag
    assert reply.header(b"last-modified") == modified
    assert reply.header(b"x-content-type-options") == b"nosniff"
    assert reply.header(b"content-type") is None


@pytest.mark.parametrize("template", [
    b'"other", %s', b'W/%s', b'"a", W/%s, "b"', b"*", b'"x,y", %s', b', %s,',
])
@pytest_twisted.ensureDeferred
async def test_if_none_match_lists_weak_and_star(connect: Connect, template: bytes) -> None:
    """If-None-Match matches within lists, weakly (W/ counts), and with *."""
    client = connect()
    etag, _ = await _validators(client)
    value = template % etag if b"%s" in template else template
    reply = await client.request(b"GET", b"/hello.txt", [(b"If-None-Match", value)])
    assert reply.status == 304


@pytest.mark.parametrize("value", [b'"nope"', b'W/"nope"', b"garbage", b""])
@pytest_twisted.ensureDeferred
async def test_if_none_match_without_a_match_is_200(connect: Connect, value: bytes) -> None:
    """If-None-Match naming another tag, or garbled, sends the file."""
    reply = await connect().request(b"GET", b"/hello.txt", [(b"If-None-Match", value)])
    assert reply.status == 200 and reply.body == b"hello world\n"


@pytest_twisted.ensureDeferred
async def test_head_with_if_none_match_is_304(connect: Connect) -> None:
    """HEAD is conditional like GET."""
    client = connect()
    etag, _ = await _validators(client)
    reply = await client.request(b"HEAD", b"/hello.txt", [(b"If-None-Match", etag)])
    assert reply.status == 304


@pytest_twisted.ensureDeferred
async def test_if_modified_since(connect: Connect, root: Path) -> None:
    """If-Modified-Since: 304 at or after the mtime, 200 before it or when not a date."""
    client = connect()
    mtime = (root / "hello.txt").stat().st_mtime
    os.utime(root / "hello.txt", (mtime - 7200, mtime - 7200))
    mtime -= 7200
    for value, status in [
        (http_date(mtime), 304),
        (http_date(mtime + 3600), 304),
        (http_date(mtime - 3600), 200),
        (b"yesterday", 200),
        (http_date(mtime) + b"x", 200),
    ]:
        reply = await client.request(b"GET", b"/hello.txt", [(b"If-Modified-Since", value)])
        assert reply.status == status, value


@pytest_twisted.ensureDeferred
async def test_if_modified_since_in_the_future_is_ignored(connect: Connect, root: Path) -> None:
    """A date later than the server's clock is invalid and ignored (RFC 9110 §13.1.3): 200."""
    client = connect()
    for value in (http_date(time.time() + 3600), b"Fri, 31 Dec 9999 23:59:59 GMT"):
        reply = await client.request(b"GET", b"/hello.txt", [(b"If-Modified-Since", value)])
        assert reply.status == 200, value
        assert reply.body == b"hello world\n"


@pytest_twisted.ensureDeferred
async def test_obsolete_date_forms_are_understood(connect: Connect, root: Path) -> None:
    """RFC 850 and asctime dates are HTTP-dates too (RFC 9110 §5.6.7)."""
    client = connect()
    stamp = (root / "hello.txt").stat().st_mtime - 7200
    os.utime(root / "hello.txt", (stamp, stamp))
    mtime = time.gmtime(stamp + 60)
    for value in (time.strftime("%A, %d-%b-%y %H:%M:%S GMT", mtime),
                  time.strftime("%a %b %e %H:%M:%S %Y", mtime)):
        reply = await client.request(b"GET", b"/hello.txt",
                                     [(b"If-Modified-Since", value.encode())])
        assert reply.status == 304, value


@pytest_twisted.ensureDeferred
async def test_if_none_match_takes_precedence_over_if_modified_since(connect: Connect,
                                                                     root: Path) -> None:
    """RFC 9110 §13.2.2 step 4: If-Modified-Since is ignored when If-None-Match is present."""
    mtime = (root / "hello.txt").stat().st_mtime
    reply = await connect().request(b"GET", b"/hello.txt", [
        (b"If-None-Match", b'"stale"'), (b"If-Modified-Since", http_date(mtime + 3600)),
    ])
    assert reply.status == 200


@pytest_twisted.ensureDeferred
async def test_if_match(connect: Connect) -> None:
    """If-Match: strong comparison; a miss or a weak tag is 412, a match or * proceeds."""
    client = connect()
    etag, _ = await _validators(client)
    for value, status in [(etag, 200), (b'"x", ' + etag, 200), (b"*", 200),
                          (b'"nope"', 412), (b"W/" + etag, 412), (b"garbage", 412)]:
        reply = await client.request(b"GET", b"/hello.txt", [(b"If-Match", value)])
        assert reply.status == status, value
        if status == 412:
            assert reply.header(b"x-content-type-options") == b"nosniff"
            assert b"hello" not in reply.body


@pytest_twisted.ensureDeferred
async def test_if_unmodified_since(connect: Connect, root: Path) -> None:
    """If-Unmodified-Since before the mtime is 412; after it proceeds; ignored under If-Match."""
    client = connect()
    etag, _ = await _validators(client)
    mtime = (root / "hello.txt").stat().st_mtime
    old, new = http_date(mtime - 3600), http_date(mtime + 3600)
    assert (await client.request(b"GET", b"/hello.txt",
                                 [(b"If-Unmodified-Since", old)])).status == 412
    assert (await client.request(b"GET", b"/hello.txt",
                                 [(b"If-Unmodified-Since", new)])).status == 200
    assert (await client.request(b"GET", b"/hello.txt", [
        (b"If-Match", etag), (b"If-Unmodified-Since", old)])).status == 200


@pytest_twisted.ensureDeferred
async def test_if_match_is_evaluated_before_if_none_match(connect: Connect) -> None:
    """RFC 9110 §13.2.2: a failed If-Match is 412 even when If-None-Match would give 304."""
    client = connect()
    etag, _ = await _validators(client)
    reply = await client.request(b"GET", b"/hello.txt",
                                 [(b"If-Match", b'"nope"'), (b"If-None-Match", etag)])
    assert reply.status == 412


# -- Cache-Control -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_no_cache_control_by_default(connect: Connect) -> None:
    """Without max_age no Cache-Control is sent."""
    assert (await connect().request(b"GET", b"/hello.txt")).header(b"cache-control") is None


@pytest_twisted.ensureDeferred
async def test_max_age_on_200_206_and_304(connect: Connect) -> None:
    """max_age sends Cache-Control: max-age on full, partial and not-modified responses."""
    client = connect(max_age=3600)
    full = await client.request(b"GET", b"/hello.txt")
    part = await client.request(b"GET", b"/hello.txt", [(b"Range", b"bytes=0-1")])
    etag = full.header(b"etag")
    assert etag is not None
    cached = await client.request(b"GET", b"/hello.txt", [(b"If-None-Match", etag)])
    assert (full.status, part.status, cached.status) == (200, 206, 304)
    for reply in (full, part, cached):
        assert reply.header(b"cache-control") == b"max-age=3600"


# -- directories --------------------------------------------------------------------


@pytest.mark.parametrize(("target", "location"), [
    (b"/sub", b"/sub/"),
    (b"/sub?a=1&b=%20x", b"/sub/?a=1&b=%20x"),
    (b"/sp%20ace", b"/sp%20ace/"),
    (b"//sub", b"/sub/"),
])
@pytest_twisted.ensureDeferred
async def test_directory_without_slash_redirects(connect: Connect, target: bytes,
                                                 location: bytes) -> None:
    """/dir → 301 to /dir/, query kept, Location escaped and never protocol-relative."""
    reply = await connect().request(b"GET", target)
    assert reply.status == 301
    assert reply.header(b"location") == location
    assert len(reply.body) < 512


@pytest_twisted.ensureDeferred
async def test_redirect_under_a_prefix_keeps_the_prefix(connect: Connect, root: Path) -> None:
    """A folder mounted at /files redirects /files/sub to /files/sub/, and /files to /files/."""
    client = connect(Router([("/files", StaticFiles(root, listing=True))]))
    assert (await client.request(b"GET", b"/files/sub")).header(b"location") == b"/files/sub/"
    assert (await client.request(b"GET", b"/files")).header(b"location") == b"/files/"
    assert (await client.request(b"GET", b"/files/")).status == 200


@pytest_twisted.ensureDeferred
async def test_directory_serves_its_index(connect: Connect) -> None:
    """/dir/ serves index.html with its type and validators."""
    reply = await connect().request(b"GET", b"/sub/")
    assert reply.status == 200 and reply.body == b"<p>sub index</p>\n"
    assert reply.header(b"content-type") == b"text/html; charset=utf-8"
    assert reply.header(b"etag") is not None


@pytest_twisted.ensureDeferred
async def test_index_names_are_configurable(connect: Connect) -> None:
    """index lists names to try in order."""
    client = connect(index=("missing.html", "default.htm", "index.html"))
    assert (await client.request(b"GET", b"/sub/")).body == b"<p>default.htm</p>\n"


@pytest_twisted.ensureDeferred
async def test_directory_without_index_is_declined_when_listings_are_off(
        connect: Connect, root: Path) -> None:
    """No index and no listing: nothing to serve, so 404 alone, or the app beside."""
    assert (await connect().request(b"GET", b"/bare/")).status == 404
    assert (await connect().request(b"GET", b"/bare")).status == 404
    beside = connect(Router([("/", StaticFiles(root)), ("/", App())]))
    assert (await beside.request(b"GET", b"/bare/")).body == b"app:/bare/"


@pytest_twisted.ensureDeferred
async def test_listing_is_sorted_escaped_and_complete(connect: Connect) -> None:
    """A listing: folders first, names sorted and escaped, sizes, dates, a parent link."""
    reply = await connect(listing=True).request(b"GET", b"/bare/")
    assert reply.status == 200
    assert reply.header(b"content-type") == b"text/html; charset=utf-8"
    page = reply.body.decode()
    assert '<a href="../">../</a>' in page
    assert page.index("zdir/") < page.index("a &lt;&amp;&gt;") < page.index("b.txt")
    assert "a <&>" not in page  # the raw name never reaches the HTML
    assert 'href="./a%20%3C%26%3E%27%22.txt"' in page
    assert '<td align="right">4</td>' in page and '<td align="right">3</td>' in page
    assert time.strftime("%Y-%m-%d", time.gmtime()) in page
    assert ".secret" not in page


@pytest_twisted.ensureDeferred
async def test_listing_leaves_out_hidden_and_outside_entries(connect: Connect) -> None:
    """At the root: no parent link, no dotfiles, no symlink out of the root, no FIFO."""
    page = (await connect(listing=True).request(b"GET", b"/")).body.decode()
    assert "hello.txt" in page and "sub/" in page and "link_in.txt" in page
    for absent in ('href="../"', ".env", ".git", "link_out", "link_dir_out", "fifo", "broken"):
        assert absent not in page, absent


@pytest_twisted.ensureDeferred
async def test_listing_has_an_etag_and_answers_304(connect: Connect) -> None:
    """A listing carries a strong ETag of its bytes, and If-None-Match on it is 304."""
    client = connect(listing=True)
    etag = (await client.request(b"GET", b"/bare/")).header(b"etag")
    assert etag is not None
    reply = await client.request(b"GET", b"/bare/", [(b"If-None-Match", etag)])
    assert reply.status == 304


@pytest_twisted.ensureDeferred
async def test_index_wins_over_listing(connect: Connect) -> None:
    """With listings on, a directory that has an index still serves the index."""
    assert (await connect(listing=True).request(b"GET", b"/sub/")).body == b"<p>sub index</p>\n"


# -- streaming ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_file_larger_than_a_chunk_arrives_whole(connect: Connect, root: Path) -> None:
    """A file of several 64 KiB chunks streams through the producer and arrives intact."""
    client = connect()
    reply = await client.request(b"GET", b"/big.bin")
    assert reply.status == 200
    assert reply.header(b"content-length") == b"%d" % BIG_SIZE
    assert reply.body == (root / "big.bin").read_bytes()
    if isinstance(client, FakeClient):
        # The send buffer, one chunk over it (as with TCP), and the head: never the file.
        assert client.max_buffered <= 65536 + 65536 + 1024


@pytest_twisted.ensureDeferred
async def test_empty_file(connect: Connect) -> None:
    """An empty file is a 200 with Content-Length: 0."""
    reply = await connect().request(b"GET", b"/empty.txt")
    assert reply.status == 200 and reply.body == b""
    assert reply.header(b"content-length") == b"0"


@pytest_twisted.ensureDeferred
async def test_utf8_names(connect: Connect) -> None:
    """A percent-encoded UTF-8 name reaches its file."""
    reply = await connect().request(b"GET", b"/caf%C3%A9.txt")
    assert reply.status == 200 and reply.body == b"coffee\n"


@pytest_twisted.ensureDeferred
async def test_a_file_with_a_trailing_slash_or_more_path_is_missing(connect: Connect) -> None:
    """/hello.txt/ and /hello.txt/x.css name no file (no web-cache-deception aliases): 404."""
    client = connect()
    for target in (b"/hello.txt/", b"/hello.txt/x.css", b"/link_in.txt/"):
        assert (await client.request(b"GET", target)).status == 404, target
