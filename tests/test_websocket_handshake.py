"""The WebSocket opening handshake through the real channel: what is refused and how,
the Origin allow-list, and options from the mount or the handler class."""

from __future__ import annotations

import base64

import pytest
from twisted.internet.task import Clock

from twisted_http import Router
from twisted_http.handlers.echo import EchoHandler, EchoResource
from twisted_http.handlers.websocket import WebSocketHandler, WebSocketResource
from twisted_http.testing import FakeConnection

KEY = base64.b64encode(b"0123456789abcdef")
GOOD = [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Version", b"13"), (b"Sec-WebSocket-Key", KEY)]


def handshake(headers: list[tuple[bytes, bytes]], method: bytes = b"GET",
              resource: WebSocketResource | None = None) -> tuple[int, bytes, FakeConnection]:
    conn = FakeConnection(Router([("/ws", resource or WebSocketResource(EchoHandler))]))
    conn.request(method, b"/ws", headers)
    response = conn.responses()[0]
    return response.status, response.body, conn


def replace(name: bytes, value: bytes | None) -> list[tuple[bytes, bytes]]:
    kept = [(n, v) for n, v in GOOD if n != name]
    return kept if value is None else [*kept, (name, value)]


@pytest.mark.parametrize(("headers", "status", "detail"), [
    ([], 400, b"connect with a WebSocket client"),
    (replace(b"Upgrade", b"h2c"), 400, b"connect with a WebSocket client"),
    (replace(b"Connection", b"keep-alive"), 400, b"connect with a WebSocket client"),
    (replace(b"Sec-WebSocket-Version", b"8"), 400, b"version 13"),
    (replace(b"Sec-WebSocket-Key", None), 400, b"Sec-WebSocket-Key"),
    (replace(b"Sec-WebSocket-Key", b"short"), 400, b"Sec-WebSocket-Key"),
    (replace(b"Sec-WebSocket-Key", base64.b64encode(b"x" * 15)), 400, b"Sec-WebSocket-Key"),
])
def test_bad_handshakes_are_refused(headers: list[tuple[bytes, bytes]], status: int,
                                    detail: bytes) -> None:
    found, body, conn = handshake(headers)
    assert found == status and detail in body
    assert conn.responses()[0].status != 101


def test_wrong_version_says_which_one_is_spoken() -> None:
    _, _, conn = handshake(replace(b"Sec-WebSocket-Version", b"8"))
    assert conn.responses()[0].header(b"sec-websocket-version") == b"13"


def test_only_get_can_upgrade() -> None:
    status, _, conn = handshake(GOOD, method=b"POST")
    assert status == 405 and conn.responses()[0].header(b"allow") == b"GET"


def test_origin_allow_list() -> None:
    resource = WebSocketResource(EchoHandler, origins=["https://chat.example"])
    status, body, _ = handshake([*GOOD, (b"Origin", b"https://evil.example")],
                                resource=resource)
    assert status == 403 and b"origin" in body


@pytest.mark.parametrize("options", [{"colour": "red"}, {"max_message_size": 0},
                                     {"ping_interval": "often"}])
def test_bad_options_are_refused_when_mounted(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EchoResource(**options)


def test_limits_come_from_the_class_then_the_mount() -> None:
    class Small(WebSocketHandler):
        max_message_size = 100
        idle_timeout = 5.0

    resource = WebSocketResource(Small, idle_timeout=7, clock=Clock())
    assert resource.limits.max_message_size == 100
    assert resource.limits.idle_timeout == 7.0
