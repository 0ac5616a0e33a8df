"""``redirect``: send every request under a prefix somewhere else.

    --handler /old=redirect(to=/new, status=308)

By default the rest of the path below the prefix and the query go along
(``/old/a?x`` -> ``/new/a?x``), as for a moved folder; ``keep_path=false``
sends everything to ``to`` exactly. Only the redirect statuses are allowed
(301, 302, 303, 307, 308; 307 and 308 keep the method and body). The target is
escaped in the small HTML body, and the path that goes along can never turn
``to`` into a link to another host.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from zope.interface import implementer

from ..channel.interfaces import IRequestHandler
from ..channel.request import Request
from ..channel.response import Response

STATUSES = frozenset({301, 302, 303, 307, 308})
# RFC 3986 characters a path may keep as they are; everything else is percent-encoded
# (a backslash too, which browsers read as '/').
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


@implementer(IRequestHandler)
class Redirect:
    """Answers every request with a redirect to ``to``."""

    def __init__(self, to: str, status: int = 302, keep_path: bool = True) -> None:
        if not isinstance(status, int) or isinstance(status, bool) or status not in STATUSES:
            raise ValueError(f"status must be one of 301, 302, 303, 307, 308, not {status!r}")
        if not isinstance(to, str) or not to or not to.isascii() or not to.isprintable() \
                or " " in to:
            raise ValueError(f"to must be a URL or path of printable ASCII, not {to!r}")
        if not isinstance(keep_path, bool):
            raise ValueError(f"keep_path must be true or false, not {keep_path!r}")
        self.to = to
        self.status = status
        self.keep_path = keep_path

    def location(self, request: Request) -> str:
        if not self.keep_path:
            return self.to
        base, hash_mark, fragment = self.to.partition("#")  # it stays last, whatever goes along
        query = ""
        if "?" in base:
            base, _, query = base.partition("?")
        rest = request.path_info.decode("latin-1")
        if rest:
            # Never "//host": one slash between base and rest, whatever either holds.
            rest = "/" + quote(rest.lstrip("/"), safe=_PATH_SAFE, encoding="latin-1")
            base = base.rstrip("/") + rest
        extra = request.query.decode("latin-1")
        if extra:
            query = f"{query}&{extra}" if query else extra
        return (f"{base}?{query}" if query else base) + hash_mark + fragment

    def handle(self, request: Request, response: Response) -> bool:
        location = self.location(request)
        link = escape(location, quote=True)
        body = (
            "<!DOCTYPE html>\n<html><head><title>Moved</title></head>"
            f'<body><p>Moved to <a href="{link}">{link}</a>.</p></body></html>\n'
        ).encode("ascii")
        response.send(self.status, body, [
            (b"Location", location.encode("ascii")),
            (b"Content-Type", b"text/html; charset=utf-8"),
        ])
        return True
