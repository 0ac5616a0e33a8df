"""Byte ranges (RFC 9110 §14): parsing Range, choosing what to send, multipart framing.

``select`` turns a Range field and a length into a decision: ignore the field
and send the whole representation, send the listed ranges (206), or say none
can be satisfied (416). Abuse is answered with the whole representation, never
more: a request may not list more than ``max_ranges`` ranges, nor ranges that
overlap (RFC 9110 §14.3 lets a server ignore both; Apache's CVE-2011-3192 was
one request asking for the same bytes hundreds of times).
"""

from __future__ import annotations

import re
import secrets

import attrs

# Apache's MaxRanges is 200 and nginx has no cap; download managers and PDF
# viewers ask for a handful at a time. 32 leaves them room and bounds the work.
DEFAULT_MAX_RANGES = 32

_BYTES_UNIT = re.compile(rb"[ \t]*bytes[ \t]*=", re.IGNORECASE)
_RANGE_SPEC = re.compile(rb"(\d{0,19})-(\d{0,19})")


@attrs.frozen
class ByteRange:
    """``first`` to ``last`` inclusive, both within the representation."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, complete: int) -> bytes:
        return b"bytes %d-%d/%d" % (self.first, self.last, complete)


@attrs.frozen
class Selection:
    """What to send: ``ranges`` empty means the whole; ``unsatisfiable`` means 416."""

    ranges: tuple[ByteRange, ...] = ()
    unsatisfiable: bool = False


WHOLE = Selection()
UNSATISFIABLE = Selection(unsatisfiable=True)


def parse_range(value: bytes) -> list[tuple[int | None, int | None]] | None:
    """The range-specs of a ``bytes=`` Range value as (first, last) pairs, or None.

    A suffix range ``-N`` is ``(None, N)``; an open range ``N-`` is ``(N, None)``.
    None means the field is malformed or in another unit, so it is ignored
    (RFC 9110 §14.2: a server MAY ignore a Range it does not understand).
    """
    unit = _BYTES_UNIT.match(value)
    if unit is None:
        return None
    specs: list[tuple[int | None, int | None]] = []
    for member in value[unit.end():].split(b","):
        member = member.strip(b" \t")
        if not member:
            continue  # empty list members are allowed (RFC 9110 §5.6.1.2)
        match = _RANGE_SPEC.fullmatch(member)
        if match is None:
            return None
        first_text, last_text = match.groups()
        if not first_text and not last_text:
            return None
        first = int(first_text) if first_text else None
        last = int(last_text) if last_text else None
        if first is not None and last is not None and last < first:
            return None  # §14.1.1: an invalid range makes the whole field invalid
        specs.append((first, last))
    return specs or None


def select(value: bytes | None, length: int, max_ranges: int = DEFAULT_MAX_RANGES) -> Selection:
    """Decide how to answer a Range field for a representation of ``length`` bytes."""
    if value is None:
        return WHOLE
    specs = parse_range(value)
    if specs is None or len(specs) > max_ranges:
        return WHOLE
    ranges: list[ByteRange] = []
    for first, last in specs:
        if first is None:
            assert last is not None
            if last == 0:
                continue  # "-0" asks for nothing
            if length == 0:
                return WHOLE  # a suffix of nothing is the (empty) whole
            ranges.append(ByteRange(max(0, length - last), length - 1))
        elif first < length:
            end = length - 1 if last is None else min(last, length - 1)
            ranges.append(ByteRange(first, end))
    if not ranges:
        return UNSATISFIABLE
    ordered = sorted(ranges, key=lambda r: r.first)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.first <= before.last:
            return WHOLE  # overlapping ranges: the whole, once
    return Selection(tuple(ranges))


def unsatisfied_range(length: int) -> bytes:
    """The Content-Range of a 416 (RFC 9110 §14.4)."""
    return b"bytes */%d" % length


class Multipart:
    """The framing of a ``multipart/byteranges`` body (RFC 9110 §14.6).

    ``parts`` gives, per range, the bytes to send before that range's data;
    ``epilogue`` goes after the last. ``content_length`` is the exact total.
    """

    def __init__(self, ranges: tuple[ByteRange, ...], content_type: bytes, complete: int) -> None:
        self.boundary = secrets.token_hex(16).encode("ascii")
        self.content_type = b"multipart/byteranges; boundary=" + self.boundary
        self.parts: list[tuple[bytes, ByteRange]] = []
        for index, byte_range in enumerate(ranges):
            head = b"%s--%s\r\nContent-Type: %s\r\nContent-Range: %s\r\n\r\n" % (
                b"" if index == 0 else b"\r\n", self.boundary, content_type,
                byte_range.content_range(complete),
            )
            self.parts.append((head, byte_range))
        self.epilogue = b"\r\n--%s--\r\n" % self.boundary
        self.content_length = len(self.epilogue) + sum(
            len(head) + byte_range.length for head, byte_range in self.parts
        )
