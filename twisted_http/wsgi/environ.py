"""The PEP 3333 boundary: the environ from a request; the app's status and headers, checked.

Bytes become ``str`` here and nowhere else, as latin-1 (PEP 3333 "native
strings"): SCRIPT_NAME and PATH_INFO from the percent-decoded path, the rest
as received.

Both directions run once per request, so what repeats from request to request
(methods, header names and their ``HTTP_`` keys, Host values, an app's status
lines and header lists) is worked out once and remembered, in small bounded
memos that start over when full.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from ..channel.request import Request
from ..wire.fields import HeaderBlock
from ..wire.headers import is_field_value

Head = tuple[int, Iterable[tuple[bytes, bytes]], bytes]

# The keys every environ has, whatever the request.
_CONSTANT: dict[str, Any] = {
    "wsgi.version": (1, 0),
    "wsgi.multithread": True,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "wsgi.input_terminated": True,  # reading to the end is safe: the server ends the body
}

# Carried in CONTENT_TYPE and CONTENT_LENGTH instead (PEP 3333, CGI).
_CONTENT_TYPE, _CONTENT_LENGTH = b"content-type", b"content-length"

# Enough for every name, method, host and head a server sees again and again;
# a client sending endless new ones only makes a memo start over.
_MEMO_SIZE = 512

_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(memo: dict[_K, _V], key: _K, value: _V) -> _V:
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = value
    return value


_TEXTS: dict[bytes, str] = {}  # methods and versions
_HTTP_KEYS: dict[bytes, str | None] = {}  # header name -> HTTP_ key, None if left out
_HOSTS: dict[bytes, tuple[str, str, str]] = {}  # Host value -> (name part, port part, all)


def make_environ(
    request: Request, wsgi_input: Any, errors: Any, file_wrapper: Any
) -> dict[str, Any]:
    """The environ for one request."""
    connection = request.connection
    method, version, secure = request.method, request.version, connection.secure
    host = _HOSTS.get(request.host) or _remember(_HOSTS, request.host, _split_host(request.host))
    environ = {
        **_CONSTANT,
        "REQUEST_METHOD": _TEXTS.get(method) or _remember(
            _TEXTS, method, method.decode("latin-1")),
        "SCRIPT_NAME": request.script_name.decode("latin-1"),
        "PATH_INFO": request.path_info.decode("latin-1"),
        "QUERY_STRING": request.query.decode("latin-1"),
        "SERVER_NAME": host[0] or connection.server_host or "localhost",
        "SERVER_PORT": str(connection.server_port or host[1] or ("443" if secure else "80")),
        "SERVER_PROTOCOL": _TEXTS.get(version) or _remember(
            _TEXTS, version, version.decode("latin-1")),
        "wsgi.url_scheme": "https" if secure else "http",
        "wsgi.input": wsgi_input,
        "wsgi.errors": errors,
        "wsgi.file_wrapper": file_wrapper,
    }
    if connection.client_host is not None:
        environ["REMOTE_ADDR"] = connection.client_host
    if connection.client_port is not None:
        environ["REMOTE_PORT"] = str(connection.client_port)
    for name, value in request.headers:
        key = _HTTP_KEYS.get(name, "")
        if key == "":
            key = _remember(_HTTP_KEYS, name, _http_key(name))
        if key is None:
            if name == _CONTENT_TYPE:
                environ.setdefault("CONTENT_TYPE", value.decode("latin-1"))
            elif name == _CONTENT_LENGTH and request.body.length is not None:
                environ["CONTENT_LENGTH"] = str(request.body.length)
            continue
        text = value.decode("latin-1")
        joined = environ.get(key)
        if joined is not None:
            # Repeated fields are one list (RFC 9110 §5.3); several cookie
            # fields are joined with "; ", since a comma may be inside a cookie
            # (RFC 9113 §8.2.3).
            text = joined + ("; " if key == "HTTP_COOKIE" else ", ") + text
        environ[key] = text
    if request.host:
        # The request's host, not the Host field's: they differ for an
        # absolute-form target (whose authority wins, RFC 9112 §3.2.2) and when
        # a trusted proxy said which host the client asked for.
        environ["HTTP_HOST"] = host[2]
    return environ


def _http_key(name: bytes) -> str | None:
    """The environ key for a header field name, or None if it has none of the HTTP_ kind."""
    if name in (_CONTENT_TYPE, _CONTENT_LENGTH):
        return None  # CONTENT_TYPE and CONTENT_LENGTH instead (PEP 3333, CGI)
    if b"_" in name:
        # "X-Auth_User" and "X-Auth-User" would both become HTTP_X_AUTH_USER:
        # a proxy that strips one spelling can be bypassed with the other.
        return None
    key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
    if key == "HTTP_PROXY":
        return None  # httpoxy: CGI-style code reads HTTP_PROXY as its outgoing proxy
    return key


def _split_host(host: bytes) -> tuple[str, str, str]:
    text = host.decode("latin-1")
    if text.startswith("["):
        end = text.find("]")
        return text[: end + 1], text[end + 2 :], text
    name, _, port = text.partition(":")
    return name, port, text


_STATUSES: dict[str, tuple[int, bytes]] = {}  # "200 OK" -> (200, b"OK")
_BLOCKS: dict[tuple[Any, ...], HeaderBlock] = {}  # an app's header list, checked


def response_head(status: str, headers: list[tuple[str, str]]) -> Head:
    """The app's status and headers as bytes, checked; ValueError or TypeError if wrong.

    Checked when ``start_response`` is called, so the error is raised in the
    app (PEP 3333) and, uncaught, becomes a 500 with the traceback logged.
    CR, LF and NUL never reach the wire: no response splitting. The headers
    come back as a ``HeaderBlock``, so the response does not check them again.
    """
    known = _STATUSES.get(status) if type(status) is str else None
    if known is None:
        known = _remember(_STATUSES, status, _check_status(status))
    if not isinstance(headers, list):
        raise TypeError(f"headers must be a list, not {type(headers).__name__}")
    try:
        key: tuple[Any, ...] | None = tuple(headers)
        block = _BLOCKS.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable pair: checked, and refused, below
        key, block = None, None
    if block is None:
        block = _check_headers(headers)
        if key is not None and all(type(pair) is tuple for pair in headers):
            _remember(_BLOCKS, key, block)
    return known[0], block, known[1]


def _check_status(status: object) -> tuple[int, bytes]:
    if not isinstance(status, str):
        raise TypeError(f"status must be a str, not {type(status).__name__}")
    code, space, reason = status.partition(" ")
    if not space or len(code) != 3 or not code.isdigit() or not 200 <= int(code) <= 999:
        raise ValueError(f"invalid status {status!r}: a final status such as '200 OK' is needed")
    reason_bytes = _latin1(reason, "status")
    if not is_field_value(reason_bytes):
        raise ValueError(f"invalid status {status!r}")
    return int(code), reason_bytes


def _check_headers(headers: list[tuple[str, str]]) -> HeaderBlock:
    """The headers as bytes, checked as the response checks them (``HeaderBlock``).

    Hop-by-hop fields are the server's (PEP 3333): ``Connection: close`` alone
    is honoured, by closing after this response; Content-Length must be digits.
    """
    pairs = []
    for pair in headers:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"a header must be a (name, value) tuple, not {pair!r}")
        pairs.append((_latin1(pair[0], "header name"), _latin1(pair[1], "header value")))
    return HeaderBlock(pairs)


def _latin1(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{what} {text!r} is not latin-1 (PEP 3333)") from None
