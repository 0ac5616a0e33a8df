"""The login page of the bundled site: accounts, scrypt hashes, sessions, CSRF."""

from __future__ import annotations

import re
import sqlite3

import pytest
from mini_frame.accounts import hash_password, password_matches

from twisted_http.testing import RecordedResponse

from .kit import Browser, Site

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")

ADA = {"username": "ada", "password": "analytical engine"}


def signed_in_as(page: bytes) -> str | None:
    match = re.search(rb'<strong id="user">(.*?)</strong>', page)
    return match.group(1).decode() if match else None


def errors(page: bytes) -> list[str]:
    return [e.decode() for e in re.findall(rb'<p class="error"[^>]*>(.*?)</p>', page)]


def create_with(browser: Browser, fields: dict[str, str]) -> RecordedResponse:
    return browser.submit(b"/login", b"/login", {**fields, "action": "create"})


def create(browser: Browser) -> int:
    return create_with(browser, ADA).status


def test_create_an_account_and_be_signed_in(site: Site) -> None:
    """Creating an account signs the browser in (303 back to /login) with a session cookie."""
    browser = Browser(site)
    assert signed_in_as(browser.get(b"/login").body) is None
    assert create(browser) == 303
    assert "mini_frame_session" in browser.cookies
    assert signed_in_as(browser.get(b"/login").body) == "ada"


def test_log_out_then_log_in_again(site: Site) -> None:
    browser = Browser(site)
    create(browser)
    assert browser.submit(b"/login", b"/logout", {}).status == 303
    assert "mini_frame_session" not in browser.cookies
    assert signed_in_as(browser.get(b"/login").body) is None
    answer = browser.submit(b"/login", b"/login", {**ADA, "action": "login"})
    assert answer.status == 303
    assert signed_in_as(browser.get(b"/login").body) == "ada"


def test_a_logged_out_session_token_is_dead(site: Site) -> None:
    """Logging out ends the session on the server, not only in the browser."""
    browser = Browser(site)
    create(browser)
    stolen = browser.cookies["mini_frame_session"]
    browser.submit(b"/login", b"/logout", {})
    thief = Browser(site)
    thief.cookies["mini_frame_session"] = stolen
    assert signed_in_as(thief.get(b"/login").body) is None


@pytest.mark.parametrize("fields", [
    {"username": "ada", "password": "wrong password"},
    {"username": "nobody", "password": "analytical engine"},
])
def test_a_wrong_name_or_password_gets_one_message(site: Site, fields: dict[str, str]) -> None:
    """A wrong password and an unknown name read the same: names are not disclosed."""
    create(Browser(site))
    browser = Browser(site)
    answer = browser.submit(b"/login", b"/login", {**fields, "action": "login"})
    assert answer.status == 400
    assert errors(answer.body) == ["Unknown user name or wrong password."]
    assert "mini_frame_session" not in browser.cookies


@pytest.mark.parametrize(("fields", "expected"), [
    ({"username": "", "password": ""},
     ["User name must be 3 to 30 letters, digits, '.', '_' or '-'.",
      "Password must be 8 to 200 characters."]),
    ({"username": "<b>x</b>", "password": "long enough"},
     ["User name must be 3 to 30 letters, digits, '.', '_' or '-'."]),
    ({"username": "ada", "password": "short"}, ["Password must be 8 to 200 characters."]),
])
def test_a_bad_new_account_is_refused_with_its_errors(site: Site, fields: dict[str, str],
                                                     expected: list[str]) -> None:
    answer = create_with(Browser(site), fields)
    assert answer.status == 400
    assert [e.replace("&#x27;", "'") for e in errors(answer.body)] == expected


def test_a_taken_name_is_refused(site: Site) -> None:
    create(Browser(site))
    answer = create_with(Browser(site), {"username": "ada", "password": "another one"})
    assert answer.status == 400
    assert errors(answer.body) == ["That user name is taken."]


def test_passwords_are_stored_only_as_scrypt_hashes(site: Site) -> None:
    """The database holds a salted scrypt hash, never the password; session tokens hashed too."""
    browser = Browser(site)
    create(browser)
    with sqlite3.connect(site.folder / "people.sqlite3") as db:
        [(stored,)] = db.execute("SELECT password FROM accounts").fetchall()
        [(token_hash,)] = db.execute("SELECT token_hash FROM sessions").fetchall()
    assert stored.startswith("scrypt$16384$8$1$")
    assert "analytical" not in stored
    assert password_matches("analytical engine", stored)
    assert not password_matches("analytical engine!", stored)
    assert token_hash != browser.cookies["mini_frame_session"]


def test_the_same_password_hashes_differently_per_salt() -> None:
    assert hash_password("same password") != hash_password("same password")


def test_login_posts_need_the_csrf_token(site: Site) -> None:
    """A post to /login or /logout without the form's token is 403 and changes nothing."""
    create(Browser(site))
    assert site.post({**ADA, "action": "login"}, target=b"/login").status == 403
    assert site.post({}, target=b"/logout").status == 403


def test_logout_takes_only_post(site: Site) -> None:
    answer = site.get(b"/logout")
    assert answer.status == 405
    assert answer.header(b"allow") == b"POST"
