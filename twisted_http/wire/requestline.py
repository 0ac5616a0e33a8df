"""The request line's parts and the Host field checked: method, target, version (RFC 9112 §3).

Pure functions over bytes, used by the parser: each returns what the parser
keeps or raises the ``ProtocolError`` whose status the RFCs call for.
"""

from __future__ import annotations

import re

from .errors import (
    BadRequest,
    MethodNotImplemented,
    ProtocolError,
    URITooLong,
    VersionNotSupported,
)
from .framing import HTTP_10, HTTP_11
from .headers import is_token

# HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3).
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")

# The longest method in the IANA method registry is UPDATEREDIRECTREF (17
# bytes); twice that leaves room for private ones. A longer method is one no
# handler implements: 501 (RFC 9110 §9.1), known from its first 33 bytes, not
# 414 after a whole request line's worth.
MAX_METHOD = 32

# request-target (RFC 9112 §3.2): visible ASCII only. '#' never belongs to a
# request, and controls, spaces and raw non-ASCII are refused rather than guessed at.
_TARGET_CHARS = re.compile(rb"[\x21\x22\x24-\x7e]+")
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_ABSOLUTE_FORM = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?]*)(.*)", re.DOTALL)
_AUTHORITY_FORM = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+):[0-9]+")

# Host (RFC 9110 §7.2): uri-host [ ":" port ]; an IP literal in brackets or a reg-name.
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?")


def check_method(method: bytes) -> None:
    """A method is a token (else 400) no longer than ``MAX_METHOD`` (else 501)."""
    if not is_token(method):
        raise BadRequest("Malformed method")
    if len(method) > MAX_METHOD:
        raise MethodNotImplemented("Method too long for any handler")


def request_line_too_long(line: bytes) -> ProtocolError:
    """The error for a request line over its limit; ``line`` is what has arrived of it.

    414 is for the target (RFC 9110 §15.5.15): when the method alone is what
    is too long, or not a token, its own error is due instead.
    """
    end = line.find(b" ")
    method = line[:end] if end >= 0 else line
    try:
        check_method(method)
    except ProtocolError as error:
        return error
    return URITooLong()


def check_version(version: bytes) -> bytes:
    """The version the request is processed as: HTTP/1.0 or HTTP/1.1.

    RFC 9112 §2.3 and RFC 9110 §6.2: a higher minor version of HTTP/1 is
    processed as the highest this server conforms to, 1.1, and answered so;
    another major version is 505.
    """
    if version == HTTP_11 or version == HTTP_10:
        return version
    if _VERSION.fullmatch(version) is None:
        raise BadRequest("Malformed HTTP version")
    if version.startswith(b"HTTP/1."):
        return HTTP_11
    raise VersionNotSupported()


def check_host(value: bytes, from_target: bool) -> None:
    """A Host field value is uri-host [":" port] (RFC 9110 §7.2), its host not empty.

    ``from_target``: the target is in absolute form and names the host itself.
    Otherwise the target URI is built from Host (RFC 9112 §3.3), and an http
    URI with an empty host is invalid and must be rejected (RFC 9110 §4.2.1).
    """
    if _HOST.fullmatch(value) is None:
        raise BadRequest("Malformed Host")
    if not from_target and (not value or value[0] == 0x3A):  # "" or ":port"
        raise BadRequest("Empty Host")


def split_target(method: bytes, target: bytes) -> tuple[bytes, bytes, bytes | None]:
    """Split a request-target into (path, query, authority) per RFC 9112 §3.2."""
    if _TARGET_CHARS.fullmatch(target) is None:
        raise BadRequest("Malformed request target")
    if b"%" in target and _BAD_PERCENT.search(target):
        raise BadRequest("Malformed percent-encoding in request target")
    if method == b"CONNECT":
        # RFC 9112 §3.2.3: CONNECT takes the authority-form and nothing else.
        if _AUTHORITY_FORM.fullmatch(target) is None:
            raise BadRequest("Malformed CONNECT target")
        raise MethodNotImplemented()  # a tunnel is not this server's job
    authority = None
    if target[0] != 0x2F:  # not origin-form
        if target == b"*":
            if method != b"OPTIONS":
                raise BadRequest("Asterisk target is only for OPTIONS")
            return b"*", b"", None
        match = _ABSOLUTE_FORM.fullmatch(target)
        if match is None or match.group(1).lower() not in (b"http", b"https"):
            raise BadRequest("Malformed request target")
        authority, target = match.group(2), match.group(3)
        if b"@" in authority or _HOST.fullmatch(authority) is None:
            # RFC 9110 §4.2.4: userinfo is deprecated and a phishing tool.
            raise BadRequest("Malformed authority in request target")
        if not authority.partition(b":")[0]:
            # RFC 9110 §4.2.1: an http(s) URI with an empty host MUST be rejected.
            raise BadRequest("Empty host in request target")
        if not target or target[0] == 0x3F:  # "" or "?query": path is "/"
            target = b"/" + target
    path, _, query = target.partition(b"?")
    return path, query, authority
