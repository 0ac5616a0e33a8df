"""Static files: a folder served under a mount prefix, GET and HEAD, as nginx would serve it.

The handler ties the pieces together; each rule lives in its own module:
``paths`` (which file a path names, and refusing everything outside the
root), ``filecache`` (remembering that, and small files' bytes, checked on
every request), ``mimetypes`` (Content-Type), ``encodings`` (precompressed
siblings and Accept-Encoding), ``conditional`` (ETag, Last-Modified, RFC 9110
§13 preconditions), ``ranges`` (206, multipart, 416), ``listing`` (directory
pages), ``delivery`` (one form of a file: validators, ranges, body) and the
channel's ``sender`` (streaming a file at the client's pace).

A request goes: path checks (400) → lookup (decline if nothing is there, 403
if it is outside the root or unreadable) → method (405) → directory redirect
or index → precompressed variant → preconditions (412/304) → Range → body.
A path that led to a file before skips the checks and the lookup while its
cache entry holds. Small bodies leave in one write; larger ones through a pull
producer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from zope.interface import implementer

from ..channel.interfaces import IRequestHandler
from ..channel.request import Request
from ..channel.response import Response
from ..channel.sender import CHUNK_SIZE
from ..wire.headers import Headers
from .conditional import Outcome, evaluate
from .delivery import NOSNIFF, deliver, error
from .encodings import Negotiation, precompressed_siblings
from .filecache import (
    DEFAULT_BYTES,
    DEFAULT_ENTRIES,
    Entry,
    FileCache,
    Representation,
    identity,
    unchanged,
)
from .listing import listing_page
from .mimetypes import ContentTypes
from .paths import BadPath, Found, Kind, is_hidden, open_regular, resolve, split_path
from .ranges import DEFAULT_MAX_RANGES

Header = tuple[bytes, bytes]

_ALLOW: Header = (b"Allow", b"GET, HEAD")
# The methods of RFC 9110 §9 and PATCH (RFC 5789): known, so 405 with Allow;
# any other is one this server does not recognize: 501 (§9.1).
_KNOWN_METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT",
                            b"OPTIONS", b"TRACE", b"PATCH"})
_VARY: Header = (b"Vary", b"Accept-Encoding")
_HTML = b"text/html; charset=utf-8"
_METHODS = (b"GET", b"HEAD")

# The request fields a file's response depends on, besides Accept-Encoding.
_CONDITIONS = frozenset({b"if-match", b"if-none-match", b"if-modified-since",
                         b"if-unmodified-since", b"if-range", b"range"})

# Characters left as they are in a redirect's path: RFC 3986 pchar and "/".
_PATH_SAFE = "/:@!$&'()*+,;=~"


@implementer(IRequestHandler)
class StaticFiles:
    """Serves the files below ``root``; declines paths it has no file for.

    Options, all per mount (see docs/static.md):

    - ``index``: file names tried, in order, for a directory.
    - ``listing``: an HTML listing for a directory with no index file.
    - ``max_age``: seconds for ``Cache-Control: max-age``; None sends no Cache-Control.
    - ``follow_symlinks``: follow symlinks whose target is outside the root.
    - ``dotfiles``: serve names starting with ``.`` (refused by default).
    - ``precompressed``: send ``name.br``/``name.gz`` to clients accepting them.
    - ``content_types``: ``{".ext": "type/subtype"}`` over the built-in table.
    - ``max_ranges``: most ranges one request may ask for (more: the whole file).
    - ``cache_entries``: most paths whose lookup is remembered; 0 turns the cache off.
    - ``cache_bytes``: most bytes of small files kept in memory; 0 keeps none.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        index: Sequence[str] = ("index.html",),
        *,
        listing: bool = False,
        max_age: int | None = None,
        follow_symlinks: bool = False,
        dotfiles: bool = False,
        precompressed: bool = True,
        content_types: Mapping[str, str] | None = None,
        max_ranges: int = DEFAULT_MAX_RANGES,
        cache_entries: int = DEFAULT_ENTRIES,
        cache_bytes: int = DEFAULT_BYTES,
    ) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise ValueError(f"static root is not a directory: {os.fspath(root)!r}")
        if isinstance(index, str):
            index = (index,)
        for name in index:
            if not name or "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
                raise ValueError(f"an index must be a plain file name, not {name!r}")
        if max_age is not None and max_age < 0:
            raise ValueError(f"max_age must be 0 or more seconds, not {max_age!r}")
        if max_ranges < 1:
            raise ValueError(f"max_ranges must be at least 1, not {max_ranges!r}")
        self.index = tuple(index)
        self.listing = listing
        self.max_age = max_age
        self.follow_symlinks = follow_symlinks
        self.dotfiles = dotfiles
        self.precompressed = precompressed
        self.max_ranges = max_ranges
        self.cache = FileCache(cache_entries, cache_bytes)
        self._types = ContentTypes(content_types)
        self._cache_control: list[Header] = (
            [] if max_age is None else [(b"Cache-Control", b"max-age=%d" % max_age)]
        )
        self._negotiate = Negotiation()

    def handle(self, request: Request, response: Response) -> bool:
        entry = self.cache.get(request.path_info)
        if entry is not None:
            if request.method not in _METHODS:
                return _refuse_method(response, request.method)
            if self._serve(request, response, entry, fresh=False):
                return True
            self.cache.discard(entry)  # changed since it was checked: look again
        found = self._lookup(request, response)
        if isinstance(found, bool):
            return found
        self._serve(request, response, found, fresh=True)
        return True

    # -- lookup: what a path names ------------------------------------------

    def _lookup(self, request: Request, response: Response) -> Entry | bool:
        """The entry of the file to serve; else True once answered here, False to decline."""
        path_info = request.path_info
        try:
            segments = split_path(path_info)
        except BadPath as bad:
            error(response, 400, str(bad))
            return True
        if not self.dotfiles and is_hidden(segments):
            return False  # hidden names are not there at all, as far as clients know
        found = resolve(self.root, segments, self.follow_symlinks)
        if found is None:
            return False
        if found.kind is Kind.FORBIDDEN:
            error(response, 403)
            return True
        if found.kind is Kind.FILE:
            if path_info.endswith(b"/"):
                # "/page.html/" names no file (ENOTDIR, as nginx answers). Serving it
                # would hand "/account.html/x.css"-style URLs to caches that key on
                # the extension (web cache deception) and break relative links.
                return False
            if request.method not in _METHODS:
                return _refuse_method(response, request.method)
            return self._entry(path_info, segments, found)
        index, name = self._find_index(segments)
        if index is None and not self.listing:
            return False  # nothing to show: an app mounted beside may have the path
        if request.method not in _METHODS:
            return _refuse_method(response, request.method)
        if not path_info.endswith(b"/"):
            self._redirect_to_directory(request, response, segments)
        elif index is None:
            self._serve_listing(request, response, found, segments)
        else:
            return self._entry(path_info, segments, index, found, name)
        return True

    def _find_index(self, segments: list[str]) -> tuple[Found | None, str]:
        for name in self.index:
            if name.startswith(".") and not self.dotfiles:
                continue
            found = resolve(self.root, [*segments, name], self.follow_symlinks)
            if found is not None and found.kind is Kind.FILE:
                return found, name
        return None, ""

    def _entry(self, key: bytes, segments: list[str], file: Found,
               folder: Found | None = None, index: str = "") -> Entry:
        """What serving ``file`` depends on, kept in the cache when ``key`` is canonical.

        ``segments`` name ``file``, or ``folder`` when ``file`` is its ``index``.
        Every stat was taken before the lookup that relied on it, so a change
        after the lookup shows as a changed identity.
        """
        assert file.stat is not None
        names = [*segments, index] if index else segments
        candidate = os.path.join(self.root, *names)
        watched = {os.fsencode(candidate): identity(file.stat)}
        if folder is not None and folder.stat is not None:
            watched[os.fsencode(os.path.dirname(candidate))] = identity(folder.stat)
        siblings = (precompressed_siblings(self.root, file, watched, self.follow_symlinks)
                    if self.precompressed else [])
        known = siblings is not None
        siblings = siblings or []
        extra = [*self._cache_control, *([_VARY] if siblings else []), NOSNIFF]
        content_type = self._types.for_name(names[-1])
        variants = {
            coding: Representation.build(info, real, sibling, coding, tag, content_type, extra)
            for coding, real, sibling, tag, info in siblings
        }
        original = Representation.build(file.stat, file.real_path, os.fsencode(candidate),
                                        b"", b"", content_type, extra)
        entry = Entry(key, tuple(watched.items()), original, variants, tuple(variants))
        # Only the one spelling of a path is kept ("/a/b.css", "/dir/"), so
        # aliases such as "//a///b.css" cannot crowd out the rest.
        spelling = "/" + "/".join(segments) + ("/" if index and segments else "")
        if known and key == spelling.encode("utf-8"):
            self.cache.add(entry)
        return entry

    # -- directories --------------------------------------------------------

    def _redirect_to_directory(
        self, request: Request, response: Response, segments: list[str]
    ) -> None:
        # Built from the checked segments, not echoed from the request: empty
        # segments are gone, so the Location can never start with "//" and send
        # the browser to another host.
        path = b"/".join([request.script_name, *(s.encode("utf-8") for s in segments)]) + b"/"
        if not path.startswith(b"/"):
            path = b"/" + path
        location = quote(path, safe=_PATH_SAFE).encode("ascii")
        if request.query:
            location += b"?" + request.query
        error(response, 301, headers=[(b"Location", location)])

    def _serve_listing(
        self, request: Request, response: Response, found: Found, segments: list[str]
    ) -> None:
        shown = "/".join([request.script_name.decode("utf-8", "replace"), *segments]) + "/"
        try:
            page = listing_page(
                shown if shown.startswith("/") else "/" + shown, found.real_path, self.root,
                at_root=not segments, dotfiles=self.dotfiles,
                follow_symlinks=self.follow_symlinks,
            )
        except OSError:
            error(response, 403)
            return
        # Strong: the tag is a digest of the very bytes sent.
        etag = b'"%s"' % hashlib.sha256(page).hexdigest()[:32].encode("ascii")
        headers = [(b"ETag", etag), *self._cache_control, NOSNIFF]
        outcome = evaluate(request.headers, request.method, etag, None)
        if outcome is Outcome.FAILED:
            error(response, 412)
        elif outcome is Outcome.NOT_MODIFIED:
            response.start(304, headers)
            response.finish()
        else:
            response.send(200, page, [(b"Content-Type", _HTML), *headers])

    # -- files --------------------------------------------------------------

    def _serve(self, request: Request, response: Response, entry: Entry, fresh: bool) -> bool:
        """Answer from ``entry``; False, with nothing sent, when a cached one has changed.

        A ``fresh`` entry was made by this request's lookup: whatever is found
        is served, as it would be without a cache.
        """
        # One pass over the fields, keeping those a file's response depends on.
        conditions: list[Header] = []
        accepted: list[bytes] = []
        for name, value in request.headers:
            if name in _CONDITIONS:
                conditions.append((name, value))
            elif name == b"accept-encoding":
                accepted.append(value)
        form = entry.original
        if accepted and entry.codings:
            coding = self._negotiate(b", ".join(accepted), entry.codings)
            if coding:
                form = entry.variants[coding]
                if not fresh and not unchanged(form.watch, form.identity):
                    return False
        body = form.body
        if body is not None and not conditions:
            # The hot path: everything but the Date was made with the entry.
            response.start(200, form.full)
            response.write(body if request.method == b"GET" else b"")
            response.finish()
            return True
        if body is not None:
            deliver(request, response, form, Headers(conditions), body, self.max_ranges)
            return True
        try:
            fd, info = open_regular(form.path)
        except OSError as failure:
            if not fresh:
                return False
            # 404: gone since the lookup.
            error(response, 403 if isinstance(failure, PermissionError) else 404)
            return True
        handed_on = False
        try:
            same = identity(info) == form.identity
            if not same:
                if not fresh:
                    return False
                # Replaced between the lookup and the open: serve what was
                # opened, as without a cache, and keep none of it.
                self.cache.discard(entry)
                form = form.restated(info)
            source: bytes | int = fd
            if info.st_size <= CHUNK_SIZE:
                source = os.pread(fd, info.st_size, 0)
                # Kept only if not torn: the file did not change while it was read.
                if same and len(source) == info.st_size and identity(os.fstat(fd)) == form.identity:
                    self.cache.keep_body(entry, form, source)
            handed_on = deliver(request, response, form, Headers(conditions), source,
                                self.max_ranges)
        finally:
            if not handed_on:
                os.close(fd)
        return True


def _refuse_method(response: Response, method: bytes) -> bool:
    """405 for another method of RFC 9110 §9 on a file or folder, 501 for one the server
    does not recognize at all (§9.1); True: answered."""
    if method in _KNOWN_METHODS:
        error(response, 405, headers=[_ALLOW])
    else:
        error(response, 501)
    return True
