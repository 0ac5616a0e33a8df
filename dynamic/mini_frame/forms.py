"""The site's forms: their fields, their validation, and the CSRF token.

CSRF uses the double-submit cookie: the form page sets a random token in a
``SameSite=Strict`` cookie and repeats it in a hidden field; a post is taken
only when both are present and equal. Another site can make a browser post to
us but can neither read nor set our cookie, so it cannot supply a matching
field. Nothing is kept on the server, so it works across ``--workers``.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import NamedTuple

CSRF_COOKIE = "mini_frame_csrf"
SESSION_COOKIE = "mini_frame_session"
CSRF_FIELD = "csrf_token"

# (field name, label, longest value in characters). Names are short in real
# life; the limit keeps one post from filling the database.
NAME_LIMIT = 50
FIELDS = (
    ("first_name", "First name", NAME_LIMIT),
    ("last_name", "Last name", NAME_LIMIT),
)

FormErrors = dict[str, str]


class Person(NamedTuple):
    first_name: str
    last_name: str


def validate(form: dict[str, str]) -> tuple[Person | None, dict[str, str], FormErrors]:
    """The person a posted form describes, or None with an error per bad field.

    Also returns the cleaned values, to show the form again as it was sent.
    """
    values: dict[str, str] = {}
    errors: FormErrors = {}
    for name, label, limit in FIELDS:
        value = " ".join(form.get(name, "").split())
        values[name] = value
        if not value:
            errors[name] = f"{label} is required."
        elif len(value) > limit:
            errors[name] = f"{label} must be at most {limit} characters."
        elif not value.isprintable():
            errors[name] = f"{label} must not contain control characters."
    if errors:
        return None, values, errors
    return Person(values["first_name"], values["last_name"]), values, errors


# The login form. Names are shown on the page, so they are kept to plain
# characters; passwords are any text, long enough to be worth hashing.
USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,30}")
PASSWORD_MIN, PASSWORD_MAX = 8, 200
LOGIN_FIELDS = (("username", "User name"), ("password", "Password"))


def validate_credentials(form: dict[str, str], creating: bool) -> tuple[str, str, FormErrors]:
    """The user name and password of a login form, with an error per bad field.

    A new account's password must be 8 to 200 characters; logging in checks
    only that one was given, so the rules can change without locking anyone out.
    """
    username, password = form.get("username", "").strip(), form.get("password", "")
    errors: FormErrors = {}
    if not USERNAME.fullmatch(username):
        errors["username"] = ("User name must be 3 to 30 letters, digits, '.', '_' or '-'."
                              if creating or username else "User name is required.")
    if creating and not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        errors["password"] = f"Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters."
    elif not password:
        errors["password"] = "Password is required."
    return username, password, errors


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_matches(cookie: str | None, field: str | None) -> bool:
    """True when the cookie and the form field carry the same, well-formed token."""
    if not cookie or not field or len(cookie) > 100:
        return False
    # compare_digest: the time taken does not tell how much of a guess was right.
    return hmac.compare_digest(cookie.encode(), field.encode())


def token_cookie(token: str, secure: bool) -> tuple[str, str]:
    """The Set-Cookie header carrying the CSRF ``token`` for every form of the site."""
    flags = "; Secure" if secure else ""
    return ("Set-Cookie", f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{flags}")


def session_cookie(token: str | None, secure: bool) -> tuple[str, str]:
    """The Set-Cookie header starting a session, or (``token`` None) ending it.

    SameSite=Lax: the session follows a link from another site (a plain GET)
    but not a post from one.
    """
    flags = "; Secure" if secure else ""
    if token is None:
        return ("Set-Cookie", f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
    return ("Set-Cookie", f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{flags}")
