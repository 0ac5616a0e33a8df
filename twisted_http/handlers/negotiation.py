"""Which of a handler's media types the client prefers, from its Accept field (RFC 9110 §12.5.1)."""

from __future__ import annotations

from collections.abc import Sequence


def preferred(accept: bytes | None, offered: Sequence[bytes]) -> bytes | None:
    """The first of ``offered`` with the highest quality ``accept`` gives it; None if
    the client accepts none of them. No Accept field accepts anything."""
    if accept is None:
        return offered[0] if offered else None
    ranges: list[tuple[bytes, float]] = []
    for item in accept.split(b","):
        media, *parameters = item.split(b";")
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition(b"=")
            if name.strip().lower() == b"q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        ranges.append((media.strip().lower(), quality))
    best, best_quality = None, 0.0
    for media_type in offered:
        quality = _quality(media_type, ranges)
        if quality > best_quality:
            best, best_quality = media_type, quality
    return best


def _quality(media_type: bytes, ranges: list[tuple[bytes, float]]) -> float:
    """The quality of the most specific range matching ``media_type``; 0 if none does."""
    kind = media_type.split(b"/")[0]
    found, specificity = 0.0, -1
    for media_range, quality in ranges:
        if media_range == media_type:
            rank = 2
        elif media_range == kind + b"/*":
            rank = 1
        elif media_range == b"*/*":
            rank = 0
        else:
            continue
        if rank > specificity:
            found, specificity = quality, rank
    return found
