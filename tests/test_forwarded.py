"""Trusted proxies applied to requests: the environ, the request, redirects and the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import MemorySink
from twisted_http import Router, StaticFiles
from twisted_http.edge.accesslog import CommonFormat
from twisted_http.edge.logfile import AccessLog
from twisted_http.edge.proxies import Forwarding, TrustedProxies
from twisted_http.testing import FakeConnection

from .apps.support import serve
from .test_wsgi_environ import capture

FROM_PROXY = [
    (b"Host", b"backend:8000"),
    (b"X-Forwarded-For", b"203.0.113.7, 198.51.100.20"),
    (b"X-Forwarded-Proto", b"https"),
    (b"X-Forwarded-Host", b"www.example.com"),
]


def environ_behind(trusted: list[str] | None, headers: list[tuple[bytes, bytes]]
                   ) -> dict[str, Any]:
    """The environ an app gets for one request from the peer 127.0.0.1."""
    seen: list[dict[str, Any]] = []
    connection = serve(capture(seen))
    if trusted is not None:
        connection.factory.forwarded = Forwarding(TrustedProxies.parse(trusted))
    connection.request(b"GET", b"/", headers)
    [response] = connection.responses([b"GET"])
    assert response.status == 200
    return seen[0]


def test_a_trusted_proxy_sets_the_client_scheme_and_host() -> None:
    """From a trusted peer the app sees the client's address and what it asked for;
    the proxy's own headers are still there for an app that wants them."""
    env = environ_behind(["127.0.0.1", "198.51.100.0/24"], FROM_PROXY)
    assert env["REMOTE_ADDR"] == "203.0.113.7"  # right-most not trusted
    assert "REMOTE_PORT" not in env  # the proxy's port is not the client's
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "www.example.com"
    assert env["SERVER_NAME"] == "www.example.com"
    assert env["SERVER_PORT"] == "443"
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 198.51.100.20"


def test_an_untrusted_peer_changes_nothing() -> None:
    env = environ_behind(["10.0.0.0/8"], FROM_PROXY)
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("127.0.0.1", "40000")
    assert env["wsgi.url_scheme"] == "http"
    assert (env["HTTP_HOST"], env["SERVER_NAME"], env["SERVER_PORT"]) == (
        "backend:8000", "backend", "8000")


def test_no_trusted_proxy_is_the_default() -> None:
    assert environ_behind(None, FROM_PROXY)["REMOTE_ADDR"] == "127.0.0.1"


def test_forwarded_header_with_a_port() -> None:
    env = environ_behind(["127.0.0.1"], [
        (b"Forwarded", b'for="[2001:db8::7]:5000";proto=https;host="shop.example:8443"')])
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8::7", "5000")
    assert (env["HTTP_HOST"], env["SERVER_PORT"]) == ("shop.example:8443", "8443")


def test_the_access_log_shows_the_client() -> None:
    """Behind a trusted proxy the logged client is the forwarded one, not the proxy."""
    seen: list[dict[str, Any]] = []
    connection = serve(capture(seen))
    sink = MemorySink()
    access_log = AccessLog(sink, CommonFormat(), connection.clock)
    connection.factory.observers = (access_log,)
    connection.factory.forwarded = Forwarding(TrustedProxies.parse(["127.0.0.1"]))
    connection.request(b"GET", b"/", FROM_PROXY)
    connection.factory.forwarded = None
    connection.request(b"GET", b"/", FROM_PROXY)
    access_log.flush()
    [lines] = sink.writes
    assert [line.split(" ")[0] for line in lines] == ["198.51.100.20", "127.0.0.1"]


def test_handlers_see_it_on_the_request_and_redirects_keep_it(tmp_path: Path) -> None:
    """A folder asked for without its slash is redirected with a path only, so the
    browser stays on the scheme and host it used, whatever the backend is called."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("docs")
    connection = FakeConnection(Router([("/", StaticFiles(tmp_path))]))
    connection.factory.forwarded = Forwarding(TrustedProxies.parse(["127.0.0.1"]))
    connection.request(b"GET", b"/docs?x=1", FROM_PROXY)
    [response] = connection.responses([b"GET"])
    assert response.status == 301
    assert response.headers.get(b"location") == b"/docs/?x=1"
