"""The static file cache: a kept path is checked on every request, and never outlives a change.

Each test first makes sure the cache holds what it is about (so it would fail
if the cache were never used), changes the file system, and checks the next
answer is the one the slow path gives. Times are set apart with os.utime, as
two real changes more than one clock tick apart would be; the wait the cache
makes before keeping a file (its settle time) is switched off except where it
is the subject.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

import twisted_http.static.filecache as filecache
from twisted_http import StaticFiles
from twisted_http.testing import FakeConnection, RecordedResponse, parse_responses

from .static_fixtures import BIG_SIZE, root_fixture  # noqa: F401 - fixture

GZIP = [(b"Accept-Encoding", b"gzip")]


def get(handler: StaticFiles, target: bytes, headers: Iterable[tuple[bytes, bytes]] = (),
        method: bytes = b"GET") -> RecordedResponse:
    """One request on a new connection, read to the end as a client would."""
    connection = FakeConnection(handler, send_buffer=65536)
    connection.request(method, target, list(headers))
    received = []
    while True:
        received.append(connection.read())
        if connection.producer is None and not connection.transport.value():
            break
    (response,) = parse_responses(b"".join(received), [method])
    return response


def eager(handler: StaticFiles) -> StaticFiles:
    """``handler`` with its cache keeping files however recently they changed."""
    handler.cache.settle_ns = handler.cache.fine_settle_ns = 0
    return handler


def later(path: Path, seconds: int = 10) -> None:
    """Move ``path``'s times ahead, as a change one tick or more after the last would."""
    stamp = path.stat().st_mtime_ns + seconds * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def held(handler: StaticFiles, target: bytes) -> bytes | None:
    """The bytes the cache holds for ``target``'s original form (None: none, or no entry)."""
    entry = handler.cache._entries.get(target)
    return None if entry is None else entry.original.body


@pytest.fixture
def site(root: Path) -> StaticFiles:
    return eager(StaticFiles(root))


# -- the file changes ----------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"HELLO WORLD\n", b"hello world, and more\n", b"hi\n"],
                         ids=["same-size", "grown", "shrunk"])
def test_a_file_changed_in_place_is_served_anew(site: StaticFiles, root: Path,
                                                 content: bytes) -> None:
    """Rewritten (same size, longer, shorter): the next GET has the new bytes and a new ETag."""
    first = get(site, b"/hello.txt")
    assert held(site, b"/hello.txt") == b"hello world\n"
    (root / "hello.txt").write_bytes(content)
    later(root / "hello.txt")
    second = get(site, b"/hello.txt")
    assert second.status == 200 and second.body == content
    assert second.header(b"etag") != first.header(b"etag")
    assert second.header(b"content-length") == b"%d" % len(content)
    assert held(site, b"/hello.txt") == content


def test_a_write_that_restores_the_mtime_is_still_seen(site: StaticFiles, root: Path) -> None:
    """touch -d putting the old mtime back does not hide a write: the ctime moved."""
    path = root / "hello.txt"
    get(site, b"/hello.txt")
    assert held(site, b"/hello.txt") is not None
    before = path.stat()
    time.sleep(0.02)  # past a kernel tick, so the ctime differs
    path.write_bytes(b"HELLO WORLD\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert get(site, b"/hello.txt").body == b"HELLO WORLD\n"


def test_a_deleted_file_is_declined(site: StaticFiles, root: Path) -> None:
    """Deleted after being kept: 404 (declined), and the entry is gone."""
    get(site, b"/hello.txt")
    assert held(site, b"/hello.txt") is not None
    (root / "hello.txt").unlink()
    assert get(site, b"/hello.txt").status == 404
    assert b"/hello.txt" not in site.cache


def test_a_file_replaced_by_a_link_out_of_the_root_is_403(site: StaticFiles, root: Path) -> None:
    """Swapped for a symlink to a file outside the root: 403, as on the first lookup."""
    get(site, b"/hello.txt")
    assert held(site, b"/hello.txt") is not None
    link = root / "swap.tmp"
    os.symlink(root.parent / "outside" / "secret.txt", link)
    os.replace(link, root / "hello.txt")
    reply = get(site, b"/hello.txt")
    assert reply.status == 403 and b"SECRET" not in reply.body


def test_a_folder_on_the_path_replaced_by_a_link_out_is_403(root: Path) -> None:
    """A folder on the path swapped for a link leading out of the root: 403 for its files."""
    site = eager(StaticFiles(root))
    (root / "dir").mkdir()
    (root / "dir" / "secret.txt").write_bytes(b"inside file\n")
    assert get(site, b"/dir/secret.txt").body == b"inside file\n"
    assert held(site, b"/dir/secret.txt") is not None
    os.rename(root / "dir", root / "dir.old")
    os.symlink(root.parent / "outside", root / "dir")
    reply = get(site, b"/dir/secret.txt")
    assert reply.status == 403 and b"SECRET" not in reply.body


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_made_unreadable_is_403(site: StaticFiles, root: Path) -> None:
    """chmod 0 after being kept: 403, though the bytes are in memory."""
    get(site, b"/hello.txt")
    assert held(site, b"/hello.txt") is not None
    (root / "hello.txt").chmod(0)
    try:
        assert get(site, b"/hello.txt").status == 403
    finally:
        (root / "hello.txt").chmod(0o644)


def test_a_large_file_is_reopened_each_time_and_its_change_seen(site: StaticFiles,
                                                                root: Path) -> None:
    """Past 64 KiB only the lookup is kept: a rewrite of the same size is served anew."""
    first = get(site, b"/big.bin")
    assert b"/big.bin" in site.cache and held(site, b"/big.bin") is None
    (root / "big.bin").write_bytes(b"z" * BIG_SIZE)
    later(root / "big.bin")
    second = get(site, b"/big.bin")
    assert second.body == b"z" * BIG_SIZE
    assert second.header(b"etag") != first.header(b"etag")


def test_a_file_rewritten_while_read_is_served_once_and_not_kept(
    site: StaticFiles, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Torn read: the file changes between the fstat and the read; those bytes are not kept."""
    path = root / "hello.txt"
    real_pread = os.pread

    def pread_then_rewrite(fd: int, length: int, offset: int) -> bytes:
        data = real_pread(fd, length, offset)
        path.write_bytes(b"HELLO WORLD\n")
        later(path)
        return data

    monkeypatch.setattr(os, "pread", pread_then_rewrite)
    assert get(site, b"/hello.txt").body == b"hello world\n"
    monkeypatch.undo()
    assert held(site, b"/hello.txt") is None
    assert get(site, b"/hello.txt").body == b"HELLO WORLD\n"


# -- the folder changes --------------------------------------------------------------------


def test_a_sibling_added_later_is_offered(site: StaticFiles, root: Path) -> None:
    """hello.txt.gz appearing after hello.txt was kept: a gzip client now gets it, with Vary."""
    before = get(site, b"/hello.txt", GZIP)
    assert before.header(b"content-encoding") is None and before.header(b"vary") is None
    assert held(site, b"/hello.txt") is not None
    (root / "hello.txt.gz").write_bytes(b"GZ-HELLO")
    later(root)
    after = get(site, b"/hello.txt", GZIP)
    assert after.body == b"GZ-HELLO" and after.header(b"content-encoding") == b"gzip"
    assert after.header(b"vary") == b"Accept-Encoding"
    assert get(site, b"/hello.txt").header(b"vary") == b"Accept-Encoding"


def test_a_sibling_removed_is_no_longer_offered(site: StaticFiles, root: Path) -> None:
    """comp.css.br removed after being sent: the next br client gets the gzip sibling."""
    both = [(b"Accept-Encoding", b"br, gzip")]
    assert get(site, b"/comp.css", both).body == b"BROTLI-BYTES"
    (root / "comp.css.br").unlink()
    later(root)
    reply = get(site, b"/comp.css", both)
    assert reply.body == b"GZIP-BYTES" and reply.header(b"content-encoding") == b"gzip"


def test_a_sibling_rewritten_is_served_anew(site: StaticFiles, root: Path) -> None:
    """A kept .gz sibling rewritten: its own check sees it, new bytes and ETag."""
    first = get(site, b"/comp.css", GZIP)
    assert first.body == b"GZIP-BYTES"
    (root / "comp.css.gz").write_bytes(b"GZIP-AGAIN")
    later(root / "comp.css.gz")
    second = get(site, b"/comp.css", GZIP)
    assert second.body == b"GZIP-AGAIN" and second.header(b"etag") != first.header(b"etag")


def test_an_index_removed_gives_the_next_one_the_listing_or_a_decline(root: Path) -> None:
    """The index in use removed: the next index name, then a listing (or 404 without one).

    Without precompressed files, so only the index lookup watches the folder."""
    names = ("index.html", "default.htm")
    listed = eager(StaticFiles(root, index=names, listing=True, precompressed=False))
    plain = eager(StaticFiles(root, index=names, precompressed=False))
    for handler in (listed, plain):
        assert get(handler, b"/sub/").body == b"<p>sub index</p>\n"
        assert b"/sub/" in handler.cache
    (root / "sub" / "index.html").unlink()
    later(root / "sub")
    for handler in (listed, plain):
        assert get(handler, b"/sub/").body == b"<p>default.htm</p>\n"
    (root / "sub" / "default.htm").unlink()
    later(root / "sub", 20)
    assert get(listed, b"/sub/").body.startswith(b"<!DOCTYPE html>")
    assert get(plain, b"/sub/").status == 404


def test_an_earlier_index_added_takes_over(root: Path) -> None:
    """index.html created in a folder served by its second index name: index.html wins."""
    handler = eager(StaticFiles(root, index=("index.html", "default.htm"), precompressed=False))
    (root / "sub" / "index.html").unlink()
    later(root / "sub")
    assert get(handler, b"/sub/").body == b"<p>default.htm</p>\n"
    assert b"/sub/" in handler.cache
    (root / "sub" / "index.html").write_bytes(b"<p>new index</p>\n")
    later(root / "sub", 20)
    assert get(handler, b"/sub/").body == b"<p>new index</p>\n"


# -- what is kept, and how much ------------------------------------------------------------


def test_only_answers_with_a_file_are_kept(site: StaticFiles) -> None:
    """404s, 403s, 400s, 405s, redirects and listings add nothing: a flood of them neither."""
    for number in range(500):
        assert get(site, b"/missing-%d.txt" % number).status == 404
    for target in (b"/link_out.txt", b"/%2e%2e/x", b"/sub", b"/.env", b"/hello.txt/"):
        assert get(site, target).status in (301, 400, 403, 404), target
    assert get(site, b"/hello.txt", method=b"POST").status == 405
    listing = eager(StaticFiles(site.root, listing=True))
    assert get(listing, b"/bare/").status == 200
    assert len(site.cache) == 0 and len(listing.cache) == 0
    get(site, b"/hello.txt")
    assert len(site.cache) == 1


def test_only_the_canonical_spelling_of_a_path_is_kept(site: StaticFiles) -> None:
    """//hello.txt and /sub//index.html are served but not kept: no aliases filling the cache."""
    for target in (b"//hello.txt", b"/sub//index.html", b"/sub//"):
        assert get(site, target).status == 200, target
    assert len(site.cache) == 0
    for target in (b"/hello.txt", b"/sub/", b"/sub/index.html"):
        get(site, target)
    assert len(site.cache) == 3


def test_the_entry_bound_evicts_the_least_recently_used(root: Path) -> None:
    """cache_entries=3: a fourth path pushes out the one used longest ago."""
    site = eager(StaticFiles(root, cache_entries=3))
    for target in (b"/app.js", b"/style.css", b"/data.json"):
        get(site, target)
    get(site, b"/app.js")  # used again: now the most recent
    get(site, b"/hello.txt")
    assert len(site.cache) == 3
    assert b"/style.css" not in site.cache
    assert all(path in site.cache for path in (b"/app.js", b"/data.json", b"/hello.txt"))


def test_the_byte_bound_evicts_and_too_large_is_never_held(root: Path) -> None:
    """cache_bytes=25: two 10-byte files fit, a third evicts the oldest; 200 bytes never fit."""
    site = eager(StaticFiles(root, cache_bytes=25))
    for target in (b"/app.js", b"/style.css", b"/data.json"):
        assert get(site, target).body == b"x" * 10
    assert site.cache.held_bytes == 20
    assert b"/app.js" not in site.cache
    assert held(site, b"/style.css") == b"x" * 10 and held(site, b"/data.json") == b"x" * 10
    assert get(site, b"/comp.css").status == 200  # 200 bytes: entry kept, bytes not
    assert b"/comp.css" in site.cache and held(site, b"/comp.css") is None
    assert site.cache.held_bytes <= 25


def test_no_bytes_held_with_cache_bytes_zero(root: Path) -> None:
    """cache_bytes=0: lookups are kept, file bytes are read each time."""
    site = eager(StaticFiles(root, cache_bytes=0))
    assert get(site, b"/hello.txt").body == b"hello world\n"
    assert b"/hello.txt" in site.cache and held(site, b"/hello.txt") is None
    assert site.cache.held_bytes == 0


def test_a_file_changed_moments_ago_is_not_kept_until_it_settles(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Just written: served but not kept (a second write in the same tick would not show)."""
    site = StaticFiles(root)
    (root / "fresh.txt").write_bytes(b"fresh\n")
    assert get(site, b"/fresh.txt").body == b"fresh\n"
    assert b"/fresh.txt" not in site.cache
    now = time.time_ns()
    monkeypatch.setattr(filecache.time, "time_ns", lambda: now + filecache.SETTLE_NS)
    assert get(site, b"/fresh.txt").body == b"fresh\n"
    assert held(site, b"/fresh.txt") == b"fresh\n"


def test_a_kept_entry_still_refuses_other_methods(site: StaticFiles) -> None:
    """POST to a kept file: 405 with Allow, from the cached entry too."""
    get(site, b"/hello.txt")
    assert b"/hello.txt" in site.cache
    reply = get(site, b"/hello.txt", method=b"POST")
    assert reply.status == 405 and reply.header(b"allow") == b"GET, HEAD"


# -- switched off --------------------------------------------------------------------------


REQUESTS = [
    (b"GET", b"/hello.txt", []),
    (b"HEAD", b"/hello.txt", []),
    (b"GET", b"/comp.css", [(b"Accept-Encoding", b"br;q=0.5, gzip")]),
    (b"GET", b"/big.bin", [(b"Range", b"bytes=5-9")]),
    (b"GET", b"/sub/", []),
    (b"GET", b"/missing", []),
]


def test_switched_off_it_keeps_nothing_and_answers_the_same(root: Path) -> None:
    """cache_entries=0: nothing is kept, every answer equals the cached handler's, and a
    change is seen."""
    off = eager(StaticFiles(root, cache_entries=0))
    on = eager(StaticFiles(root))
    for _ in range(2):
        for method, target, headers in REQUESTS:
            a, b = get(off, target, headers, method), get(on, target, headers, method)
            assert (a.status, a.body) == (b.status, b.body), target
            assert [h for h in a.headers if h[0] != b"date"] == [
                h for h in b.headers if h[0] != b"date"], target
    assert len(off.cache) == 0 and len(on.cache) == 4
    (root / "hello.txt").write_bytes(b"HELLO WORLD\n")
    later(root / "hello.txt")
    assert get(off, b"/hello.txt").body == b"HELLO WORLD\n"


def test_cache_options_are_checked() -> None:
    """A negative bound is refused at start-up."""
    with pytest.raises(ValueError, match="cache_entries"):
        StaticFiles(".", cache_entries=-1)
    with pytest.raises(ValueError, match="cache_bytes"):
        StaticFiles(".", cache_bytes=-1)
