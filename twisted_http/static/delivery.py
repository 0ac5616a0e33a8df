"""One form of a file to the client: preconditions, ranges, and the body.

Given a ``Representation`` (validators and header lists made in advance) and
its bytes (all of them in memory, or an open file), ``deliver`` answers a GET
or HEAD: 412 or 304 from the preconditions (RFC 9110 §13.2.2), 416 or 206 from
the Range (one part, or ``multipart/byteranges``), else 200. A body up to
``CHUNK_SIZE`` leaves with the head in one write; a larger one goes to a
``FileSender`` that reads it at the client's pace.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..channel.request import Request
from ..channel.response import Response
from ..channel.sender import CHUNK_SIZE, FileSender, Piece
from ..wire.headers import Headers
from .conditional import Outcome, evaluate, if_range_holds
from .filecache import Representation
from .ranges import Multipart, select, unsatisfied_range

Header = tuple[bytes, bytes]

NOSNIFF: Header = (b"X-Content-Type-Options", b"nosniff")


def deliver(request: Request, response: Response, form: Representation, conditions: Headers,
            source: bytes | int, max_ranges: int) -> bool:
    """Answer with ``form`` from ``source``, its whole bytes or an open fd.

    ``conditions`` holds the request's If-* and Range fields (and may hold
    others). True when the fd was handed to a FileSender, which closes it.
    """
    etag, modified = form.etag, form.modified
    outcome = evaluate(conditions, request.method, etag, modified)
    if outcome is not Outcome.PROCEED:
        if outcome is Outcome.FAILED:
            error(response, 412)
        else:
            # RFC 9110 §15.4.5: the validators and Vary/Cache-Control a 200
            # would carry, and no content fields.
            response.start(304, form.common)
            response.finish()
        return False

    size = form.size
    range_field = conditions.get_joined(b"range") if request.method == b"GET" else None
    if range_field is not None and not if_range_holds(conditions, etag, modified):
        range_field = None  # the client's copy is stale: send it the whole thing
    selection = select(range_field, size, max_ranges)
    if selection.unsatisfiable:
        error(response, 416, headers=[(b"Content-Range", unsatisfied_range(size))])
        return False

    pieces: list[Piece]
    headers: Iterable[Header]
    if not selection.ranges:
        status, length, pieces, headers = 200, size, [(0, size)], form.full
    elif len(selection.ranges) == 1:
        only = selection.ranges[0]
        status, length, pieces = 206, only.length, [(only.first, only.length)]
        headers = [(b"Content-Type", form.content_type),
                   (b"Content-Range", only.content_range(size)), *form.tail,
                   (b"Content-Length", b"%d" % length)]
    else:
        multipart = Multipart(selection.ranges, form.content_type, size)
        status, length = 206, multipart.content_length
        pieces = []
        for head, part in multipart.parts:
            pieces += [head, (part.first, part.length)]
        pieces.append(multipart.epilogue)
        headers = [(b"Content-Type", multipart.content_type), *form.tail,
                   (b"Content-Length", b"%d" % length)]

    response.start(status, headers)
    if isinstance(source, bytes) or request.method == b"HEAD" or length <= CHUNK_SIZE:
        # Small (or no) body: head and body leave in one write.
        response.write(b"" if request.method == b"HEAD" else _gather(pieces, source))
        response.finish()
        return False
    FileSender(source, pieces, response).start()
    return True


def _gather(pieces: Iterable[Piece], source: bytes | int) -> bytes:
    """The bytes of ``pieces``, from a file's whole bytes or read from fd ``source``."""
    parts = []
    for piece in pieces:
        if isinstance(piece, bytes):
            parts.append(piece)
        elif isinstance(source, bytes):
            offset, length = piece
            parts.append(source[offset:offset + length])
        else:
            offset, length = piece
            parts.append(os.pread(source, length, offset))
    return b"".join(parts)


def error(response: Response, status: int, detail: str | None = None,
          headers: Iterable[Header] = ()) -> None:
    """A small, fixed page; every static response carries nosniff."""
    response.send_error(status, detail, [*headers, NOSNIFF])
