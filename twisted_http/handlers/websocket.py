"""WebSocket endpoints: the class a user writes, and the handler that upgrades to it.

    from twisted_http.handlers.websocket import WebSocketHandler

    class ChatHandler(WebSocketHandler):
        def on_message(self, message):
            self.send(message)

    --handler /chat=myapp:ChatHandler

``WebSocketResource`` checks the opening handshake (RFC 6455 §4.2.1), the
``Origin`` allow-list, then answers ``101 Switching Protocols`` through
``response.switch_protocols`` and hands the connection to a ``WebSocketProtocol``
driving a new instance of the user's class. Limits are keyword options
(``WebSocketLimits``), from the mount's options or the class's attributes of
the same names. No extension is negotiated: per-message compression would let
a small frame expand into a large message (a decompression bomb) and costs CPU.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

import attrs
from twisted.internet.interfaces import IReactorTime
from wsproto.utilities import generate_accept_token
from zope.interface import implementer

from ..channel.interfaces import IRequestHandler
from ..channel.request import Request
from ..channel.response import Response
from ..wire.headers import parse_list
from . import global_reactor
from .wsprotocol import NORMAL, WebSocketLimits, WebSocketProtocol

_LIMITS = frozenset(field.name for field in attrs.fields(WebSocketLimits))


class WebSocketHandler:
    """One WebSocket connection, as the user sees it. Subclass it; one instance per connection.

    Override ``on_open``, ``on_message``, ``on_close`` (and, to pace a stream,
    ``on_pause_writing`` / ``on_resume_writing``); call ``send`` and ``close``.
    ``request`` is the upgrade request (headers, path, client address).
    Callbacks run on the reactor thread and must not block; an exception in
    one is logged and closes the connection with 1011.
    """

    request: Request

    def __init__(self) -> None:
        self._protocol: WebSocketProtocol | None = None

    # -- to override --------------------------------------------------------

    def on_open(self) -> None:
        """The connection is open: ``send`` works from now on."""

    def on_message(self, message: str | bytes) -> None:
        """A whole message: ``str`` for a text message, ``bytes`` for a binary one."""

    def on_close(self, code: int, reason: str) -> None:
        """The connection is gone. ``code`` is 1006 when it ended without a close handshake."""

    def on_pause_writing(self) -> None:
        """The client is not reading what is sent: stop sending until ``on_resume_writing``."""

    def on_resume_writing(self) -> None:
        """The client has caught up."""

    # -- to call ------------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message; ignored once closing."""
        if self._protocol is not None:
            self._protocol.send(message)

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Start the close handshake with ``code`` (1000: normal) and a short ``reason``."""
        if self._protocol is not None:
            self._protocol.close(code, reason)

    @property
    def writing_paused(self) -> bool:
        """True while the client is behind (between the two pause callbacks)."""
        return self._protocol is not None and self._protocol.writing_paused

    # -- the protocol's side ------------------------------------------------

    def _attach(self, protocol: WebSocketProtocol) -> None:
        self._protocol = protocol

    def _detach(self) -> None:
        self._protocol = None


@implementer(IRequestHandler)
class WebSocketResource:
    """Mounts a ``WebSocketHandler`` class: each upgrade request gets a new instance.

    ``origins`` lists the allowed ``Origin`` values (``https://example.com``);
    empty allows any. A request with no ``Origin`` is not from a browser page,
    and is allowed: the list stops other sites' pages from using a visitor's
    cookies here (cross-site WebSocket hijacking), which only browsers can do.
    """

    def __init__(
        self,
        handler_class: type[WebSocketHandler],
        origins: Iterable[str] = (),
        clock: IReactorTime | None = None,
        **limits: Any,
    ) -> None:
        unknown = sorted(set(limits) - _LIMITS)
        if unknown:
            raise ValueError(
                f"unknown option {unknown[0]!r}; allowed: origins, {', '.join(sorted(_LIMITS))}"
            )
        if isinstance(origins, str):
            origins = [origins]
        class_defaults = {
            name: getattr(handler_class, name) for name in _LIMITS if hasattr(handler_class, name)
        }
        self.limits = WebSocketLimits(**{**class_defaults, **limits})
        self.origins = frozenset(origin.rstrip("/").lower() for origin in origins)
        self.handler_class = handler_class
        self._clock = clock  # None: global_reactor()

    @property
    def clock(self) -> IReactorTime:
        return self._clock if self._clock is not None else global_reactor()

    def handle(self, request: Request, response: Response) -> bool:
        refusal = self._refusal(request)
        if refusal is not None:
            status, detail, headers = refusal
            response.send_error(status, detail, headers)
            return True
        key = request.headers.get(b"sec-websocket-key")
        assert key is not None
        handler = self.handler_class()
        handler.request = request
        protocol = WebSocketProtocol(handler, self.limits, self.clock)
        response.switch_protocols(protocol, b"websocket", [
            (b"Sec-WebSocket-Accept", generate_accept_token(key.strip())),
        ])
        return True

    def _refusal(self, request: Request) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        """Why this is not an acceptable opening handshake, or None (RFC 6455 §4.2.1)."""
        headers = request.headers
        if request.method != b"GET":
            return 405, "A WebSocket handshake is a GET request.", [(b"Allow", b"GET")]
        upgrade = [token.lower() for token in parse_list(headers.get_all(b"upgrade"))]
        connection = [token.lower() for token in parse_list(headers.get_all(b"connection"))]
        if b"websocket" not in upgrade or b"upgrade" not in connection \
                or request.version != b"HTTP/1.1":
            return 400, "This is a WebSocket endpoint: connect with a WebSocket client.", []
        if headers.get(b"sec-websocket-version") != b"13":
            return 400, "Only WebSocket version 13 is supported.", [
                (b"Sec-WebSocket-Version", b"13")]
        key = headers.get(b"sec-websocket-key") or b""
        try:
            if len(base64.b64decode(key.strip(), validate=True)) != 16:
                raise ValueError
        except (binascii.Error, ValueError):
            return 400, "Sec-WebSocket-Key is not 16 bytes in base64.", []
        origin = headers.get(b"origin")
        if self.origins and origin is not None \
                and origin.decode("latin-1").rstrip("/").lower() not in self.origins:
            return 403, "This origin may not open a WebSocket here.", []
        return None
