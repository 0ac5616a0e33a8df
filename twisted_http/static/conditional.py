"""Validators and conditional requests (RFC 9110 §8.8 and §13): ETags, dates, preconditions.

``evaluate`` applies the precondition fields in the order of RFC 9110 §13.2.2
and says what to send instead of the normal response: 412, 304, or nothing.
``if_range_holds`` decides whether a Range request's ``If-Range`` still matches
(§13.1.5). Nothing here touches files or responses: the inputs are the
request's headers and the representation's ETag and modification time.
"""

from __future__ import annotations

import calendar
import datetime
import enum
import re
import time
from email.utils import formatdate

from ..wire.headers import Headers

# -- entity tags (RFC 9110 §8.8.3) ------------------------------------------

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text.
# A comma may sit inside the quotes, so lists are scanned, never split on ",".
_ETAG = re.compile(rb'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)')
_EMPTY_MEMBER = re.compile(rb"[ \t]*,")


def make_etag(mtime_ns: int, size: int, suffix: bytes = b"") -> bytes:
    """A strong ETag from the modification time (ns) and size, as nginx makes one.

    ``suffix`` tells representations of one resource apart (``b"br"``, ``b"gz"``).
    """
    tag = b"%x-%x" % (mtime_ns, size)
    if suffix:
        tag += b"-" + suffix
    return b'"' + tag + b'"'


def parse_etags(value: bytes) -> tuple[bool, list[tuple[bool, bytes]]] | None:
    """``(is_star, [(weak, opaque-tag), ...])`` for an If-Match/If-None-Match value.

    None when the value is not a valid list: callers treat that as matching
    nothing, which makes a garbled If-Match fail safe (412) and a garbled
    If-None-Match harmless (the full response).
    """
    value = value.strip(b" \t")
    if value == b"*":
        return True, []
    tags: list[tuple[bool, bytes]] = []
    position = 0
    while position < len(value):
        empty = _EMPTY_MEMBER.match(value, position)
        if empty:  # empty list members are allowed (RFC 9110 §5.6.1.2)
            position = empty.end()
            continue
        match = _ETAG.match(value, position)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return False, tags


def _matches(header: bytes, etag: bytes, strong: bool) -> bool:
    parsed = parse_etags(header)
    if parsed is None:
        return False
    star, tags = parsed
    if star:
        return True  # the representation exists: we are serving it
    for weak, tag in tags:
        if tag == etag and not (strong and weak):
            return True
    return False


# -- HTTP-date (RFC 9110 §5.6.7) ---------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
     b"Dec"), start=1)}
_DAY = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = rb"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = rb"(\d\d):(\d\d):(\d\d)"
# IMF-fixdate, then the two obsolete forms a recipient must still accept.
_IMF = re.compile(_DAY + rb", (\d\d) " + _MONTH + rb" (\d{4}) " + _TIME + rb" GMT")
_RFC850 = re.compile(_LONG_DAY + rb", (\d\d)-" + _MONTH + rb"-(\d\d) " + _TIME + rb" GMT")
_ASCTIME = re.compile(_DAY + rb" " + _MONTH + rb" ([ \d]\d) " + _TIME + rb" (\d{4})")


def parse_http_date(value: bytes, now: float | None = None) -> int | None:
    """Seconds since the epoch for an HTTP-date in any of its three forms, else None.

    ``now`` (the wall clock when None) places an RFC 850 date's two-digit year.
    """
    value = value.strip(b" \t")
    try:
        if match := _IMF.fullmatch(value):
            day, month, year, hh, mm, ss = match.groups()
            full_year = int(year)
        elif match := _RFC850.fullmatch(value):
            day, month, year, hh, mm, ss = match.groups()
            # RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past.
            this_year = time.gmtime(time.time() if now is None else now).tm_year
            full_year = this_year - this_year % 100 + int(year)
            if full_year > this_year + 50:
                full_year -= 100
        elif match := _ASCTIME.fullmatch(value):
            month, day, hh, mm, ss, year = match.groups()
            full_year = int(year)
        else:
            return None
        fields = (full_year, _MONTHS[month], int(day), int(hh), int(mm), int(ss))
        # datetime refuses impossible dates (30 Feb) and times; a leap second is
        # allowed by the grammar and counted as :59.
        datetime.datetime(*fields[:5], min(fields[5], 59))
        return calendar.timegm((*fields, 0, 0, 0))
    except (ValueError, OverflowError):
        return None


# The last second an IMF-fixdate can write (9999-12-31T23:59:59Z).
_LAST_DATE = 253402300799


def http_date(seconds: float) -> bytes:
    """An IMF-fixdate for ``seconds`` since the epoch (whole seconds).

    A file stamped past year 9999 (touch can do it) is written as the last
    representable second rather than failing the response.
    """
    return formatdate(min(int(seconds), _LAST_DATE), usegmt=True).encode("ascii")


# -- preconditions (RFC 9110 §13.2.2) ----------------------------------------


class Outcome(enum.Enum):
    """What the preconditions say to do."""

    PROCEED = "proceed"  # send the normal response
    NOT_MODIFIED = "304"
    FAILED = "412"


def evaluate(headers: Headers, method: bytes, etag: bytes | None,
             last_modified: int | None, now: float | None = None) -> Outcome:
    """The preconditions of a GET or HEAD, in RFC 9110 §13.2.2 order.

    ``last_modified`` is whole seconds since the epoch, or None when the
    representation has no modification date (the date fields are then ignored).
    ``now`` is the server's clock (the wall clock when None), which an
    If-Modified-Since date must not be later than.
    """
    if_match = headers.get_joined(b"if-match")
    if if_match is not None:
        # Step 1: strong comparison; no ETag at all means nothing can match.
        if etag is None or not _matches(if_match, etag, strong=True):
            return Outcome.FAILED
    else:
        # Step 2: only without If-Match.
        since = _single_date(headers, b"if-unmodified-since")
        if since is not None and last_modified is not None and last_modified > since:
            return Outcome.FAILED
    if_none_match = headers.get_joined(b"if-none-match")
    if if_none_match is not None:
        # Step 3: weak comparison. A match on GET/HEAD is 304 (412 for other methods).
        if etag is not None and _matches(if_none_match, etag, strong=False):
            return Outcome.NOT_MODIFIED if method in (b"GET", b"HEAD") else Outcome.FAILED
    elif method in (b"GET", b"HEAD"):
        # Step 4: only without If-None-Match, which is the more precise of the two.
        since = _single_date(headers, b"if-modified-since")
        if since is not None and last_modified is not None and last_modified <= since:
            # RFC 9110 §13.1.3: a date later than the server's current time is
            # invalid, and the field is then ignored. A client that echoes a
            # date of its own clock, ahead of ours, must not freeze its copy.
            if since <= (time.time() if now is None else now):
                return Outcome.NOT_MODIFIED
    return Outcome.PROCEED


def if_range_holds(headers: Headers, etag: bytes | None, last_modified: int | None) -> bool:
    """Whether a Range may be honoured under If-Range (RFC 9110 §13.1.5); True without one.

    An entity tag must match strongly (a weak tag never does); a date must equal
    the Last-Modified exactly. Anything else, garbled values included, is
    false: the client then gets the whole, current representation.
    """
    values = headers.get_all(b"if-range")
    if not values:
        return True
    if len(values) > 1:
        return False
    value = values[0].strip(b" \t")
    if value.startswith(b'"') or value.startswith(b"W/"):
        return etag is not None and value == etag  # "W/..." never equals a strong tag
    date = parse_http_date(value)
    return date is not None and last_modified is not None and date == last_modified


def _single_date(headers: Headers, name: bytes) -> int | None:
    """The date of a date field, or None when absent, repeated or not an HTTP-date.

    RFC 9110 §13.1.3/§13.1.4: such a field is ignored.
    """
    values = headers.get_all(name)
    if len(values) != 1:
        return None
    return parse_http_date(values[0])
