"""``websocket-echo``: a WebSocket endpoint that sends every message back as it came.

Useful to check that a proxy in front passes upgrades through. Backpressure
comes for free: while the client is not reading its echoes, the connection
stops reading the client.
"""

from __future__ import annotations

from typing import Any

from .websocket import WebSocketHandler, WebSocketResource


class EchoHandler(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.send(message)


def EchoResource(**options: Any) -> WebSocketResource:  # noqa: N802 - reads as a class
    """The ``websocket-echo`` mount: options are ``WebSocketResource``'s."""
    return WebSocketResource(EchoHandler, **options)
