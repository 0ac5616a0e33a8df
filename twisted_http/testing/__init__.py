"""Helpers for testing handlers and apps with fake transports, no sockets.

``FakeConnection`` drives one server connection over ``StringTransport`` with a
``Clock``; ``parse_responses`` reads back what the server wrote; ``MemoryAgent``
lets a real HTTP client (twisted.web's Agent, so treq) talk to a factory in
memory, through ``twisted.test.iosim``; ``WebSocketClient`` opens a WebSocket
on a ``FakeConnection`` and speaks frames to the protocol the server switched
to; ``InlineReactor``, ``InlineThreadPool`` and ``QueuedThreadPool`` run a WSGI
handler's threads on the test's own. All of it works under pytest and trial.

This module is the face of the kit: import from here, not from its modules.
"""

from ..wire.serializer import request_bytes
from .agent import MemoryAgent
from .connection import CLIENT_ADDRESS, SERVER_ADDRESS, BufferedTransport, FakeConnection
from .fakes import InlineReactor, InlineThreadPool, QueuedThreadPool
from .responses import RecordedResponse, parse_responses
from .websocket import WebSocketClient

__all__ = [
    "CLIENT_ADDRESS",
    "SERVER_ADDRESS",
    "BufferedTransport",
    "FakeConnection",
    "InlineReactor",
    "InlineThreadPool",
    "MemoryAgent",
    "QueuedThreadPool",
    "RecordedResponse",
    "WebSocketClient",
    "parse_responses",
    "request_bytes",
]
