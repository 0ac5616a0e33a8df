"""Response header fields as a handler gives them: checked, then serialized once.

Every field a handler sends is checked before it can reach the wire: the name
must be a token and the value free of control bytes (CR and LF above all, or
the handler's data could split the response), and the fields that decide
framing are the server's: Content-Length is read and kept consistent with the
body, ``Connection: close`` is honoured, and every other hop-by-hop field is
refused (RFC 9110 §7.6.1).

``HeaderBlock`` does that once for fields a handler sends again and again (a
static file's validators and type, an app's fixed headers); the response
then only joins the block's bytes into its head.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from .headers import is_field_value, lowered_token

# Hop-by-hop fields belong to the connection, which the server manages
# (RFC 9110 §7.6.1); a handler setting them would desynchronise framing.
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade",
     b"proxy-connection"}
)

# Names looked at twice: framing, the defaults the server adds, hop-by-hop fields.
_MANAGED = HOP_BY_HOP | {b"content-length", b"date", b"server"}

class Fields(NamedTuple):
    """Checked fields: their header lines, and what the response must know of them."""

    lines: bytes  # "Name: value\r\n" for each field that goes out as given
    length: int | None  # the Content-Length given, if any (and kept)
    close: bool  # "Connection: close" was given
    own_date: bool  # the handler gave its own Date
    own_server: bool  # ... and its own Server


def check_fields(
    headers: Iterable[tuple[bytes, bytes]], known: int | None = None, drop_length: bool = False
) -> Fields:
    """Check ``headers``; raises ValueError for any field that may not be sent.

    ``known`` is a body length the server writes itself (``send``): a
    Content-Length must then agree with it and is left out. ``drop_length``
    leaves Content-Length out too (a 204 never carries one, RFC 9110 §8.6).
    """
    lines = []
    length = None
    close = own_date = own_server = False
    for name, value in headers:
        key = lowered_token(name)
        if key is None or not is_field_value(value):
            raise ValueError(f"invalid response header {name!r}")
        if key in _MANAGED:
            if key == b"content-length":
                if not value.isdigit():
                    raise ValueError(f"invalid Content-Length {value!r}")
                if known is not None:
                    if int(value) != known:
                        raise ValueError(f"Content-Length {value!r} for {known} bytes")
                    continue  # the server writes the one Content-Length itself
                if drop_length:
                    continue
                length = int(value)
            elif key == b"date":
                own_date = True
            elif key == b"server":
                own_server = True
            elif key == b"connection" and value.lower() == b"close":
                close = True
                continue
            else:
                raise ValueError(f"{name!r} is a hop-by-hop header the server manages")
        lines.append(b"%s: %s\r\n" % (name, value))
    return Fields(b"".join(lines), length, close, own_date, own_server)


class HeaderBlock:
    """Response fields checked and serialized once, for ``Response.start`` and ``send``.

    Build it once (say, when a file is first served) and pass it wherever a
    list of ``(name, value)`` pairs goes; it is immutable, and iterating it
    gives the pairs back. Invalid fields raise ValueError here, at build time.
    """

    __slots__ = ("fields", "pairs")

    def __init__(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.pairs = tuple(headers)
        self.fields = check_fields(self.pairs)

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self.pairs)

    def __repr__(self) -> str:
        return f"HeaderBlock({list(self.pairs)!r})"


def fields_of(
    headers: Iterable[tuple[bytes, bytes]], known: int | None, drop_length: bool
) -> Fields:
    """The checked fields of pairs or a HeaderBlock, checked now only when they must be."""
    if type(headers) is HeaderBlock:
        fields = headers.fields
        if fields.length is None or (known is None and not drop_length):
            return fields
        headers = headers.pairs  # a length to compare or drop: rare, checked afresh
    return check_fields(headers, known, drop_length)

