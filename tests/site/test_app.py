"""The bundled site's WSGI app (dynamic/mini_frame), through minihttp's testing kit.

Each test runs the app inside a real minihttp server on fake transports
(``FakeConnection``, ``InlineThreadPool``): the requests are bytes on the wire,
and wsgiref's validator checks the app keeps to PEP 3333.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mini_frame import make_app
from mini_frame.forms import CSRF_COOKIE, NAME_LIMIT

from twisted_http.testing import RecordedResponse

from .kit import FORM, NOON, Site

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")


def listed(page: RecordedResponse) -> list[tuple[str, str]]:
    return [(first.decode(), last.decode()) for first, last in re.findall(
        rb'<span class="first">(.*?)</span> <span class="last">(.*?)</span>', page.body)]


# -- /time ---------------------------------------------------------------------------


def test_time_is_an_html_page_in_the_site_layout(site: Site) -> None:
    """/time shows the app's clock in a page that links the site's stylesheet."""
    page = site.get(b"/time")
    assert page.status == 200
    assert page.header(b"content-type") == b"text/html; charset=utf-8"
    assert page.header(b"vary") == b"Accept"
    assert b'<time datetime="2026-05-17T12:30:05+02:00">' in page.body
    assert b'href="/style.css"' in page.body


@pytest.mark.parametrize("accept", [b"application/json", b"text/html;q=0.5, application/json",
                                    b"application/*"])
def test_time_as_json_when_asked_for(site: Site, accept: bytes) -> None:
    """Accept ranking application/json first gets the time as JSON."""
    answer = site.get(b"/time", [(b"Accept", accept)])
    assert answer.header(b"content-type") == b"application/json"
    assert json.loads(answer.body) == {"iso": "2026-05-17T12:30:05+02:00",
                                       "timestamp": NOON.timestamp()}


@pytest.mark.parametrize("accept", [b"text/html,application/xhtml+xml,*/*;q=0.8",
                                    b"application/json;q=0.4, text/html", b"*/*", b""])
def test_time_as_html_for_browsers_and_by_default(site: Site, accept: bytes) -> None:
    answer = site.get(b"/time", [(b"Accept", accept)] if accept else [])
    assert answer.header(b"content-type") == b"text/html; charset=utf-8"


# -- /register -----------------------------------------------------------------------


def test_the_form_starts_empty_and_sets_its_token_cookie(site: Site) -> None:
    page = site.get(b"/register")
    assert page.status == 200
    assert b"Nobody yet" in page.body
    cookie = page.header(b"set-cookie") or b""
    assert cookie.endswith(b"; Path=/; HttpOnly; SameSite=Strict")
    assert page.header(b"content-security-policy") is not None


def test_a_valid_entry_is_stored_and_answered_with_303(site: Site) -> None:
    """POST stores the person, then 303 See Other sends the browser back to the list."""
    answer = site.register("Ada", "Lovelace")
    assert answer.status == 303
    assert answer.header(b"location") == b"/register"
    assert listed(site.get(b"/register")) == [("Ada", "Lovelace")]


def test_entries_are_listed_in_order_and_survive_a_new_app(site: Site) -> None:
    """The list is read from the SQLite file, so another app on the same folder sees it."""
    site.register("Ada", "Lovelace")
    site.register("Grace", "Hopper")
    assert listed(Site(site.folder).get(b"/register")) == [("Ada", "Lovelace"),
                                                          ("Grace", "Hopper")]


def test_the_data_folder_is_created_on_first_use(site: Site) -> None:
    assert not site.folder.exists()
    site.get(b"/register")
    assert (site.folder / "people.sqlite3").is_file()


@pytest.mark.parametrize(("first", "last", "errors"), [
    ("", "", ["First name is required.", "Last name is required."]),
    ("   ", "Hopper", ["First name is required."]),
    ("Ada", "x" * (NAME_LIMIT + 1), [f"Last name must be at most {NAME_LIMIT} characters."]),
    ("Ada\x07", "Lovelace", ["First name must not contain control characters."]),
])
def test_an_invalid_entry_is_refused_with_400_and_its_errors(
    site: Site, first: str, last: str, errors: list[str]
) -> None:
    """Missing or too long names: 400, the form again with each field's error, nothing stored."""
    answer = site.register(first, last)
    assert answer.status == 400
    shown = re.findall(rb'<p class="error" id="[a-z_]+-error">(.*?)</p>', answer.body)
    assert [e.decode() for e in shown] == errors
    assert listed(site.get(b"/register")) == []


def test_a_refused_entry_keeps_what_was_typed(site: Site) -> None:
    answer = site.register("Ada", "")
    assert b'value="Ada"' in answer.body


def test_names_are_shown_as_text_never_as_markup(site: Site) -> None:
    """<script> and quotes in a name are escaped, in the list and in a refused form."""
    evil = '<script>alert("x")</script>'
    site.register(evil, "O'Brien & <b>Co</b>")
    page = site.get(b"/register")
    assert b"<script>" not in page.body and b"<b>Co" not in page.body
    assert listed(page) == [("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;",
                             "O&#x27;Brien &amp; &lt;b&gt;Co&lt;/b&gt;")]
    refused = site.register('"><script>', "")
    assert b'value="&quot;&gt;&lt;script&gt;"' in refused.body


def test_sql_metacharacters_are_stored_as_given(site: Site) -> None:
    """Names go to SQLite as parameters: a quote is data, not SQL."""
    site.register("Robert'); DROP TABLE people;--", "Tables")
    with sqlite3.connect(site.folder / "people.sqlite3") as db:
        assert db.execute("SELECT first_name FROM people").fetchall() == [
            ("Robert'); DROP TABLE people;--",)]


@pytest.mark.parametrize(("cookie", "field"), [
    (None, None),            # no token at all: another site's form
    ("abc", None),           # the cookie but not the field
    (None, "abc"),           # the field but not the cookie (a forged form)
    ("abc", "abd"),          # not the same token
])
def test_a_post_without_a_matching_token_is_refused(site: Site, cookie: str | None,
                                                    field: str | None) -> None:
    """CSRF: without the same token in cookie and field the post is 403 and nothing is stored."""
    fields = {"first_name": "Ada", "last_name": "Lovelace"}
    if field is not None:
        fields["csrf_token"] = field
    answer = site.post(fields, cookie)
    assert answer.status == 403
    assert listed(site.get(b"/register")) == []


def test_the_token_of_a_form_is_kept_while_its_cookie_is(site: Site) -> None:
    """A page shown again reuses the browser's token, so two open tabs both work."""
    token = site.token()
    page = site.get(b"/register", [(b"Cookie", f"{CSRF_COOKIE}={token}".encode())])
    assert f'value="{token}"'.encode() in page.body


def test_a_form_that_is_not_urlencoded_is_refused(site: Site) -> None:
    token = site.token()
    answer = site.post({"first_name": "a", "last_name": "b", "csrf_token": token}, token,
                       content_type=b"text/plain")
    assert answer.status == 400


def test_a_huge_form_is_refused_unread(site: Site) -> None:
    token = site.token()
    answer = site.post({"first_name": "a" * 5000, "last_name": "b", "csrf_token": token}, token)
    assert answer.status == 413
    assert listed(site.get(b"/register")) == []


def test_the_body_is_read_by_content_length_only(tmp_path: Path) -> None:
    """PEP 3333: the app reads CONTENT_LENGTH bytes and never asks for more."""
    app = make_app(str(tmp_path))
    asked: list[int] = []

    class Input:
        def read(self, size: int = -1) -> bytes:
            asked.append(size)
            return b"first_name=a&last_name=b"[: max(size, 0)]

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/register", "CONTENT_LENGTH": "24",
        "CONTENT_TYPE": "application/x-www-form-urlencoded", "wsgi.input": Input(),
        "wsgi.url_scheme": "http",
    }
    app(environ, lambda status, headers: None)
    assert asked == [24]


@pytest.mark.parametrize(("method", "target", "allow"), [
    (b"POST", b"/time", b"GET, HEAD"),
    (b"DELETE", b"/register", b"GET, HEAD, POST"),
])
def test_other_methods_get_405_with_allow(site: Site, method: bytes, target: bytes,
                                          allow: bytes) -> None:
    answer = site.request(method, target, [(b"Content-Type", FORM)], b"a=b")
    assert answer.status == 405
    assert answer.header(b"allow") == allow


# -- everything else -----------------------------------------------------------------


def test_an_unknown_path_gets_the_site_404_page(site: Site) -> None:
    """The app's 404 is a page of the site, with the path escaped."""
    answer = site.get(b"/no/%3Cb%3Ehere")
    assert answer.status == 404
    assert b'href="/style.css"' in answer.body
    assert b"<code>/no/&lt;b&gt;here</code>" in answer.body


def test_head_gets_the_head_of_the_page(site: Site) -> None:
    answer = site.request(b"HEAD", b"/time")
    assert answer.status == 200 and answer.body == b""
    assert int(answer.header(b"content-length") or 0) > 0
