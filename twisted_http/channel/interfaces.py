"""The interfaces handlers implement: static files, WSGI apps and users' own handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Interface

if TYPE_CHECKING:
    from .request import Request
    from .response import Response


class IRequestHandler(Interface):
    """Something mounted at a path prefix that answers requests."""

    def handle(request: Request, response: Response) -> bool:
        """Answer ``request`` through ``response``, now or later.

        Return True when this handler took the request. Return False, without
        having touched ``response``, to let the next handler mounted on the same
        prefix try (a static folder declines a path it has no file for, so an
        app mounted beside it gets the request).

        An exception raised here is logged; the client gets a 500 if the
        response had not started, and the connection is closed if it had.
        """


class IBodyReceiver(Interface):
    """Takes a request body as it arrives; see ``RequestBody.deliver_to``."""

    def body_received(data: bytes) -> None:
        """Some bytes of the body, never empty. May come shortly after a pause."""

    def body_finished() -> None:
        """The whole body has arrived."""

    def body_failed(reason: BaseException) -> None:
        """The body will never be complete: bad framing, a timeout, or a lost connection."""
