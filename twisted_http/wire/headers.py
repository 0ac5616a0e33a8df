"""Header fields: ordered (name, value) byte pairs, field syntax, and list parsing.

Request header names are stored lower-cased (field names are case-insensitive,
RFC 9110 §5.1), so lookups compare bytes directly. Response headers keep the
case the handler gave them. Values are stored with surrounding whitespace
removed (RFC 9110 §5.5) and otherwise exactly as received.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# RFC 9110 §5.6.2: token = 1*tchar
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# RFC 9110 §5.5: field-value is VCHAR, obs-text, SP and HTAB. Every other control
# byte is refused: CR, LF and NUL are how header injection and smuggling start,
# and the rest have no legitimate use.
_BAD_VALUE_BYTE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def is_token(name: bytes) -> bool:
    """True when ``name`` is an RFC 9110 token (field names, methods, codings)."""
    return TOKEN.fullmatch(name) is not None


# Field names already seen to be tokens, with their lower-case form: requests
# and responses carry the same few dozen names over and over. Bounded, so
# invented names cost a check each, never memory.
_TOKEN_NAMES: dict[bytes, bytes] = {}
MAX_TOKEN_NAMES = 512


def lowered_token(name: bytes) -> bytes | None:
    """``name`` lower-cased if it is a token (a valid field name), else None."""
    key = _TOKEN_NAMES.get(name)
    if key is None and is_token(name):
        key = name.lower()
        if len(_TOKEN_NAMES) < MAX_TOKEN_NAMES:
            _TOKEN_NAMES[name] = key
    return key


def is_field_value(value: bytes) -> bool:
    """True when ``value`` holds no control byte but HTAB."""
    return _BAD_VALUE_BYTE.search(value) is None


class Headers:
    """An ordered list of (name, value) pairs with case-insensitive lookup.

    Names given to the lookups must already be lower case; request headers are
    stored that way by the parser.
    """

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._pairs: list[tuple[bytes, bytes]] = list(pairs)

    def add(self, name: bytes, value: bytes) -> None:
        self._pairs.append((name, value))

    def get(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """The first value of ``name``, or ``default``."""
        for key, value in self._pairs:
            if key == name:
                return value
        return default

    def get_all(self, name: bytes) -> list[bytes]:
        """Every value of ``name``, in order."""
        return [value for key, value in self._pairs if key == name]

    def get_joined(self, name: bytes) -> bytes | None:
        """All values of ``name`` joined by ``b", "`` (RFC 9110 §5.3), or None."""
        values = self.get_all(name)
        return b", ".join(values) if values else None

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self._pairs)

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._pairs == other._pairs

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


def parse_list(values: Iterable[bytes]) -> list[bytes]:
    """Split comma-separated list fields into lower-cased members (RFC 9110 §5.6.1).

    Empty members are dropped, as the RFC requires of recipients.
    """
    members = []
    for value in values:
        for member in value.split(b","):
            member = member.strip(b" \t")
            if member:
                members.append(member.lower())
    return members
