"""The PEP 3333 environ the container builds, checked on fake transports."""

from __future__ import annotations

from typing import Any

import pytest

from twisted_http import Router
from twisted_http.channel.request import ConnectionInfo
from twisted_http.testing import FakeConnection, InlineReactor, InlineThreadPool
from twisted_http.wsgi.handler import FileWrapper, WSGIHandler

from .apps.support import recorded_log, serve

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")


def capture(seen: list[dict[str, Any]]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(dict(environ))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def environ_for(target: bytes, headers: list[tuple[bytes, bytes]] = (), *,  # type: ignore[assignment]
                prefix: str = "/", method: bytes = b"GET", body: bytes = b"") -> dict[str, Any]:
    seen: list[dict[str, Any]] = []
    conn = serve(capture(seen), prefix=prefix)
    conn.request(method, target, headers, body)
    [response] = conn.responses([method])
    assert response.status == 200, response
    return seen[0]


def test_basic_keys() -> None:
    """Method, query, protocol, server and client addresses, and the wsgi.* keys."""
    env = environ_for(b"/a/b?x=1&y=%20", [(b"Host", b"example.com:8080")])
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/a/b"
    assert env["QUERY_STRING"] == "x=1&y=%20"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_NAME"] == "example.com"
    assert env["SERVER_PORT"] == "8000"  # the port the connection really reached
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == "40000"
    assert env["HTTP_HOST"] == "example.com:8080"
    assert env["wsgi.version"] == (1, 0)
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is True
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.file_wrapper"] is FileWrapper
    assert "CONTENT_TYPE" not in env and "CONTENT_LENGTH" not in env


def test_mount_splits_script_name_and_path_info() -> None:
    """SCRIPT_NAME is the mount prefix; PATH_INFO the rest, both percent-decoded latin-1 str."""
    env = environ_for(b"/app/caf%C3%A9/a%2Fb", prefix="/app")
    assert env["SCRIPT_NAME"] == "/app"
    assert env["PATH_INFO"] == "/café/a/b".encode().decode("latin-1")
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café/a/b"


def test_mount_root_of_prefix() -> None:
    """A request for the prefix itself has an empty PATH_INFO."""
    env = environ_for(b"/app", prefix="/app")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "")


def test_content_type_and_length() -> None:
    """CONTENT_TYPE and CONTENT_LENGTH come without the HTTP_ prefix, and only there."""
    env = environ_for(b"/", [(b"Content-Type", b"text/plain")], method=b"POST", body=b"hello")
    assert env["CONTENT_TYPE"] == "text/plain"
    assert env["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env


def test_chunked_body_read_ahead_has_a_content_length() -> None:
    """A chunked body is read ahead: CONTENT_LENGTH is its length and it is no longer chunked."""
    env = environ_for(b"/", [(b"Transfer-Encoding", b"chunked")], method=b"POST",
                      body=b"5\r\nhello\r\n0\r\n\r\n")
    assert env["CONTENT_LENGTH"] == "5"
    assert "HTTP_TRANSFER_ENCODING" not in env
    assert env["wsgi.input_terminated"] is True


def test_repeated_headers_are_joined() -> None:
    """Repeated fields become one HTTP_* value joined by ", "; cookies by "; "."""
    env = environ_for(b"/", [(b"Accept", b"text/html"), (b"X-Thing", b"a"),
                             (b"Accept", b"text/plain"), (b"Cookie", b"a=1"),
                             (b"Cookie", b"b=2")])
    assert env["HTTP_ACCEPT"] == "text/html, text/plain"
    assert env["HTTP_X_THING"] == "a"
    assert env["HTTP_COOKIE"] == "a=1; b=2"


def test_underscore_headers_are_dropped() -> None:
    """X-Auth_User would collide with X-Auth-User: it is dropped, the dashed one kept."""
    env = environ_for(b"/", [(b"X-Auth_User", b"mallory"), (b"X-Auth-User", b"alice")])
    assert env["HTTP_X_AUTH_USER"] == "alice"
    env = environ_for(b"/", [(b"X-Auth_User", b"mallory")])
    assert "HTTP_X_AUTH_USER" not in env


def test_no_httpoxy() -> None:
    """A Proxy header never becomes HTTP_PROXY (httpoxy, CVE-2016-5385)."""
    env = environ_for(b"/", [(b"Proxy", b"http://evil.example:1234")])
    assert "HTTP_PROXY" not in env


def test_latin1_header_values() -> None:
    """Header values with obs-text bytes come through as latin-1 str."""
    env = environ_for(b"/", [(b"X-Name", "José".encode())])
    assert env["HTTP_X_NAME"].encode("latin-1").decode("utf-8") == "José"


def test_https_behind_tls() -> None:
    """On a TLS connection wsgi.url_scheme is https."""
    seen: list[dict[str, Any]] = []
    reactor = InlineReactor()
    handler = WSGIHandler(capture(seen), thread_pool=InlineThreadPool(), reactor=reactor)
    conn = FakeConnection(Router([("/", handler)]), clock=reactor)
    conn.channel._connection = ConnectionInfo("10.0.0.1", 5, "10.0.0.2", 443, secure=True)
    conn.request(b"GET", b"/")
    assert seen[0]["wsgi.url_scheme"] == "https"
    assert seen[0]["SERVER_PORT"] == "443"


def test_ipv6_host() -> None:
    """An IPv6 literal in Host gives SERVER_NAME with its brackets."""
    env = environ_for(b"/", [(b"Host", b"[::1]:8080")])
    assert env["SERVER_NAME"] == "[::1]"


def test_wsgi_errors_go_to_the_log() -> None:
    """Lines written to wsgi.errors are logged, one event per line, partial lines on flush."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        errors = environ["wsgi.errors"]
        errors.write("first line\nsecond ")
        errors.writelines(["line\n", "tail"])
        errors.flush()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return []

    with recorded_log() as events:
        conn = serve(app)
        conn.request(b"GET", b"/")
    lines = [e["line"] for e in events if e.get("log_namespace") == "twisted_http.wsgi"
             and "line" in e]
    assert lines == ["first line", "second line", "tail"]
    assert conn.responses()[0].status == 200


def test_header_names_past_the_memo_still_map_right() -> None:
    """More distinct header names than the name memo holds: every one still maps right."""
    names = [b"X-Name-%d" % index for index in range(1200)]
    seen: list[dict[str, Any]] = []
    conn = serve(capture(seen), validate=False)
    for start in range(0, len(names), 20):
        conn.request(b"GET", b"/", [(name, b"v") for name in names[start:start + 20]])
    keys = {key for env in seen for key in env if key.startswith("HTTP_X_NAME_")}
    assert keys == {f"HTTP_X_NAME_{index}" for index in range(1200)}


def test_an_app_changing_its_header_list_gets_the_new_headers() -> None:
    """Checked header lists are remembered by content: a list the app changes is new."""
    headers = [("Content-Type", "text/plain"), ("X-Version", "1")]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", headers)
        return [b"ok"]

    conn = serve(app)
    conn.request(b"GET", b"/")
    headers[1] = ("X-Version", "2")
    conn.request(b"GET", b"/")
    headers[1] = ("X-Version", "bad\r\nSet-Cookie: x=1")
    with recorded_log():
        conn.request(b"GET", b"/")
    first, second, third = conn.responses()
    assert first.header(b"x-version") == b"1" and second.header(b"x-version") == b"2"
    assert third.status == 500 and b"Set-Cookie" not in conn.written
