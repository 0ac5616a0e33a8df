"""HealthCheck: ``--health PATH``, which says whether this process takes new requests.

It answers ``200 serving`` until the process starts to drain and ``503
draining`` from then on, so a balancer or an orchestrator stops sending new
work before the process goes away. It is mounted at its own path, so the
longest-prefix rule tries it before any app or folder mounted above it; a path
below it (``/healthz/x``) gets a 404 rather than reaching an app. Its responses
are never access-logged: a balancer probing every second would drown the log.
"""

from __future__ import annotations

from zope.interface import implementer

from ..channel.interfaces import IRequestHandler
from ..channel.request import Request
from ..channel.response import Response

_HEADERS = [(b"Content-Type", b"text/plain; charset=utf-8"), (b"Cache-Control", b"no-store")]


@implementer(IRequestHandler)
class HealthCheck:
    """200 while serving, 503 once ``draining`` is set; GET and HEAD only."""

    def __init__(self, path: bytes) -> None:
        self.path = path
        self.draining = False

    def handle(self, request: Request, response: Response) -> bool:
        response.logged = False
        if request.path_info not in (b"", b"/"):
            response.send_error(404)
        elif request.method not in (b"GET", b"HEAD"):
            response.send_error(405, headers=[(b"Allow", b"GET, HEAD")])
        elif self.draining:
            response.send(503, b"draining\n", _HEADERS)
        else:
            response.send(200, b"serving\n", _HEADERS)
        return True
