"""``time``: the lesson's time server. The current date and time as text, or as JSON
when the client asks for it (``Accept: application/json``).

    --handler /time=time

``GET /time`` -> ``2026-12-07T06:30:00Z`` (UTC, RFC 3339) and a newline;
with ``Accept: application/json`` -> ``{"utc": "...", "unix": 1796...}``.
The clock is injectable, so tests can pin the time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from ..channel.interfaces import IRequestHandler
from ..channel.request import Request
from ..channel.response import Response
from ..wire.fields import HeaderBlock
from . import global_reactor
from .negotiation import preferred

_TEXT, _JSON = b"text/plain", b"application/json"
# Vary: the answer depends on Accept; no-store: the time is stale at once.
_HEADERS = {
    _TEXT: HeaderBlock([(b"Content-Type", b"text/plain; charset=utf-8"),
                        (b"Vary", b"Accept"), (b"Cache-Control", b"no-store")]),
    _JSON: HeaderBlock([(b"Content-Type", b"application/json"),
                        (b"Vary", b"Accept"), (b"Cache-Control", b"no-store")]),
}


@implementer(IRequestHandler)
class TimeHandler:
    """Answers GET and HEAD at its mount point with the current time."""

    def __init__(self, clock: IReactorTime | None = None) -> None:
        if clock is not None and not callable(getattr(clock, "seconds", None)):
            raise ValueError("takes no options")  # clock is for tests, not the command line
        self._clock = clock  # None: global_reactor()

    @property
    def clock(self) -> IReactorTime:
        return self._clock if self._clock is not None else global_reactor()

    def handle(self, request: Request, response: Response) -> bool:
        if request.path_info not in (b"", b"/"):
            return False  # nothing below the mount point: let others have it, else 404
        if request.method not in (b"GET", b"HEAD"):
            response.send_error(405, headers=[(b"Allow", b"GET, HEAD")])
            return True
        media_type = preferred(request.headers.get(b"accept"), (_TEXT, _JSON))
        if media_type is None:
            response.send_error(406, "This resource is text/plain or application/json.")
            return True
        seconds = self.clock.seconds()
        stamp = datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if media_type == _JSON:
            body = json.dumps({"utc": stamp, "unix": seconds}).encode() + b"\n"
        else:
            body = stamp.encode() + b"\n"
        response.send(200, body, _HEADERS[media_type])
        return True
