"""The channel's interfaces: what handlers implement, what a connection needs of its
server (``IServer``), what a server may ask of a connection (``IConnection``), and
what an observer of responses is told (``IResponseObserver``).

A channel knows its server only through ``IServer``: never the factory class,
whose fields it neither reads nor changes. That keeps the server side free to
grow (draining, metrics, access logs) without the channel's import of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

from .body import IBodyReceiver

if TYPE_CHECKING:
    from .request import Request
    from .response import Response

__all__ = ["IBodyReceiver", "IConnection", "IRequestHandler", "IResponseObserver", "IServer"]


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


class IResponseObserver(Interface):
    """Told of every response a connection sends: for access logs and metrics."""

    def response_completed(request: Request | None, response: Response, started: float) -> None:
        """``response`` has ended: whole (``response.finished``) or cut off.

        ``request`` is None for an error page sent before a request head could
        be read (a 400, 408, 414 or 431) and for a connection turned away with a
        503; ``response.connection`` then says whose it was. ``started`` is the server clock's time
        when the request head was complete (or when the error was found);
        ``response.status`` and ``response.bytes_sent`` say what was sent.
        Called on the reactor thread, once per response; should not raise (an
        exception is logged, and the other observers and the connection go on).
        """


class IConnection(Interface):
    """What a server may ask of one of its open connections."""

    def drain() -> None:
        """Close once the response in flight is out, and at once if there is none.

        The response in flight, if it has not started, says ``Connection:
        close``; no further request on this connection is read.
        """

    def abort() -> None:
        """Drop the connection now, whatever it is doing."""

    in_flight = Attribute("True while a request has been read and its response has not"
                          " ended (for metrics).")


class IServer(Interface):
    """What a connection needs of the server it belongs to; ``HTTPFactory`` provides it."""

    config = Attribute("The ServerConfig: every limit and timeout of the connection.")
    router = Attribute("The Router that picks the handlers for a request path.")
    clock = Attribute("The IReactorTime every timer of the connection runs on.")
    forwarded = Attribute(
        "None, or a callable (ConnectionInfo, Headers, host) -> (ConnectionInfo, host)"
        " giving each request's connection and host as trusted proxies in front say the"
        " client's were (twisted_http.edge.proxies.Forwarding).")

    def head_defaults(date: bool, server: bool) -> bytes:
        """The ``Date`` and ``Server`` header lines for a response head now, those asked for."""

    def connection_opened(connection: IConnection) -> None:
        """A connection has been made; it counts against ``max_connections``."""

    def connection_closed(connection: IConnection) -> None:
        """A connection opened earlier has gone."""

    def response_completed(request: Request | None, response: Response, started: float) -> None:
        """Pass an ended response to the server's observers (``IResponseObserver``)."""
