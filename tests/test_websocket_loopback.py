"""WebSocket endpoints on a real loopback socket, driven by the ``websockets`` client library
(its synchronous client, in a thread, while the reactor serves): text and binary messages,
fragments, close codes both ways, an oversized message, and a client that stops reading.
Every wait is bounded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, threads
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage

from twisted_http import HTTPFactory, Router
from twisted_http.handlers.echo import EchoHandler
from twisted_http.handlers.websocket import WebSocketHandler, WebSocketResource

from .security._loopback import Listening, connect, send_buffer_size, wait_until

websockets_sync = pytest.importorskip("websockets.sync.client")
exceptions = pytest.importorskip("websockets.exceptions")

T = TypeVar("T")


class Closer(WebSocketHandler):
    """Closes with the code and reason the client names: "4001 because"."""

    def on_message(self, message: str | bytes) -> None:
        code, _, reason = str(message).partition(" ")
        self.close(int(code), reason)


def make_server() -> Listening:
    def resource(handler: type[WebSocketHandler], **limits: Any) -> WebSocketResource:
        return WebSocketResource(handler, clock=reactor, **limits)

    router = Router([
        ("/echo", resource(EchoHandler)),
        ("/small", resource(EchoHandler, max_message_size=1000)),
        ("/closer", resource(Closer)),
        ("/slow", resource(EchoHandler, send_timeout=1, max_send_buffer=1 << 20)),
    ])
    return Listening(HTTPFactory(router, clock=reactor))


@pytest.fixture
def server() -> Iterator[Listening]:
    listening = make_server()
    yield listening
    pytest_twisted.blockon(defer.ensureDeferred(listening.stop()))


async def in_thread(function: Callable[[], T], timeout: float = 20) -> T:
    """Run a blocking client in a thread; fail (not hang) if it takes over ``timeout``."""
    result = threads.deferToThread(function)
    result.addTimeout(timeout, reactor)
    value: T = await result
    return value


def client(port: int, path: str, **options: Any) -> Any:
    return websockets_sync.connect(
        f"ws://127.0.0.1:{port}{path}", proxy=None, open_timeout=5, close_timeout=5,
        compression=None, **options,
    )


@pytest.mark.slow
@pytest_twisted.ensureDeferred
async def test_text_binary_and_fragmented_messages(server: Listening) -> None:
    def talk() -> list[Any]:
        with client(server.number, "/echo") as ws:
            ws.send("hello \u2603")
            ws.send(b"\x00\x01\xff" * 1000)
            ws.send(["frag", "mented ", "\u00e9"])  # one message, three frames
            ws.send([b"\x00", b"\x01"])
            return [ws.recv(timeout=5) for _ in range(4)]

    assert await in_thread(talk) == [
        "hello \u2603", b"\x00\x01\xff" * 1000, "fragmented \u00e9", b"\x00\x01"]


@pytest.mark.slow
@pytest_twisted.ensureDeferred
async def test_close_codes_both_ways(server: Listening) -> None:
    def server_closes() -> tuple[int, str]:
        with client(server.number, "/closer") as ws:
            ws.send("4001 because")
            with pytest.raises(exceptions.ConnectionClosed) as closed:
                ws.recv(timeout=5)
            return closed.value.rcvd.code, closed.value.rcvd.reason

    assert await in_thread(server_closes) == (4001, "because")

    def client_closes() -> tuple[int, str] | None:
        with client(server.number, "/echo") as ws:
            ws.close(code=4002, reason="done")
            sent = ws.protocol.close_rcvd
        return (sent.code, sent.reason) if sent is not None else None

    assert await in_thread(client_closes) == (4002, "done")  # echoed by the server


@pytest.mark.slow
@pytest_twisted.ensureDeferred
async def test_an_oversized_message_is_closed_with_1009(server: Listening) -> None:
    def oversize() -> int:
        with client(server.number, "/small") as ws:
            ws.send("x" * 1000)
            assert ws.recv(timeout=5) == "x" * 1000
            ws.send("x" * 1001)
            with pytest.raises(exceptions.ConnectionClosed) as closed:
                ws.recv(timeout=5)
            return int(closed.value.rcvd.code)

    assert await in_thread(oversize) == 1009


@pytest.mark.slow
@pytest_twisted.ensureDeferred
async def test_origin_and_handshake_refusals_over_the_wire(server: Listening) -> None:
    def plain_get() -> int:
        with pytest.raises(exceptions.InvalidStatus) as refused:
            client(server.number, "/nowhere")
        return int(refused.value.response.status_code)

    assert await in_thread(plain_get) == 404


@pytest.mark.slow
@pytest_twisted.ensureDeferred
async def test_a_client_that_stops_reading_is_held_in_bounds_then_dropped(
    server: Listening,
) -> None:
    """Echoes pile up unread: the server stops reading the client, holds at most about
    one socket's worth plus max_send_buffer, and drops it after send_timeout (1 s)."""
    raw = await connect(server.number)
    raw.send(b"GET /slow HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n\r\n")
    await wait_until(lambda: b"\r\n\r\n" in raw.data, timeout=5)
    assert raw.data.startswith(b"HTTP/1.1 101 ")
    assert raw.transport is not None
    raw.transport.pauseProducing()  # the client reads nothing more
    ws = Connection(ConnectionType.CLIENT)
    message = ws.send(BytesMessage(b"x" * 65536))
    channel = server.channels[-1]
    peak = 0

    def note_peak() -> bool:
        nonlocal peak
        peak = max(peak, send_buffer_size(channel))
        return bool(channel.transport.disconnected)

    for _ in range(200):  # 13 MiB offered; far more than the server may hold
        raw.send(message)
        if note_peak():
            break
    await wait_until(note_peak, timeout=10)
    assert peak < 6 * 1024 * 1024
    await wait_until(lambda: raw.closed.called, timeout=10)
