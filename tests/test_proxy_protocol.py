"""The PROXY protocol (edge/proxyprotocol.py) over StringTransport, then behind a real HAProxy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from twisted_http import HTTPFactory, IRequestHandler, Request, Response, Router
from twisted_http.edge.proxyprotocol import ProxyHeaderFactory, proxied

from .support import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
TWISTD = Path(sys.executable).parent / "twistd"
HAPROXY = shutil.which("haproxy") or next(
    (path for path in ("/usr/sbin/haproxy",) if os.path.exists(path)), None)

REQUEST = b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
V1 = b"PROXY TCP4 198.51.100.7 192.0.2.1 4711 443\r\n"
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(command: int = 1, source: str = "198.51.100.7", port: int = 4711) -> bytes:
    """A v2 header: PROXY (1) or LOCAL (0), TCP over IPv4, to 192.0.2.1:443."""
    addresses = socket.inet_aton(source) + socket.inet_aton("192.0.2.1") + struct.pack(
        "!HH", port, 443)
    return V2_SIGNATURE + bytes([0x20 | command, 0x11]) + struct.pack(
        "!H", len(addresses)) + addresses


@implementer(IRequestHandler)
class Peer:
    """Answers with the request's connection, as the channel saw it."""

    def handle(self, request: Request, response: Response) -> bool:
        info = request.connection
        body = f"{info.client_host}:{info.client_port} -> {info.server_host}:{info.server_port}"
        response.send(200, body.encode(), [(b"Content-Type", b"text/plain")])
        return True


def connect(clock: Clock, timeout: float = 5.0) -> tuple[object, StringTransport]:
    factory = ProxyHeaderFactory(HTTPFactory(Router([("/", Peer())]), clock=clock),
                                 timeout, clock)
    peer = IPv4Address("TCP", "127.0.0.1", 50000)
    protocol = factory.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer,
                                hostAddress=IPv4Address("TCP", "127.0.0.1", 8080))
    protocol.makeConnection(transport)
    return protocol, transport


def feed(data: bytes, pieces: str = "whole", timeout: float = 5.0
         ) -> tuple[StringTransport, Clock]:
    clock = Clock()
    protocol, transport = connect(clock, timeout)
    chunks = [data] if pieces == "whole" else [data[i:i + 1] for i in range(len(data))]
    for chunk in chunks:
        if transport.disconnecting:
            break
        protocol.dataReceived(chunk)  # type: ignore[attr-defined]
    return transport, clock


@pytest.mark.parametrize("pieces", ["whole", "bytes"])
@pytest.mark.parametrize("header", [V1, v2()], ids=["v1", "v2"])
def test_header_gives_the_client_and_the_address_it_asked(header: bytes, pieces: str) -> None:
    """The channel's connection is the header's, whole or fed a byte at a time."""
    transport, _ = feed(header + REQUEST, pieces)
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    assert transport.value().endswith(b"198.51.100.7:4711 -> 192.0.2.1:443")


def test_local_command_keeps_the_real_peer() -> None:
    """HAProxy's own health checks send LOCAL: the connection is the socket's."""
    transport, _ = feed(v2(command=0) + REQUEST)
    assert transport.value().endswith(b"127.0.0.1:50000 -> 127.0.0.1:8080")


@pytest.mark.parametrize("data", [
    REQUEST,  # no header at all
    b"PROXY TCP4 not-an-address 192.0.2.1 4711 443\r\n" + REQUEST,
    b"PROXY TCP4 198.51.100.7 192.0.2.1 99999 443\r\n" + REQUEST,
    b"PROXY TCP6 198.51.100.7 192.0.2.1 4711 443\r\n" + REQUEST,
    b"PROXY TCP6 fe80::1%<x> 2001:db8::1 4711 443\r\n" + REQUEST,
    b"PROXY " + b"x" * 200,  # no end of line within 107 bytes
    V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\x00" * 12 + REQUEST,  # version 3
    V2_SIGNATURE + b"\x2f\x11\x00\x0c" + b"\x00" * 12 + REQUEST,  # command 15
    b"\r\n\r\nGET",  # starts like a v2 signature, then is not one
], ids=["missing", "bad-address", "bad-port", "wrong-family", "zone-id", "endless-v1", "v2-version",
        "v2-command", "near-v2"])
@pytest.mark.parametrize("pieces", ["whole", "bytes"])
def test_missing_or_malformed_header_closes_without_a_response(data: bytes, pieces: str) -> None:
    transport, _ = feed(data, pieces)
    assert transport.disconnecting and transport.value() == b""


def test_a_header_that_never_ends_is_cut_off_at_the_timeout() -> None:
    transport, clock = feed(b"PROXY TCP4 198.51", timeout=5.0)
    clock.advance(4.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting and transport.value() == b""


def test_after_the_header_the_channel_keeps_its_own_timers() -> None:
    """The header timer is gone once the header is read: a slow request is the
    channel's business (its head timeout answers 408)."""
    transport, clock = feed(V1 + b"GET / HTTP/1.1\r\n")
    clock.advance(6)
    assert not transport.disconnecting
    clock.advance(60)
    assert transport.value().startswith(b"HTTP/1.1 408 ")


def test_proxied_endpoint_strings() -> None:
    assert proxied("haproxy:tcp:8080:interface=127.0.0.1") == "tcp:8080:interface=127.0.0.1"
    assert proxied("tcp:8080") is None


# -- behind a real HAProxy --------------------------------------------------------------

# A loopback address of its own for the client, so the client's address and the
# proxy's (127.0.0.1) differ on one machine.
CLIENT = "127.0.0.5"


def haproxy_config(frontends: dict[str, tuple[int, str]], backend: int) -> str:
    """A config with one TCP frontend per name, each to ``backend`` with the given
    server option (send-proxy, send-proxy-v2)."""
    lines = ["global", "    maxconn 64", "defaults", "    mode tcp",
             "    timeout connect 5s", "    timeout client 15s", "    timeout server 15s"]
    for name, (port, option) in frontends.items():
        lines += [f"frontend {name}", f"    bind 127.0.0.1:{port}",
                  f"    default_backend {name}_out", f"backend {name}_out",
                  f"    server minihttp 127.0.0.1:{backend} {option}"]
    return "\n".join(lines) + "\n"


@contextmanager
def running(command: list[str], log: Path, port: int, cwd: Path) -> Iterator[None]:
    """A child process started with ``command``, serving on ``port``; stopped after."""
    process = subprocess.Popen(command, cwd=cwd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_until_serving(port, process)  # type: ignore[arg-type]
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def get_from(port: int) -> tuple[dict[str, str], int]:
    """GET / through the proxy from CLIENT; the app's environ and our local port."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(CLIENT, 0)) as connection:
        local_port = connection.getsockname()[1]
        connection.sendall(b"GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data
    return json.loads(body), local_port


@pytest.mark.slow
@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (make test installs it)")
def test_behind_haproxy_send_proxy_v1_and_v2(tmp_path: Path) -> None:
    """twistd minihttp on haproxy:tcp:PORT behind a real HAProxy with send-proxy and
    send-proxy-v2: the WSGI app and the access log see the client's address and port,
    and a client that skips the proxy gets its connection closed, no response."""
    assert HAPROXY is not None
    backend, v1_port, v2_port = free_port(), free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config({"v1": (v1_port, "send-proxy"),
                                      "v2": (v2_port, "send-proxy-v2")}, backend))
    twistd_log = tmp_path / "twistd.log"
    minihttp = [str(TWISTD), "--nodaemon", "--pidfile=", f"--logfile={twistd_log}", "minihttp",
                "--port", f"haproxy:tcp:{backend}:interface=127.0.0.1",
                "--pythonpath", str(ROOT / "tests" / "apps"), "--wsgi", "edge_apps:environ"]
    # timeout(1): HAProxy stops by itself even if this test is killed before its cleanup.
    haproxy = ["timeout", "120", HAPROXY, "-db", "-f", str(config)]
    with running(minihttp, tmp_path / "twistd.out", backend, tmp_path), \
            running(haproxy, tmp_path / "haproxy.out", v2_port, tmp_path):
        for port in (v1_port, v2_port):
            environ, local_port = get_from(port)
            assert environ["REMOTE_ADDR"] == CLIENT
            assert environ["REMOTE_PORT"] == str(local_port)
            assert environ["SERVER_PORT"] == str(port)  # the port the client connected to
        # Straight to minihttp, no header: closed without a byte.
        with socket.create_connection(("127.0.0.1", backend), timeout=10) as direct:
            direct.sendall(REQUEST)
            assert direct.recv(1024) == b""
    lines = [line for line in twistd_log.read_text().splitlines()
             if '"GET / HTTP/1.1" 200' in line]
    assert len(lines) == 2 and all(line.startswith(f"{CLIENT} - - ") for line in lines), lines


def haproxy_http_config(port: int, backend: int) -> str:
    """HAProxy as an HTTP proxy ending TLS would be: X-Forwarded-For, -Proto https and
    -Host added on the way to ``backend``."""
    return "\n".join([
        "global", "    maxconn 64", "defaults", "    mode http", "    timeout connect 5s",
        "    timeout client 15s", "    timeout server 15s",
        "frontend web", f"    bind 127.0.0.1:{port}", "    option forwardfor",
        "    http-request set-header X-Forwarded-Proto https",
        "    http-request set-header X-Forwarded-Host www.example.com",
        "    default_backend app", "backend app",
        f"    server minihttp 127.0.0.1:{backend}", ""])


@pytest.mark.slow
@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (make test installs it)")
@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
def test_behind_haproxy_http_mode(tmp_path: Path, trusted: bool) -> None:
    """HAProxy in mode http with option forwardfor: with --trusted-proxy 127.0.0.1 the app
    sees the client's address, https and the public host; without, the proxy's."""
    assert HAPROXY is not None
    backend, port = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_http_config(port, backend))
    minihttp = [str(TWISTD), "--nodaemon", "--pidfile=", f"--logfile={tmp_path / 'log'}",
                "minihttp", "--port", f"tcp:{backend}:interface=127.0.0.1",
                "--pythonpath", str(ROOT / "tests" / "apps"), "--wsgi", "edge_apps:environ",
                *(["--trusted-proxy", "127.0.0.1"] if trusted else [])]
    haproxy = ["timeout", "120", HAPROXY, "-db", "-f", str(config)]
    with running(minihttp, tmp_path / "twistd.out", backend, tmp_path), \
            running(haproxy, tmp_path / "haproxy.out", port, tmp_path):
        environ, _ = get_from(port)
    assert environ["HTTP_X_FORWARDED_FOR"] == CLIENT
    if trusted:
        assert environ["REMOTE_ADDR"] == CLIENT
        assert environ["wsgi.url_scheme"] == "https"
        assert (environ["HTTP_HOST"], environ["SERVER_PORT"]) == ("www.example.com", "443")
    else:
        assert environ["REMOTE_ADDR"] == "127.0.0.1"
        assert environ["wsgi.url_scheme"] == "http"
        assert environ["HTTP_HOST"] == "site.test"
