"""The built-in handlers through the real channel: time (text or JSON, on a pinned clock)
and redirect (where it sends, which statuses, what is escaped)."""

from __future__ import annotations

import json

import pytest
from twisted.internet.task import Clock

from twisted_http import Router
from twisted_http.handlers.negotiation import preferred
from twisted_http.handlers.redirect import Redirect
from twisted_http.handlers.time import TimeHandler
from twisted_http.testing import FakeConnection

NOON = 1796644800.25  # 2026-12-07T12:00:00.25Z


def time_connection(later: float = 0) -> FakeConnection:
    clock = Clock()
    clock.advance(NOON + later)
    return FakeConnection(Router([("/time", TimeHandler(clock))]), clock=clock)


def test_time_as_text() -> None:
    conn = time_connection()
    conn.request(b"GET", b"/time")
    [response] = conn.responses()
    assert (response.status, response.body) == (200, b"2026-12-07T12:00:00Z\n")
    assert response.header(b"content-type") == b"text/plain; charset=utf-8"
    assert response.header(b"vary") == b"Accept"
    assert response.header(b"cache-control") == b"no-store"


def test_time_as_json_when_asked() -> None:
    conn = time_connection()
    conn.request(b"GET", b"/time", [(b"Accept", b"text/html;q=0.9, application/json")])
    [response] = conn.responses()
    assert response.header(b"content-type") == b"application/json"
    assert json.loads(response.body) == {"utc": "2026-12-07T12:00:00Z", "unix": NOON}


def test_time_follows_the_clock() -> None:
    conn = time_connection(later=61)
    conn.request(b"GET", b"/time/")
    assert conn.responses()[0].body == b"2026-12-07T12:01:01Z\n"


@pytest.mark.parametrize(("method", "target", "headers", "status"), [
    (b"POST", b"/time", [], 405),
    (b"GET", b"/time/other", [], 404),
    (b"GET", b"/time", [(b"Accept", b"image/png")], 406),
])
def test_time_refusals(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]],
                       status: int) -> None:
    conn = time_connection()
    conn.request(method, target, headers)
    assert conn.responses()[0].status == status


@pytest.mark.parametrize(("accept", "expected"), [
    (None, b"text/plain"),
    (b"*/*", b"text/plain"),
    (b"application/json", b"application/json"),
    (b"application/*", b"application/json"),
    (b"text/plain;q=0.5, application/json;q=0.8", b"application/json"),
    (b"text/*;q=0, */*", b"application/json"),
    (b"application/json;q=0, text/*", b"text/plain"),
    (b"image/png", None),
    (b"application/json;q=bogus", None),
])
def test_accept_negotiation(accept: bytes | None, expected: bytes | None) -> None:
    assert preferred(accept, (b"text/plain", b"application/json")) == expected


def redirect_to(target: bytes, handler: Redirect, prefix: str = "/old") -> tuple[int, bytes, bytes]:
    conn = FakeConnection(Router([(prefix, handler)]))
    conn.request(b"GET", target)
    [response] = conn.responses()
    return response.status, response.header(b"location") or b"", response.body


@pytest.mark.parametrize(("target", "location"), [
    (b"/old", b"/new"),
    (b"/old/", b"/new/"),
    (b"/old/a/b?x=1", b"/new/a/b?x=1"),
    (b"/old/caf%C3%A9", b"/new/caf%C3%A9"),
    (b"/old//evil.example", b"/new/evil.example"),
    (b"/old/%5Cevil.example", b"/new/%5Cevil.example"),
])
def test_redirect_carries_the_rest_of_the_path(target: bytes, location: bytes) -> None:
    status, found, _ = redirect_to(target, Redirect("/new", 308))
    assert (status, found) == (308, location)


def test_redirect_at_the_root_never_points_off_site() -> None:
    """A root target plus '//host' from the client must not become '//host'."""
    assert redirect_to(b"//evil.example/x", Redirect("/"), prefix="/")[1] == b"/evil.example/x"
    assert redirect_to(b"/%2F%2Fevil.example", Redirect("/"), prefix="/")[1] \
        == b"/evil.example"


def test_redirect_exactly_and_with_a_query_of_its_own() -> None:
    assert redirect_to(b"/old/a?x=1", Redirect("/new", keep_path=False))[1] == b"/new"
    assert redirect_to(b"/old/a?x=1", Redirect("https://example.com/?v=2"))[1] \
        == b"https://example.com/a?v=2&x=1"


def test_redirect_keeps_a_fragment_of_its_own_last() -> None:
    """The path and query that go along are put before ``to``'s fragment, not in it."""
    assert redirect_to(b"/old/a?x=1", Redirect("/new#top"))[1] == b"/new/a?x=1#top"
    assert redirect_to(b"/old/a?x=1", Redirect("/new?v=2#top"))[1] == b"/new/a?v=2&x=1#top"
    assert redirect_to(b"/old", Redirect("/new#top"))[1] == b"/new#top"


def test_redirect_body_escapes_the_target() -> None:
    status, location, body = redirect_to(
        b"/old/%22%3E%3Cscript%3E", Redirect("/new?a=1&b=<x>", 302))
    assert status == 302
    assert b"<script>" not in body and b"<x>" not in body
    assert b"&lt;x&gt;" in body and b"&amp;" in body
    assert b'"' not in location


@pytest.mark.parametrize("status", [200, 300, 304, 404, True, "301"])
def test_redirect_takes_only_redirect_statuses(status: object) -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        Redirect("/new", status)  # type: ignore[arg-type]


@pytest.mark.parametrize("to", ["", "/a b", "/new\r\nSet-Cookie: x=1", "/caf\u00e9"])
def test_redirect_refuses_targets_that_cannot_be_a_location(to: str) -> None:
    with pytest.raises(ValueError, match="to must be"):
        Redirect(to)
