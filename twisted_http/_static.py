"""Static files: a folder served under a mount prefix, GET and HEAD, as nginx would serve it.

The handler ties the pieces together; each rule lives in its own module:
``_paths`` (which file a path names, and refusing everything outside the
root), ``_mimetypes`` (Content-Type), ``_conditional`` (ETag, Last-Modified,
RFC 9110 §13 preconditions), ``_ranges`` (206, multipart, 416), ``_listing``
(directory pages) and ``_sender`` (streaming a file at the client's pace).

A request goes: path checks (400) → lookup (decline if nothing is there, 403
if it is outside the root or unreadable) → method (405) → directory redirect
or index → precompressed variant → preconditions (412/304) → Range → body.
Small bodies leave in one write; larger ones through a pull producer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from zope.interface import implementer

from ._conditional import Outcome, evaluate, http_date, if_range_holds, make_etag
from ._headers import parse_list
from ._interfaces import IRequestHandler
from ._listing import listing_page
from ._mimetypes import ContentTypes
from ._paths import BadPath, Found, Kind, is_hidden, is_within, open_regular, resolve, split_path
from ._ranges import DEFAULT_MAX_RANGES, Multipart, select, unsatisfied_range
from ._request import Request
from ._response import Response
from ._sender import CHUNK_SIZE, FileSender, Piece

Header = tuple[bytes, bytes]

_NOSNIFF: Header = (b"X-Content-Type-Options", b"nosniff")
_ALLOW: Header = (b"Allow", b"GET, HEAD")
_VARY: Header = (b"Vary", b"Accept-Encoding")
_HTML = b"text/html; charset=utf-8"

# Precompressed siblings, best first: (Content-Encoding token, file suffix, ETag suffix).
_ENCODINGS = ((b"br", ".br", b"br"), (b"gzip", ".gz", b"gz"))

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
        self._types = ContentTypes(content_types)
        self._cache: list[Header] = (
            [] if max_age is None else [(b"Cache-Control", b"max-age=%d" % max_age)]
        )

    def handle(self, request: Request, response: Response) -> bool:
        try:
            segments = split_path(request.path_info)
        except BadPath as error:
            _error(response, 400, str(error))
            return True
        if not self.dotfiles and is_hidden(segments):
            return False  # hidden names are not there at all, as far as clients know
        found = resolve(self.root, segments, self.follow_symlinks)
        if found is None:
            return False
        if found.kind is Kind.FORBIDDEN:
            _error(response, 403)
            return True
        if found.kind is Kind.FILE and request.path_info.endswith(b"/"):
            # "/page.html/" names no file (ENOTDIR, as nginx answers). Serving it
            # would hand "/account.html/x.css"-style URLs to caches that key on
            # the extension (web cache deception) and break relative links.
            return False
        index: Found | None = None
        type_name = segments[-1] if segments else ""
        if found.kind is Kind.DIRECTORY:
            index, type_name = self._find_index(segments)
            if index is None and not self.listing:
                return False  # nothing to show: an app mounted beside may have the path
        if request.method not in (b"GET", b"HEAD"):
            _error(response, 405, headers=[_ALLOW])
            return True
        if found.kind is Kind.DIRECTORY:
            if not request.path_info.endswith(b"/"):
                self._redirect_to_directory(request, response, segments)
            elif index is not None:
                self._serve_file(request, response, index, type_name)
            else:
                self._serve_listing(request, response, found, segments)
        else:
            self._serve_file(request, response, found, type_name)
        return True

    # -- directories --------------------------------------------------------

    def _find_index(self, segments: list[str]) -> tuple[Found | None, str]:
        for name in self.index:
            if name.startswith(".") and not self.dotfiles:
                continue
            found = resolve(self.root, [*segments, name], self.follow_symlinks)
            if found is not None and found.kind is Kind.FILE:
                return found, name
        return None, ""

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
        _error(response, 301, headers=[(b"Location", location)])

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
            _error(response, 403)
            return
        # Strong: the tag is a digest of the very bytes sent.
        etag = b'"%s"' % hashlib.sha256(page).hexdigest()[:32].encode("ascii")
        headers = [(b"ETag", etag), *self._cache, _NOSNIFF]
        outcome = evaluate(request.headers, request.method, etag, None)
        if outcome is Outcome.FAILED:
            _error(response, 412)
        elif outcome is Outcome.NOT_MODIFIED:
            response.start(304, headers)
            response.finish()
        else:
            response.send(200, page, [(b"Content-Type", _HTML), *headers])

    # -- files --------------------------------------------------------------

    def _variants(self, found: Found) -> list[tuple[bytes, str, bytes]]:
        """The precompressed siblings of ``found`` that exist and may be served."""
        if not self.precompressed:
            return []
        out = []
        for coding, suffix, tag in _ENCODINGS:
            try:
                real = os.path.realpath(found.real_path + suffix, strict=True)
            except OSError:
                continue
            if (self.follow_symlinks or is_within(self.root, real)) and os.path.isfile(real):
                out.append((coding, real, tag))
        return out

    def _serve_file(
        self, request: Request, response: Response, found: Found, type_name: str
    ) -> None:
        variants = self._variants(found)
        chosen = _negotiate(request.headers.get_joined(b"accept-encoding"),
                            [coding for coding, _, _ in variants])
        path, coding, tag = found.real_path, b"", b""
        for candidate, real, suffix in variants:
            if candidate == chosen:
                path, coding, tag = real, candidate, suffix
        try:
            fd, info = open_regular(path)
        except PermissionError:
            _error(response, 403)
            return
        except OSError:
            _error(response, 404)  # gone since the lookup
            return
        handed_on = False
        try:
            handed_on = self._send_file(
                request, response, fd, info, type_name, coding, tag, bool(variants)
            )
        finally:
            if not handed_on:
                os.close(fd)

    def _send_file(
        self, request: Request, response: Response, fd: int, info: os.stat_result,
        type_name: str, coding: bytes, tag: bytes, varies: bool,
    ) -> bool:
        """Answer from open file ``fd``; True when ``fd`` was handed to a FileSender."""
        etag = make_etag(info.st_mtime_ns, info.st_size, tag)
        modified = int(info.st_mtime)
        common: list[Header] = [
            (b"ETag", etag), (b"Last-Modified", http_date(modified)), *self._cache,
        ]
        if varies:
            common.append(_VARY)
        common.append(_NOSNIFF)
        outcome = evaluate(request.headers, request.method, etag, modified)
        if outcome is not Outcome.PROCEED:
            if outcome is Outcome.FAILED:
                _error(response, 412)
            else:
                # RFC 9110 §15.4.5: the validators and Vary/Cache-Control a 200
                # would carry, and no content fields.
                response.start(304, common)
                response.finish()
            return False

        size = info.st_size
        content_type = self._types.for_name(type_name)
        range_field = request.headers.get_joined(b"range") if request.method == b"GET" else None
        if range_field is not None and not if_range_holds(request.headers, etag, modified):
            range_field = None  # the client's copy is stale: send it the whole thing
        selection = select(range_field, size, self.max_ranges)
        if selection.unsatisfiable:
            _error(response, 416, headers=[(b"Content-Range", unsatisfied_range(size))])
            return False

        headers: list[Header] = [(b"Accept-Ranges", b"bytes"), *common]
        if coding:
            headers.append((b"Content-Encoding", coding))
        pieces: list[Piece]
        if not selection.ranges:
            status, length, pieces = 200, size, [(0, size)]
            headers.insert(0, (b"Content-Type", content_type))
        elif len(selection.ranges) == 1:
            only = selection.ranges[0]
            status, length, pieces = 206, only.length, [(only.first, only.length)]
            headers[:0] = [(b"Content-Type", content_type),
                           (b"Content-Range", only.content_range(size))]
        else:
            multipart = Multipart(selection.ranges, content_type, size)
            status, length = 206, multipart.content_length
            pieces = []
            for head, part in multipart.parts:
                pieces += [head, (part.first, part.length)]
            pieces.append(multipart.epilogue)
            headers.insert(0, (b"Content-Type", multipart.content_type))
        headers.append((b"Content-Length", b"%d" % length))

        if request.method == b"HEAD" or length <= CHUNK_SIZE:
            # Small (or no) body: read it now and send head and body in one write.
            body = b"" if request.method == b"HEAD" else _read_now(fd, pieces)
            response.start(status, headers)
            response.write(body)
            response.finish()
            return False
        response.start(status, headers)
        FileSender(fd, pieces, response).start()
        return True


def _read_now(fd: int, pieces: Iterable[Piece]) -> bytes:
    parts = []
    for piece in pieces:
        if isinstance(piece, bytes):
            parts.append(piece)
        else:
            offset, length = piece
            parts.append(os.pread(fd, length, offset))
    return b"".join(parts)


def _negotiate(accept_encoding: bytes | None, available: list[bytes]) -> bytes:
    """The best of ``available`` codings for an Accept-Encoding value; b"" for identity.

    RFC 9110 §12.5.3: q-values rank codings, ``q=0`` refuses one, ``*`` stands
    for codings not named, identity is acceptable unless refused. On a tie the
    smaller encoding (listed first) wins over the next, and any over identity.
    Identity outranks an encoding only when the client gave it a higher q.
    No Accept-Encoding at all gets identity, as nginx does.
    """
    if not available or accept_encoding is None:
        return b""
    qualities: dict[bytes, float] = {}
    for member in parse_list([accept_encoding]):
        name, *params = (part.strip(b" \t") for part in member.split(b";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition(b"=")
            if key.strip(b" \t") == b"q":
                try:
                    quality = float(value.strip(b" \t"))
                except ValueError:
                    quality = -1.0
                if not 0.0 <= quality <= 1.0:
                    quality = -1.0  # malformed: the member is ignored
        if quality >= 0:
            qualities[b"gzip" if name == b"x-gzip" else name] = quality
    star = qualities.get(b"*")
    # Identity competes only when the client ranked it: an encoding the client
    # accepts is otherwise preferred, as by nginx.
    best, best_quality = b"", qualities.get(b"identity", 0.0)
    for coding in reversed(available):  # reversed, so the first listed wins ties
        quality = qualities.get(coding, star if star is not None else 0.0)
        if quality > 0 and quality >= best_quality:
            best, best_quality = coding, quality
    return best


def _error(response: Response, status: int, detail: str | None = None,
           headers: Iterable[Header] = ()) -> None:
    """A small, fixed page; every static response carries nosniff."""
    response.send_error(status, detail, [*headers, _NOSNIFF])
