"""Injection through what the server echoes: logs, response headers, HTML and redirects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from twisted_http import Router, StaticFiles
from twisted_http.testing import FakeConnection, InlineReactor, InlineThreadPool, QueuedThreadPool
from twisted_http.wsgi.handler import WSGIHandler

from ..handlers import Fixed
from ..support import log_access
from ._support import Recorder, lines, recorded_log, refused, wsgi_environs

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# -- uvicorn CVE-2020-7694: log injection ------------------------------------------------------


@pytest.mark.parametrize("target", [
    b"/%1b[1;31mHACKED%1b[0m",  # ANSI escapes, percent-encoded: the advisory's trigger
    b"/x%0d%0a127.0.0.1%20-%20%22GET%20/admin%20HTTP/1.1%22%20200",  # a forged log line
])
def test_cve_2020_7694_percent_encoded_escapes_stay_encoded_in_the_log(target: bytes) -> None:
    """uvicorn CVE-2020-7694 (GHSA-33c7-2mpw-hg34): uvicorn logged the path after
    urllib.parse.unquote, so ``%1b[...`` reached the terminal as an escape
    sequence and ``%0d%0a`` could forge log lines. minihttp's access log line
    carries the raw target: no control character reaches any log observer."""
    with recorded_log() as events:
        conn = FakeConnection(Fixed())
        log_access(conn)
        conn.send(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        conn.clock.advance(1)  # the access log's batch is written
    assert conn.responses()[0].status == 200
    access = [line for line in lines(events) if target.decode() in line]
    assert access, lines(events)  # the request was logged, as it was sent
    for line in lines(events):
        assert not _CONTROL.search(line), line


def test_cve_2020_7694_raw_escape_bytes_are_refused_and_not_logged() -> None:
    """The unencoded form: a raw ESC or CR in the target is a 400, and the refusal's
    log line says what rule was broken without echoing the bytes."""
    with recorded_log() as events:
        conn = FakeConnection(Fixed())
        log_access(conn)
        conn.send(b"GET /\x1b[2J\x1b[1;31mHACKED HTTP/1.1\r\nHost: a\r\n\r\n")
        conn.clock.advance(1)
    refused(conn, 400)
    for line in lines(events):
        assert not _CONTROL.search(line), line


# -- uvicorn CVE-2020-7695: response splitting -------------------------------------------------


def referer_echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The advisory's proof of concept, as WSGI: the decoded path copied into a header."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Referer", environ["PATH_INFO"])])
    return [b"Hello, world!"]


def test_cve_2020_7695_crlf_in_an_app_header_never_reaches_the_wire() -> None:
    """uvicorn CVE-2020-7695 (GHSA-f97h-2pfx-f59f): header values from the app were
    sent unchecked, so a path of ``%0D%0ASet-Cookie:...`` split the response.
    minihttp refuses the header: 500, and no injected header or body goes out."""
    reactor = InlineReactor()
    handler = WSGIHandler(referer_echo, thread_pool=InlineThreadPool(), reactor=reactor)
    conn = FakeConnection(Router([("/", handler)]), clock=reactor)
    with recorded_log():
        conn.send(b"GET /abc%0D%0ASet-Cookie:%20insecure=true%0D%0A%0D%0A<script>alert(1)"
                  b"</script> HTTP/1.1\r\nHost: a\r\n\r\n")
    [response] = conn.responses()
    assert response.status == 500
    assert response.header(b"set-cookie") is None and response.header(b"referer") is None
    assert b"insecure" not in conn.written and b"<script>" not in conn.written


@pytest.mark.parametrize("value", [b"a\r\nSet-Cookie: x=1", b"a\nb", b"a\rb", b"a\x00b"])
def test_cve_2020_7695_handler_api_refuses_control_characters(value: bytes) -> None:
    """The same through the core Response API a handler writes to: ``start``
    raises, the handler's failure becomes a 500, and the value is not sent."""
    from ..handlers import Calls

    def handler(request: Any, response: Any) -> None:
        response.send(200, b"x", [(b"X-Echo", value)])

    conn = FakeConnection(Calls(handler))
    with recorded_log():
        conn.request(b"GET", b"/")
    [response] = conn.responses()
    assert response.status == 500 and b"Set-Cookie" not in conn.written


# -- Twisted CVE-2022-39348: Host reflected into an HTML page ---------------------------------


def test_cve_2022_39348_script_in_host_is_refused_and_not_reflected() -> None:
    """Twisted CVE-2022-39348 (GHSA-vg46-2rrj-3647): NameVirtualHost's 404 page
    reflected the Host header unescaped. The advisory's
    ``Host: <script>alert(document.cookie)</script>`` is not a valid Host: 400,
    and the error page does not contain it."""
    conn = FakeConnection(Fixed())
    conn.send(b"GET / HTTP/1.1\r\nHost: <script>alert(document.cookie)</script>\r\n\r\n")
    response = refused(conn, 400)
    assert b"<script>" not in response.body and b"document.cookie" not in response.body


def test_cve_2022_39348_not_found_page_reflects_nothing(tmp_path: Path) -> None:
    """A 404 for an unknown host and path (no handler takes it): the page names
    neither the Host nor the path."""
    conn = FakeConnection(Router([("/", StaticFiles(tmp_path))]))
    conn.send(b"GET /%3Cimg%20src=x%3E HTTP/1.1\r\nHost: evil-host.example\r\n\r\n")
    [response] = conn.responses()
    assert response.status == 404
    assert b"evil-host" not in response.body and b"img" not in response.body


# -- Twisted CVE-2024-41810: HTML injection in a redirect's body -------------------------------


def test_cve_2024_41810_redirect_body_does_not_echo_the_url(tmp_path: Path) -> None:
    """Twisted CVE-2024-41810 (GHSA-cf56-g6w6-pqq2): redirectTo put the target URL
    into the HTML body unescaped. minihttp's only redirect (a directory without
    its slash) sends a fixed page: the ``"><script>`` in the URL is nowhere in it."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("hi")
    conn = FakeConnection(Router([("/", StaticFiles(tmp_path))]))
    conn.send(b'GET /sub?x="><script>alert(document.location)</script> HTTP/1.1\r\n'
              b"Host: a\r\n\r\n")
    [response] = conn.responses()
    assert response.status == 301
    assert (response.header(b"location") or b"").startswith(b"/sub/?")
    assert b"<script>" not in response.body and b"document.location" not in response.body


# -- http.server CVE-2021-28861: open redirect via "//" -----------------------------------------


def test_cve_2021_28861_cpythons_attack_url(tmp_path: Path) -> None:
    """http.server CVE-2021-28861 (cpython gh-87389): for a directory without its
    slash, http.server redirected to the request path plus "/", so a path
    starting ``//`` became a Location to another host. cpython's regression URL
    (``//python.org/..%2f..%2f.../existing_directory``) gets no redirect at all
    here: its dot-segments make it a 400."""
    (tmp_path / "existing_directory").mkdir()
    (tmp_path / "existing_directory" / "index.html").write_text("hi")
    url = b"/python.org/..%2f..%2f..%2f..%2f..%2f../%0a%0d/../existing_directory"
    for attack in (url, b"/" + url):
        conn = FakeConnection(Router([("/", StaticFiles(tmp_path))]))
        conn.send(b"GET " + attack + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        [response] = conn.responses()
        assert response.status == 400 and response.header(b"location") is None


@pytest.mark.parametrize("target", [b"//existing_directory", b"///existing_directory",
                                    b"//existing_directory?next=//evil.example"])
def test_cve_2021_28861_double_slash_redirect_stays_on_this_host(
    tmp_path: Path, target: bytes
) -> None:
    """The working form of the attack: ``//existing_directory`` does name the
    directory, and the redirect goes to ``/existing_directory/``: one slash, so
    the browser stays on this host."""
    (tmp_path / "existing_directory").mkdir()
    (tmp_path / "existing_directory" / "index.html").write_text("hi")
    conn = FakeConnection(Router([("/", StaticFiles(tmp_path))]))
    conn.send(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    [response] = conn.responses()
    assert response.status == 301
    location = response.header(b"location") or b""
    assert location.startswith(b"/existing_directory/") and not location.startswith(b"//")


# -- httpoxy ---------------------------------------------------------------------------------------


def test_httpoxy_proxy_header_never_becomes_http_proxy() -> None:
    """httpoxy (CVE-2016-5385 and kin, https://httpoxy.org): a ``Proxy:`` request
    header became HTTP_PROXY in CGI-style environments, which HTTP client
    libraries read as their outgoing proxy. The WSGI app never sees it; other
    headers still arrive."""
    app, environs = wsgi_environs()
    reactor = InlineReactor()
    handler = WSGIHandler(app, thread_pool=QueuedThreadPool(), reactor=reactor)
    pool = handler.thread_pool
    conn = FakeConnection(Router([("/", handler)]), clock=reactor)
    conn.send(b"GET / HTTP/1.1\r\nHost: a\r\nProxy: http://evil.example:8080\r\n"
              b"X-Other: kept\r\n\r\n")
    pool.run()  # type: ignore[attr-defined]
    assert conn.responses()[0].status == 200
    assert "HTTP_PROXY" not in environs[0]
    assert environs[0]["HTTP_X_OTHER"] == "kept"


def test_recorder_sees_what_it_is_given() -> None:
    """A check on the helper the attack tests rely on: a plain request does reach it."""
    recorder = Recorder()
    conn = FakeConnection(recorder)
    conn.request(b"POST", b"/x", body=b"abc")
    assert recorder.seen == [b"/x"] and recorder.bodies == [b"abc"]
