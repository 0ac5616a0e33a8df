"""Precompressed variants: which ``.br``/``.gz`` siblings a file has, and which coding a
client prefers among them (RFC 9110 §12.5.3).
"""

from __future__ import annotations

import os
import stat

from ..wire.headers import parse_list
from .filecache import Identity, identity
from .paths import Found, is_within

# Precompressed siblings, best first: (Content-Encoding token, file suffix, ETag suffix).
ENCODINGS = ((b"br", ".br", b"br"), (b"gzip", ".gz", b"gz"))

# Accept-Encoding values remembered with what they chose. Browsers send a
# handful; a client inventing more only empties the memo now and then.
_REMEMBERED = 64

Sibling = tuple[bytes, str, bytes, bytes, os.stat_result]


def precompressed_siblings(
    root: str, file: Found, watched: dict[bytes, Identity], follow_symlinks: bool
) -> list[Sibling] | None:
    """(coding, real path, path, ETag suffix, stat) of ``file``'s precompressed siblings.

    Their folder is stat'ed first, into ``watched``: a sibling added or
    removed after that changes the folder, and so fails the entry's check.
    None when the folder is gone meanwhile: no siblings, and nothing to keep.
    """
    folder = os.path.dirname(file.real_path)
    try:
        watched.setdefault(os.fsencode(folder), identity(os.stat(folder)))
    except OSError:
        return None
    out = []
    for coding, suffix, tag in ENCODINGS:
        sibling = file.real_path + suffix
        try:
            real = os.path.realpath(sibling, strict=True)
            info = os.stat(real)
        except OSError:
            continue
        if (follow_symlinks or is_within(root, real)) and stat.S_ISREG(info.st_mode):
            out.append((coding, real, os.fsencode(sibling), tag, info))
    return out


class Negotiation:
    """``negotiate``, remembered per Accept-Encoding value and set of codings."""

    def __init__(self) -> None:
        self._chosen: dict[tuple[bytes, tuple[bytes, ...]], bytes] = {}

    def __call__(self, accept_encoding: bytes, codings: tuple[bytes, ...]) -> bytes:
        key = (accept_encoding, codings)
        chosen = self._chosen.get(key)
        if chosen is None:
            if len(self._chosen) >= _REMEMBERED:
                self._chosen.clear()
            chosen = self._chosen[key] = negotiate(accept_encoding, list(codings))
        return chosen


def negotiate(accept_encoding: bytes | None, available: list[bytes]) -> bytes:
    """The best of ``available`` codings for an Accept-Encoding value; b"" for identity.

    RFC 9110 §12.5.3: q-values rank codings, ``q=0`` refuses one, ``*`` stands
    for codings not named, identity is acceptable unless refused. On a tie the
    smaller encoding (listed first) wins over the next, and any over identity.
    Identity outranks an encoding only when the client gave it a higher q.
    No Accept-Encoding at all gets identity, as nginx does.
    """
    if not available or accept_encoding is None:
        return b""
    qualities: dict[bytes, float] = {}
    for member in parse_list([accept_encoding]):
        name, *params = (part.strip(b" \t") for part in member.split(b";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition(b"=")
            if key.strip(b" \t") == b"q":
                try:
                    quality = float(value.strip(b" \t"))
                except ValueError:
                    quality = -1.0
                if not 0.0 <= quality <= 1.0:
                    quality = -1.0  # malformed: the member is ignored
        if quality >= 0:
            qualities[b"gzip" if name == b"x-gzip" else name] = quality
    star = qualities.get(b"*")
    # Identity competes only when the client ranked it: an encoding the client
    # accepts is otherwise preferred, as by nginx.
    best, best_quality = b"", qualities.get(b"identity", 0.0)
    for coding in reversed(available):  # reversed, so the first listed wins ties
        quality = qualities.get(coding, star if star is not None else 0.0)
        if quality > 0 and quality >= best_quality:
            best, best_quality = coding, quality
    return best
