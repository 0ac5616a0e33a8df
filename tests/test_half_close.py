"""A client that half-closes (sends its requests, then shuts down its sending side)
still gets every answer before the server closes (RFC 9112 §9.6). Without this,
``printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc`` and scripts like it got nothing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest_twisted
from twisted.internet import reactor, threads

from twisted_http import HTTPFactory, Router, ServerConfig, StaticFiles
from twisted_http.testing import FakeConnection

from .handlers import Echo, Fixed, Held
from .security._loopback import Listening

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def test_a_request_then_a_half_close_is_answered_then_closed() -> None:
    """The answer goes out; then, with nothing more to read, the server closes."""
    conn = FakeConnection(Fixed(body=b"hello"))
    conn.send(GET)
    conn.half_close()
    assert [r.body for r in conn.responses()] == [b"hello"]
    assert conn.closed


def test_a_pending_response_is_finished_before_the_close() -> None:
    """A half-close while the handler works changes nothing until its response is out."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET)
    conn.half_close()
    assert not conn.closed
    held.pending[0][1].send(200, b"late")
    assert [r.body for r in conn.responses()] == [b"late"]
    assert conn.closed


def test_every_pipelined_request_before_the_half_close_is_answered() -> None:
    """Requests sent before the half-close are all answered, in order."""
    held = Held()
    conn = FakeConnection(held)
    conn.send(GET.replace(b"/", b"/1", 1) + GET.replace(b"/", b"/2", 1))
    conn.half_close()
    held.pending[0][1].send(200, b"one")
    assert not conn.closed
    held.pending[1][1].send(200, b"two")
    assert [r.body for r in conn.responses()] == [b"one", b"two"]
    assert conn.closed


def test_a_half_close_between_requests_closes_quietly() -> None:
    """Nothing asked, nothing answered: the connection just closes."""
    conn = FakeConnection(Fixed())
    conn.send(b"GET / HTTP/1.1\r\nHo")
    conn.half_close()
    assert conn.closed and conn.written == b""


def test_a_body_cut_short_by_a_half_close_is_400() -> None:
    """A body that can no longer arrive whole is refused, and the receiver told."""
    echo = Echo()
    conn = FakeConnection(echo)
    conn.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    conn.half_close()
    [response] = conn.responses()
    assert response.status == 400
    assert conn.closed


@pytest_twisted.ensureDeferred
async def test_real_half_closing_clients_get_whole_responses(tmp_path: Path) -> None:
    """Over loopback: send, shutdown(SHUT_WR), read to the end, fifty times."""
    body = b"x" * 4096
    (tmp_path / "f.bin").write_bytes(body)
    server = Listening(HTTPFactory(Router([("/", StaticFiles(tmp_path))]),
                                   ServerConfig(access_log=False)))
    port = server.number

    def clients() -> list[bytes]:
        answers = []
        for _ in range(50):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /f.bin HTTP/1.1\r\nHost: a\r\n\r\n")
                sock.shutdown(socket.SHUT_WR)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                answers.append(data)
        return answers

    try:
        answers = await threads.deferToThreadPool(reactor, reactor.getThreadPool(), clients)
    finally:
        await server.stop()
    assert len(answers) == 50
    for data in answers:
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n" + body)
