"""Files over plain TCP leave through os.sendfile, byte-exact, whatever the client does.

The sendfile path only runs on real sockets, so these tests use loopback
clients (blocking sockets in a thread, the server on the test's reactor). A
counting wrapper around ``os.sendfile`` shows the path was really taken; the
bytes each client receives are compared with the file's, piece by piece.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor, threads

from twisted_http import HTTPFactory, Router, ServerConfig, StaticFiles
from twisted_http.testing import FakeConnection, parse_responses

from .security._loopback import Listening

SIZE = 3 * 1024 * 1024 + 12345


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, bytes]:
    data = random.Random(6).randbytes(SIZE)
    (tmp_path / "big.bin").write_bytes(data)
    return tmp_path, data


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        sent = real(out_fd, in_fd, offset, count)
        calls.append(sent)
        return sent

    monkeypatch.setattr(os, "sendfile", counting)
    return calls


def _exchange(port: int, request: bytes, *, slow: bool = False) -> bytes:
    """Send ``request`` and read until the server closes (every request says close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        if slow:  # a small window, set before connecting so that it holds
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        parts = []
        while chunk := sock.recv(16384 if slow else 1 << 20):
            parts.append(chunk)
            if slow:
                time.sleep(0.001)
        return b"".join(parts)


async def _in_thread(work: Callable[[], bytes]) -> bytes:
    result: bytes = await threads.deferToThreadPool(reactor, reactor.getThreadPool(), work)
    return result


def _get(path: bytes, *fields: bytes, method: bytes = b"GET") -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: a", *fields, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@pytest.fixture
def served(site: tuple[Path, bytes]) -> Iterator[int]:
    root, _ = site
    server = Listening(HTTPFactory(Router([("/", StaticFiles(root))]),
                                   ServerConfig(access_log=False)))
    yield server.number
    server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_whole_file_goes_out_through_sendfile(
    site: tuple[Path, bytes], served: int, sendfile_calls: list[int]
) -> None:
    """GET of a large file: every byte, in order, most of them by sendfile."""
    raw = await _in_thread(lambda: _exchange(served, _get(b"/big.bin")))
    [response] = parse_responses(raw)
    assert response.status == 200 and response.body == site[1]
    assert sum(sendfile_calls) > SIZE // 2


@pytest_twisted.ensureDeferred
async def test_a_slow_reader_gets_every_byte(
    site: tuple[Path, bytes], served: int, sendfile_calls: list[int]
) -> None:
    """A client reading in small pieces fills the socket: sendfile and the
    transport's writes take turns, and the bytes still arrive exactly."""
    raw = await _in_thread(lambda: _exchange(served, _get(b"/big.bin"), slow=True))
    [response] = parse_responses(raw)
    assert response.body == site[1]
    assert sendfile_calls and sum(sendfile_calls) < SIZE  # both paths were used


@pytest_twisted.ensureDeferred
async def test_ranges_go_out_exactly(
    site: tuple[Path, bytes], served: int, sendfile_calls: list[int]
) -> None:
    """A single range and a multipart one: each part is the file's bytes at its offsets."""
    data = site[1]
    single_range = _get(b"/big.bin", b"Range: bytes=70000-2999999")
    raw = await _in_thread(lambda: _exchange(served, single_range))
    [single] = parse_responses(raw)
    assert single.status == 206 and single.body == data[70000:3000000]
    raw = await _in_thread(lambda: _exchange(
        served, _get(b"/big.bin", b"Range: bytes=100-200000,1500000-2600000")))
    [multi] = parse_responses(raw)
    assert multi.status == 206
    assert data[100:200001] in multi.body and data[1500000:2600001] in multi.body


@pytest_twisted.ensureDeferred
async def test_head_sends_no_body(served: int, sendfile_calls: list[int]) -> None:
    """HEAD of a large file: the head only, and nothing through sendfile."""
    raw = await _in_thread(lambda: _exchange(served, _get(b"/big.bin", method=b"HEAD")))
    [response] = parse_responses(raw, [b"HEAD"])
    assert response.header(b"content-length") == str(SIZE).encode()
    assert raw.endswith(b"\r\n\r\n") and sendfile_calls == []


def test_in_memory_transports_never_use_sendfile(
    site: tuple[Path, bytes], sendfile_calls: list[int]
) -> None:
    """A fake transport has no socket: the file goes through writes, byte-exact."""
    root, data = site
    conn = FakeConnection(StaticFiles(root))
    conn.send(_get(b"/big.bin"))
    conn.clock.advance(0)
    for _ in range(200):
        conn.clock.advance(0)
    [response] = conn.responses()
    assert response.body == data and sendfile_calls == []
