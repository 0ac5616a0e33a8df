"""A greeting handler: ``GET /hello`` -> ``Hello, world!``; ``/hello/Ann`` -> ``Hello, Ann!``.

Options (``--handler /hello=greeting(name=friend, style=shout)``):
``name`` greets when the path names nobody, ``style`` is ``plain`` or ``shout``.
"""

from __future__ import annotations

from twisted_http import IRequestHandler, Request, Response
from zope.interface import implementer

STYLES = ("plain", "shout")


@implementer(IRequestHandler)
class Greeting:
    def __init__(self, name: str = "world", style: str = "plain") -> None:
        # A bad option is a ValueError: minihttp reports it in one line and exits 2.
        if style not in STYLES:
            raise ValueError(f"style must be plain or shout, not {style!r}")
        self.name = name
        self.style = style

    def handle(self, request: Request, response: Response) -> bool:
        if request.method not in (b"GET", b"HEAD"):
            response.send_error(405, headers=[(b"Allow", b"GET, HEAD")])
            return True
        name = request.path_info.strip(b"/").decode("utf-8", "replace") or self.name
        text = f"Hello, {name}!"
        if self.style == "shout":
            text = text.upper()
        response.send(200, text.encode() + b"\n",
                      [(b"Content-Type", b"text/plain; charset=utf-8")])
        return True
