"""The small part of HTTP the app needs: the request it reads and the response it returns.

``Request`` wraps the WSGI environ (PEP 3333): the path, the method, cookies,
the Accept header, and a form body read by ``CONTENT_LENGTH``, never past it.
``Response`` is a status, headers and one body, handed to ``start_response``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import attrs

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

# A registration form is two short names and a token: anything much bigger is
# not our form, and is refused before it is read (413) rather than buffered.
MAX_FORM_BYTES = 4096
# The fields our forms have, with room to spare; parse_qs stops at this many.
MAX_FORM_FIELDS = 10


class FormTooLarge(Exception):
    """The request body is larger than any form of ours."""


class BadForm(Exception):
    """The request body is not a form we can read."""


@attrs.frozen
class Request:
    """What a handler reads of one request."""

    environ: Environ

    @property
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET"))

    @property
    def path(self) -> str:
        return str(self.environ.get("PATH_INFO", "") or "/")

    def header(self, name: str) -> str:
        """A request header's value ('' when absent); ``name`` as in CGI (``ACCEPT``)."""
        return str(self.environ.get("HTTP_" + name.upper().replace("-", "_"), ""))

    def cookie(self, name: str) -> str | None:
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(self.header("cookie"))
        except CookieError:
            return None
        morsel = cookies.get(name)
        return morsel.value if morsel is not None else None

    def form(self) -> dict[str, str]:
        """The urlencoded body as one value per field (the first one given).

        The body is read by CONTENT_LENGTH (PEP 3333: reading past it may block
        or read the next request's bytes); no length means no body.
        """
        content_type = self.environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise BadForm("the form must be sent as application/x-www-form-urlencoded")
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BadForm("Content-Length is not a number") from None
        if length > MAX_FORM_BYTES:
            raise FormTooLarge()
        body = self.environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            text = body.decode("utf-8")
            fields = parse_qs(text, keep_blank_values=True, strict_parsing=False,
                              max_num_fields=MAX_FORM_FIELDS, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise BadForm("the form is not valid UTF-8 urlencoded text") from None
        return {name: values[0] for name, values in fields.items()}

    def prefers_json(self) -> bool:
        """True when the Accept header ranks application/json above text/html."""
        ranks = _accept_ranks(self.header("accept"))

        def rank(media: str) -> float:
            main = media.split("/")[0] + "/*"
            for key in (media, main, "*/*"):
                if key in ranks:
                    return ranks[key]
            return 0.0

        return rank("application/json") > rank("text/html")


def _accept_ranks(accept: str) -> dict[str, float]:
    """Media ranges of an Accept header with their q values (RFC 9110 §12.5.1)."""
    ranks: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranks[media.lower()] = max(quality, ranks.get(media.lower(), 0.0))
    return ranks


# Every page: no framing by other sites, no MIME sniffing, and no script at all
# (the site has none), so an escaping mistake could not run one either.
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'self'; script-src 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
]


@attrs.frozen
class Response:
    """One answer: status, headers and body."""

    status: HTTPStatus
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    def __call__(self, start_response: StartResponse) -> Iterable[bytes]:
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            ("Cache-Control", "no-store"),
            *SECURITY_HEADERS,
            *self.headers,
        ]
        start_response(f"{self.status.value} {self.status.phrase}", headers)
        return [self.body]


def redirect(location: str, status: HTTPStatus = HTTPStatus.SEE_OTHER,
             extra: tuple[tuple[str, str], ...] = ()) -> Response:
    """A redirect with no body; ``location`` is a path of this site."""
    return Response(status, headers=(("Location", location), *extra), content_type="text/plain")
