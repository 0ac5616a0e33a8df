"""A test client for the bundled site's app, through minihttp's testing kit.

``Site`` runs the app inside a real minihttp server on fake transports
(``FakeConnection``, ``InlineThreadPool``), one connection per request, with
wsgiref's validator checking PEP 3333. ``Browser`` adds a cookie jar, as a
browser keeps one.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode
from wsgiref.validate import validator

from mini_frame import make_app
from mini_frame.forms import CSRF_COOKIE

from twisted_http import Router, WSGIHandler
from twisted_http.testing import (
    FakeConnection,
    InlineReactor,
    InlineThreadPool,
    RecordedResponse,
    parse_responses,
)

NOON = datetime(2026, 5, 17, 12, 30, 5, tzinfo=timezone(timedelta(hours=2)))
FORM = b"application/x-www-form-urlencoded"


class Site:
    """The app with its data in ``folder``, served on fakes; one connection per request."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.app = make_app(str(folder), now=lambda: NOON)

    def request(self, method: bytes, target: bytes,
                headers: list[tuple[bytes, bytes]] | None = None,
                body: bytes = b"") -> RecordedResponse:
        reactor = InlineReactor()
        handler = WSGIHandler(validator(self.app), thread_pool=InlineThreadPool(),  # type: ignore[arg-type]
                              reactor=reactor)
        connection = FakeConnection(Router([("/", handler)]), clock=reactor)
        connection.request(method, target, headers or [], body)
        [response] = parse_responses(connection.written, [method])
        return response

    def get(self, target: bytes, headers: list[tuple[bytes, bytes]] | None = None
            ) -> RecordedResponse:
        return self.request(b"GET", target, headers)

    def token(self) -> str:
        """A fresh form's CSRF token, which its cookie also carries."""
        page = self.get(b"/register")
        cookie = page.header(b"set-cookie") or b""
        match = re.match(rb"mini_frame_csrf=([^;]+);", cookie)
        assert match is not None, cookie
        field = re.search(rb'name="csrf_token" value="([^"]+)"', page.body)
        assert field is not None and field.group(1) == match.group(1)
        return match.group(1).decode()

    def post(self, fields: dict[str, str], cookie: str | None = None,
             content_type: bytes = FORM, target: bytes = b"/register") -> RecordedResponse:
        headers = [(b"Content-Type", content_type)]
        if cookie is not None:
            headers.append((b"Cookie", f"{CSRF_COOKIE}={cookie}".encode()))
        return self.request(b"POST", target, headers, urlencode(fields).encode())

    def register(self, first: str, last: str) -> RecordedResponse:
        token = self.token()
        return self.post({"first_name": first, "last_name": last, "csrf_token": token}, token)


class Browser:
    """The site seen by one browser: cookies kept and sent, forms sent with their token."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.cookies: dict[str, str] = {}

    def request(self, method: bytes, target: bytes, body: bytes = b"") -> RecordedResponse:
        headers = [(b"Content-Type", FORM)] if body else []
        if self.cookies:
            jar = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            headers.append((b"Cookie", jar.encode()))
        answer = self.site.request(method, target, headers, body)
        for cookie in answer.headers.get_all(b"set-cookie"):
            name, _, rest = cookie.decode().partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in rest:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return answer

    def get(self, target: bytes) -> RecordedResponse:
        return self.request(b"GET", target)

    def submit(self, page: bytes, action: bytes, fields: dict[str, str]) -> RecordedResponse:
        """Load ``page``, then post its form (with the page's token) to ``action``."""
        form = self.get(page)
        token = re.search(rb'name="csrf_token" value="([^"]+)"', form.body)
        assert token is not None
        body = urlencode({**fields, "csrf_token": token.group(1).decode()}).encode()
        return self.request(b"POST", action, body)
