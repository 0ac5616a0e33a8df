"""The static handler's memory: what paths resolved to, small files' bytes, checked every use.

Theory of operation
-------------------

An ``Entry`` is kept per request path (``Request.path_info``, the part below
the mount) for paths that ended in a file being served: a file, or a folder's
index file. It remembers what the slow path worked out, so a hit does none of
it again: the path checks, the symlink resolution (an ``lstat`` per
component), the index lookup, which precompressed siblings exist, and each
form's response pieces (ETag, Last-Modified, Content-Type, Content-Length and
the whole header list of a plain 200). A file up to ``CHUNK_SIZE`` also keeps
its bytes, read once, so a hit opens nothing.

**Validation, on every request.** An entry lists the paths it depends on with
the ``Identity`` each had: device, inode, size, mtime and ctime (ns). A hit
``stat``\\s each path again (``stat`` follows links, as the lookup did) and uses
the entry only if every identity is unchanged; otherwise the entry is dropped
and the slow path runs as if it had never been there. There is no time to
live: a change is seen by the next request. The paths are:

- the file's own path as the request names it, the root joined with the
  segments, links unresolved. The same identity means the path still leads to
  the very file that was resolved, found inside the root and read. A write
  changes mtime and ctime; a replacement (rename over it, delete and create,
  a link swapped to point elsewhere) changes the inode; a deletion makes
  ``stat`` fail; ``chmod`` changes ctime, so a file made unreadable gets its
  403 from the slow path. ctime is there because nobody can set it: a write
  hidden by ``touch -d`` to restore the mtime still shows.
- the folder holding the file (its real location), when precompressed
  siblings are served: creating, removing or renaming ``name.gz`` or
  ``name.br`` in it changes the folder's mtime and ctime, so a new sibling is
  offered and a removed one is not. A sibling in use is itself checked, by its
  own path, when it is the form chosen.
- for an index, the folder the request names: adding an index file that comes
  earlier in the ``index`` order, or removing the one in use, changes it.

**Why a hit cannot leave the root.** Nothing on the hit path turns a path
into a file name other than the one the slow path checked. If the request's
path now leads through a link to somewhere else, ``stat`` sees that place's
file, and only the very same inode (a hard link of it, whose bytes were
already servable) has the same identity; anything else is a miss, and the
slow path refuses it as before. Bytes are kept only when the descriptor read
is that same inode (its ``fstat`` equals the identity resolved), so a file
swapped between lookup and open is served once, as it would have been without
the cache, and never kept.

**Timestamps that have not moved yet.** File times come from a coarse clock
(a kernel tick of a few milliseconds; whole seconds on ext3, HFS+ and some
network file systems), so a file written twice within one tick, keeping its
size, keeps its identity. An entry is therefore only kept once every identity
in it has a ctime safely in the past, so that any later change lands in a
later tick and shows: ``FINE_SETTLE_NS`` when the ctime has a fraction of a
second (the file system keeps fine times), ``SETTLE_NS`` when it is a whole
second (it may keep only seconds). Until then the path is served by the slow
path, as without the cache. (This is git's "racy clean" rule.) ctime is the
time that matters: it changes with every write, and on FAT, whose mtime is
kept in 2-second steps, it is kept to 10 ms.

**Torn reads.** A small file's bytes are kept only when the ``fstat`` after
reading equals the identity before and the read returned the whole size: a
file rewritten while it was read changes its ctime, so half-old, half-new bytes
are served once at most and never kept.

**Bounds.** Only results that serve a file are kept: 404s, 403s, 400s,
redirects and listings are not, so requests for paths that do not exist add
nothing. Nor are paths that are not in their one canonical spelling
(``//a.css``, ``/a//b.css``): a client cannot fill the cache with aliases of
one file. ``max_entries`` and ``max_bytes`` (file bytes held) bound the rest;
the least recently used entries go first.

**What can still go stale.** Changes that leave every identity as it was:
writes through a shared ``mmap`` (times are updated late), a wall clock stepped
back more than the settle time, a network file system whose server clock lags
ours by more than it, or someone with the rights to edit the disk directly.
The ETag, made from the same mtime and size, is blind to these too. A dangling
link used as a sibling or index that starts to resolve because its target
appears elsewhere is noticed when its folder or the file changes. A link on
the path re-pointed to a hard link of the same file in another folder keeps
the old folder's siblings until that folder or the file changes.
"""

from __future__ import annotations

import os
import time

import attrs

from ..wire.fields import HeaderBlock
from .conditional import http_date, make_etag

Header = tuple[bytes, bytes]

# (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns): see the module docstring.
Identity = tuple[int, int, int, int, int]

# 1,024 entries: a site's hot set of pages, scripts, styles and icons, with
# each entry a few hundred bytes of paths and headers besides the file's bytes.
DEFAULT_ENTRIES = 1024
# 16 MiB of file bytes: every small file of a typical site, and small next to
# the page cache it saves a system call into.
DEFAULT_BYTES = 16 * 1024 * 1024
# How long a file must have been left alone before it is kept. Whole-second
# times may be 2-second steps (FAT mtimes): 2 s. Finer times are at worst a
# 10 ms kernel tick: 100 ms is ten of them.
SETTLE_NS = 2_000_000_000
FINE_SETTLE_NS = 100_000_000
_SECOND = 1_000_000_000


def identity(info: os.stat_result) -> Identity:
    """What tells a file from any other and from its own earlier contents."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def unchanged(path: bytes, known: Identity) -> bool:
    """Whether ``path`` (links followed) still has identity ``known``."""
    try:
        return identity(os.stat(path)) == known
    except OSError:
        return False


@attrs.define(eq=False)
class Representation:
    """One form of a file (the original, or a ``.br``/``.gz`` sibling) and its response pieces."""

    path: str  # the real path: what is opened to read it
    watch: bytes  # the path checked before a hit serves it
    identity: Identity
    coding: bytes  # Content-Encoding; b"" for the original
    tag: bytes  # what tells its ETag from its siblings'
    content_type: bytes
    extra: list[Header]  # fields after the validators: Cache-Control, Vary, nosniff
    etag: bytes
    modified: int  # Last-Modified, whole seconds since the epoch
    common: HeaderBlock  # validators, then the caller's extra fields: what a 304 carries
    tail: list[Header]  # Accept-Ranges, common, Content-Encoding: after Content-Type
    full: HeaderBlock  # the whole head of a plain 200, checked once
    body: bytes | None = None  # the file's bytes, once read and kept

    @property
    def size(self) -> int:
        return self.identity[2]

    @classmethod
    def build(cls, info: os.stat_result, path: str, watch: bytes, coding: bytes, tag: bytes,
              content_type: bytes, extra: list[Header]) -> Representation:
        """The pieces for a file with stat ``info``; ``tag`` tells its ETag from its siblings'."""
        etag = make_etag(info.st_mtime_ns, info.st_size, tag)
        # RFC 9110 §8.8.2.1: a modification time in the future (a clock that was
        # ahead, a touch -d) is replaced by the present: never a Last-Modified
        # later than the response's Date.
        modified = min(int(info.st_mtime), int(time.time()))
        common = HeaderBlock([(b"ETag", etag), (b"Last-Modified", http_date(modified)), *extra])
        tail = [(b"Accept-Ranges", b"bytes"), *common]
        if coding:
            tail.append((b"Content-Encoding", coding))
        full = HeaderBlock([(b"Content-Type", content_type), *tail,
                            (b"Content-Length", b"%d" % info.st_size)])
        return cls(path, watch, identity(info), coding, tag, content_type, extra, etag, modified,
                   common, tail, full)

    def restated(self, info: os.stat_result) -> Representation:
        """The same form as the file now is (stat ``info``), nothing kept."""
        return self.build(info, self.path, self.watch, self.coding, self.tag, self.content_type,
                          self.extra)


@attrs.define(eq=False)
class Entry:
    """What one request path resolved to: the file's forms and the paths to check."""

    key: bytes  # the request's path_info
    watched: tuple[tuple[bytes, Identity], ...]
    original: Representation
    variants: dict[bytes, Representation]  # by Content-Encoding, best first
    codings: tuple[bytes, ...]  # the variants' keys, for negotiation
    held: int = 0  # bytes of file content kept in the representations


class FileCache:
    """Entries by request path, validated when fetched, bounded in number and in bytes held.

    ``max_entries=0`` turns the cache off; ``max_bytes=0`` keeps resolutions
    but no file bytes.
    """

    def __init__(self, max_entries: int = DEFAULT_ENTRIES,
                 max_bytes: int = DEFAULT_BYTES) -> None:
        if max_entries < 0:
            raise ValueError(f"cache_entries must be 0 or more, not {max_entries!r}")
        if max_bytes < 0:
            raise ValueError(f"cache_bytes must be 0 or more, not {max_bytes!r}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.settle_ns = SETTLE_NS
        self.fine_settle_ns = FINE_SETTLE_NS
        self.held_bytes = 0
        self.hits = self.misses = 0  # lookups, ever (metrics)
        # Insertion order is recency: a hit moves its entry to the end.
        self._entries: dict[bytes, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: bytes) -> Entry | None:
        """The entry for ``key`` if every path it depends on is unchanged; None otherwise."""
        entries = self._entries
        entry = entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        for path, known in entry.watched:
            if not unchanged(path, known):
                self.discard(entry)
                self.misses += 1
                return None
        del entries[key]
        entries[key] = entry
        self.hits += 1
        return entry

    def add(self, entry: Entry) -> None:
        """Keep ``entry`` if the cache is on and every file in it has settled."""
        if not self.max_entries:
            return
        now = time.time_ns()
        identities = [known for _, known in entry.watched]
        identities += [variant.identity for variant in entry.variants.values()]
        for known in identities:
            ctime = known[4]
            if now - ctime < (self.fine_settle_ns if ctime % _SECOND else self.settle_ns):
                return  # changed too recently to tell a further change from it
        old = self._entries.get(entry.key)
        if old is not None:
            self.discard(old)
        while len(self._entries) >= self.max_entries:
            self._evict_oldest()
        self._entries[entry.key] = entry

    def keep_body(self, entry: Entry, form: Representation, body: bytes) -> None:
        """Hold ``body`` as the bytes of ``form`` (of ``entry``), if it is kept and they fit."""
        size = len(body)
        if self._entries.get(entry.key) is not entry or form.body is not None:
            return
        if size > self.max_bytes:
            return
        while self.held_bytes + size > self.max_bytes:
            if next(iter(self._entries.values())) is entry:
                return  # only this entry's other forms are left: keep those
            self._evict_oldest()
        form.body = body
        entry.held += size
        self.held_bytes += size

    def discard(self, entry: Entry) -> None:
        """Forget ``entry`` (if it is still the one kept for its path)."""
        if self._entries.get(entry.key) is entry:
            del self._entries[entry.key]
            self.held_bytes -= entry.held

    def _evict_oldest(self) -> None:
        self.discard(next(iter(self._entries.values())))
