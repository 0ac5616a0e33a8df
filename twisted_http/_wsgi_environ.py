"""The PEP 3333 boundary: the environ from a request; the app's status and headers, checked.

Bytes become ``str`` here and nowhere else, as latin-1 (PEP 3333 "native
strings"): SCRIPT_NAME and PATH_INFO from the percent-decoded path, the rest
as received.
"""

from __future__ import annotations

from typing import Any

from ._fields import HOP_BY_HOP
from ._headers import is_field_value, is_token
from ._request import Request

# Carried in CONTENT_TYPE and CONTENT_LENGTH instead (PEP 3333, CGI).
_NOT_HTTP = frozenset({b"content-type", b"content-length"})


def make_environ(
    request: Request, wsgi_input: Any, errors: Any, file_wrapper: Any
) -> dict[str, Any]:
    """The environ for one request."""
    connection = request.connection
    host, _, host_port = _split_host(request.host)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method.decode("latin-1"),
        "SCRIPT_NAME": request.script_name.decode("latin-1"),
        "PATH_INFO": request.path_info.decode("latin-1"),
        "QUERY_STRING": request.query.decode("latin-1"),
        "SERVER_NAME": host or connection.server_host or "localhost",
        "SERVER_PORT": str(
            connection.server_port or host_port or ("443" if connection.secure else "80")
        ),
        "SERVER_PROTOCOL": request.version.decode("latin-1"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if connection.secure else "http",
        "wsgi.input": wsgi_input,
        "wsgi.errors": errors,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,  # reading to the end is safe: the server ends the body
        "wsgi.file_wrapper": file_wrapper,
    }
    if connection.client_host is not None:
        environ["REMOTE_ADDR"] = connection.client_host
    if connection.client_port is not None:
        environ["REMOTE_PORT"] = str(connection.client_port)
    headers = request.headers
    content_type = headers.get(b"content-type")
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type.decode("latin-1")
    if b"content-length" in headers and request.body.length is not None:
        environ["CONTENT_LENGTH"] = str(request.body.length)
    seen = set()
    for name, _ in headers:
        if name in seen or name in _NOT_HTTP:
            continue
        seen.add(name)
        # "X-Auth_User" and "X-Auth-User" would both become HTTP_X_AUTH_USER:
        # a proxy that strips one spelling can be bypassed with the other.
        if b"_" in name:
            continue
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        if key == "HTTP_PROXY":
            continue  # httpoxy: CGI-style code reads HTTP_PROXY as its outgoing proxy
        if name == b"cookie":
            # RFC 9113 §8.2.3: several cookie fields are joined with "; ", since
            # a comma may appear inside a cookie value.
            value = b"; ".join(headers.get_all(name))
        else:
            value = headers.get_joined(name) or b""
        environ[key] = value.decode("latin-1")
    return environ


def _split_host(host: bytes) -> tuple[str, str, str]:
    text = host.decode("latin-1")
    if text.startswith("["):
        end = text.find("]")
        return text[: end + 1], ":", text[end + 2 :]
    return text.partition(":")


def response_head(
    status: str, headers: list[tuple[str, str]]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The app's status and headers as bytes, checked; ValueError or TypeError if wrong.

    Checked when ``start_response`` is called, so the error is raised in the
    app (PEP 3333) and, uncaught, becomes a 500 with the traceback logged.
    CR, LF and NUL never reach the wire: no response splitting.
    """
    if not isinstance(status, str):
        raise TypeError(f"status must be a str, not {type(status).__name__}")
    code, space, reason = status.partition(" ")
    if not space or len(code) != 3 or not code.isdigit() or not 200 <= int(code) <= 999:
        raise ValueError(f"invalid status {status!r}: a final status such as '200 OK' is needed")
    reason_bytes = _latin1(reason, "status")
    if not is_field_value(reason_bytes):
        raise ValueError(f"invalid status {status!r}")
    if not isinstance(headers, list):
        raise TypeError(f"headers must be a list, not {type(headers).__name__}")
    out = []
    for pair in headers:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"a header must be a (name, value) tuple, not {pair!r}")
        name, value = _latin1(pair[0], "header name"), _latin1(pair[1], "header value")
        if not is_token(name) or not is_field_value(value):
            raise ValueError(f"invalid response header {pair!r}")
        key = name.lower()
        if key in HOP_BY_HOP and not (key == b"connection" and value.lower() == b"close"):
            # PEP 3333: hop-by-hop fields are the server's; "Connection: close"
            # alone is honoured, by closing after this response.
            raise ValueError(f"{pair[0]!r} is a hop-by-hop header the server manages")
        if key == b"content-length" and not value.isdigit():
            raise ValueError(f"invalid Content-Length {pair[1]!r}")
        out.append((name, value))
    return int(code), out, reason_bytes


def _latin1(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{what} {text!r} is not latin-1 (PEP 3333)") from None
