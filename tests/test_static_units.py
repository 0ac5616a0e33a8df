"""The static handler's pure parts on their own: paths, ranges, dates, ETags, types, codings."""

from __future__ import annotations

import calendar
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_http import StaticFiles
from twisted_http.static.conditional import (
    Outcome,
    evaluate,
    http_date,
    if_range_holds,
    make_etag,
    parse_etags,
    parse_http_date,
)
from twisted_http.static.encodings import negotiate as _negotiate
from twisted_http.static.mimetypes import ContentTypes
from twisted_http.static.paths import BadPath, split_path
from twisted_http.static.ranges import ByteRange, Multipart, parse_range, select
from twisted_http.wire.headers import Headers

# -- paths -----------------------------------------------------------------------


@given(st.binary(max_size=64))
def test_split_path_gives_safe_segments_or_refuses(path: bytes) -> None:
    """Any bytes: either BadPath, or segments that cannot climb, hide a separator or be absolute."""
    try:
        segments = split_path(path)
    except BadPath:
        return
    for segment in segments:
        assert segment and segment not in (".", "..")
        assert "/" not in segment and "\\" not in segment and "\x00" not in segment
        assert os.path.join("/root", segment).startswith("/root/")


@given(st.lists(st.sampled_from(["a", "..", ".", "b%", "é", ""]), max_size=6))
def test_split_path_refuses_every_dot_segment(parts: list[str]) -> None:
    """A path with a "." or ".." segment anywhere is refused; others keep their order."""
    path = "/".join(parts).encode()
    if any(part in (".", "..") for part in parts):
        with pytest.raises(BadPath):
            split_path(path)
    else:
        assert split_path(path) == [part for part in parts if part]


# -- ranges ----------------------------------------------------------------------


def test_parse_range_forms() -> None:
    """bytes= with int, open and suffix ranges; whitespace and empty members allowed."""
    assert parse_range(b"bytes=0-1, 5-, -3,") == [(0, 1), (5, None), (None, 3)]
    assert parse_range(b"Bytes = 0-0") == [(0, 0)]
    for bad in (b"bytes=1-0", b"bytes=", b"bytes=,", b"bits=0-1", b"bytes=a-b", b"bytes=-",
                b"bytes=0-1;x", b"bytes=+1-2"):
        assert parse_range(bad) is None, bad


@given(st.integers(0, 10_000), st.lists(
    st.tuples(st.one_of(st.none(), st.integers(0, 12_000)),
              st.one_of(st.none(), st.integers(0, 12_000))), min_size=1, max_size=8))
def test_selected_ranges_lie_within_and_never_overlap(
        length: int, specs: list[tuple[int | None, int | None]]) -> None:
    """Whatever is asked, a 206 selection lies inside the file and never repeats a byte."""
    text = b"bytes=" + b",".join(
        (b"" if a is None else b"%d" % a) + b"-" + (b"" if b is None else b"%d" % b)
        for a, b in specs
    )
    selection = select(text, length)
    covered = 0
    for byte_range in selection.ranges:
        assert 0 <= byte_range.first <= byte_range.last < length
        covered += byte_range.length
    assert covered <= length
    if selection.unsatisfiable:
        assert not selection.ranges


def test_select_edges() -> None:
    """Suffix larger than the file, the last byte, zero-length files, and the caps."""
    assert select(b"bytes=-50", 10).ranges == (ByteRange(0, 9),)
    assert select(b"bytes=9-", 10).ranges == (ByteRange(9, 9),)
    assert select(b"bytes=10-", 10).unsatisfiable
    assert select(b"bytes=-0", 10).unsatisfiable
    assert select(b"bytes=0-", 0).unsatisfiable
    assert select(b"bytes=-5", 0).ranges == ()  # a suffix of nothing: the (empty) whole
    assert select(b"bytes=0-0,2-2,4-4", 10, max_ranges=2).ranges == ()
    assert select(b"bytes=0-4,4-6", 10).ranges == ()  # byte 4 twice
    assert select(b"bytes=0-3,4-6", 10).ranges == (ByteRange(0, 3), ByteRange(4, 6))
    assert select(None, 10).ranges == ()


@given(st.lists(st.tuples(st.integers(0, 999), st.integers(0, 999)), min_size=2, max_size=5))
def test_multipart_length_is_exact(pairs: list[tuple[int, int]]) -> None:
    """The declared Content-Length of a multipart body is the length of what is built."""
    ranges = tuple(ByteRange(min(a, b), max(a, b)) for a, b in pairs)
    multipart = Multipart(ranges, b"text/plain", 1000)
    built = b"".join(head + b"x" * part.length for head, part in multipart.parts)
    assert len(built + multipart.epilogue) == multipart.content_length


# -- dates and ETags ----------------------------------------------------------------


def test_http_dates_in_all_three_forms() -> None:
    """IMF-fixdate, RFC 850 and asctime parse to the same instant; junk does not parse."""
    instant = calendar.timegm((1994, 11, 6, 8, 49, 37))
    assert parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT") == instant
    assert parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT") == instant
    assert parse_http_date(b"Sun Nov  6 08:49:37 1994") == instant
    assert parse_http_date(http_date(instant)) == instant
    for junk in (b"", b"yesterday", b"Sun, 06 Nov 1994 08:49:37 UTC",
                 b"Sun, 32 Nov 1994 08:49:37 GMT", b"Sun, 06 Foo 1994 08:49:37 GMT",
                 b"Sun, 06 Nov 1994 25:49:37 GMT", b"Sun, 30 Feb 1994 08:49:37 GMT"):
        assert parse_http_date(junk) is None, junk


@pytest.mark.parametrize(
    ("two_digits", "year"),
    [(b"26", 2026), (b"69", 2069), (b"75", 2075), (b"76", 2076), (b"77", 1977), (b"94", 1994),
     (b"00", 2000)],
)
def test_rfc850_years_more_than_50_years_ahead_are_in_the_past(two_digits: bytes,
                                                                year: int) -> None:
    """RFC 9110 §5.6.7: a two-digit year is the nearest one not more than 50 years ahead.

    Seen from 7 Dec 2026: "75" is 2075 (49 years ahead), "77" is 1977.
    """
    now = calendar.timegm((2026, 12, 7, 0, 0, 0))
    value = b"Monday, 01-Jan-" + two_digits + b" 00:00:00 GMT"
    assert parse_http_date(value, now=now) == calendar.timegm((year, 1, 1, 0, 0, 0))


@given(st.integers(0, 253402300799))
def test_http_date_round_trips(seconds: int) -> None:
    """Every date we write, we read back."""
    assert parse_http_date(http_date(seconds)) == seconds


def test_dates_past_year_9999_do_not_fail() -> None:
    """A file stamped beyond what an HTTP-date can say gets the last writable date."""
    assert http_date(2**40) == b"Fri, 31 Dec 9999 23:59:59 GMT"


def test_etags_parse_as_lists_with_commas_inside() -> None:
    """Entity-tag lists: weak flags, commas inside quotes, *, and garbage as None."""
    assert parse_etags(b'"a", W/"b,c" ,"d"') == (False, [(False, b'"a"'), (True, b'"b,c"'),
                                                         (False, b'"d"')])
    assert parse_etags(b" * ") == (True, [])
    assert parse_etags(b'"a" "b"') is None
    assert parse_etags(b"a") is None


def test_etags_differ_by_time_size_and_suffix() -> None:
    """A strong, quoted tag that changes with mtime, size and encoding."""
    base = make_etag(1_700_000_000_000_000_000, 12)
    assert base.startswith(b'"') and not base.startswith(b'W/')
    assert len({base, make_etag(1_700_000_000_000_000_001, 12), make_etag(1, 13),
                make_etag(1_700_000_000_000_000_000, 12, b"gz")}) == 4


ETAG = b'"abc"'
MTIME = 1_000_000


@pytest.mark.parametrize(("fields", "outcome"), [
    ([], Outcome.PROCEED),
    ([(b"if-match", b'"x"')], Outcome.FAILED),
    ([(b"if-match", b'"x"'), (b"if-none-match", ETAG)], Outcome.FAILED),
    ([(b"if-match", ETAG), (b"if-unmodified-since", http_date(MTIME - 1))], Outcome.PROCEED),
    ([(b"if-unmodified-since", http_date(MTIME - 1))], Outcome.FAILED),
    ([(b"if-unmodified-since", http_date(MTIME))], Outcome.PROCEED),
    ([(b"if-unmodified-since", b"junk")], Outcome.PROCEED),
    ([(b"if-none-match", ETAG)], Outcome.NOT_MODIFIED),
    ([(b"if-none-match", b'"x"'), (b"if-modified-since", http_date(MTIME))], Outcome.PROCEED),
    ([(b"if-modified-since", http_date(MTIME))], Outcome.NOT_MODIFIED),
    ([(b"if-modified-since", http_date(MTIME - 1))], Outcome.PROCEED),
    ([(b"if-modified-since", http_date(MTIME)), (b"if-modified-since", http_date(MTIME))],
     Outcome.PROCEED),  # two values: ignored
    ([(b"if-unmodified-since", http_date(MTIME - 1)), (b"if-none-match", ETAG)],
     Outcome.FAILED),
])
def test_precondition_order(fields: list[tuple[bytes, bytes]], outcome: Outcome) -> None:
    """RFC 9110 §13.2.2, step by step."""
    assert evaluate(Headers(fields), b"GET", ETAG, MTIME) is outcome


def test_if_modified_since_later_than_now_is_ignored() -> None:
    """RFC 9110 §13.1.3: a date later than the server's current time is invalid: no 304."""
    since = [(b"if-modified-since", http_date(MTIME + 60))]
    assert evaluate(Headers(since), b"GET", ETAG, MTIME, now=MTIME + 30) is Outcome.PROCEED
    assert evaluate(Headers(since), b"GET", ETAG, MTIME, now=MTIME + 60) is Outcome.NOT_MODIFIED


def test_if_range_rules() -> None:
    """If-Range: a strong exact tag or the exact date; weak tags, other dates, repeats fail."""
    assert if_range_holds(Headers(), ETAG, MTIME)
    assert if_range_holds(Headers([(b"if-range", ETAG)]), ETAG, MTIME)
    assert if_range_holds(Headers([(b"if-range", http_date(MTIME))]), ETAG, MTIME)
    assert not if_range_holds(Headers([(b"if-range", b"W/" + ETAG)]), ETAG, MTIME)
    assert not if_range_holds(Headers([(b"if-range", http_date(MTIME + 1))]), ETAG, MTIME)
    assert not if_range_holds(Headers([(b"if-range", ETAG), (b"if-range", ETAG)]), ETAG, MTIME)


# -- types and codings ----------------------------------------------------------------


def test_content_types_and_overrides() -> None:
    """Last extension counts, any case; a dotfile's name is no extension; overrides checked."""
    types = ContentTypes({"txt": "text/x-mine", ".bin": "application/x-thing"})
    assert types.for_name("a.TXT") == b"text/x-mine; charset=utf-8"
    assert types.for_name("a.tar.gz") == b"application/gzip"
    assert types.for_name(".js") == b"application/octet-stream"
    assert types.for_name("x.bin") == b"application/x-thing"
    for bad in ({".x": "no-slash"}, {".x": "text/plain\r\nX: y"}, {"a/b": "text/plain"}):
        with pytest.raises(ValueError):
            ContentTypes(bad)


@pytest.mark.parametrize(("accept", "expected"), [
    (None, b""),
    (b"", b""),
    (b"gzip, br", b"br"),
    (b"gzip;q=1.0, br;q=0.9", b"gzip"),
    (b"br;q=0.001", b"br"),
    (b"identity;q=1, br;q=0.5", b""),
    (b"*;q=0", b""),
    (b"br;q=2", b""),  # out of range: the member is ignored
    (b"BR", b"br"),
])
def test_negotiation(accept: bytes | None, expected: bytes) -> None:
    """Accept-Encoding with q-values picks among the siblings present."""
    assert _negotiate(accept, [b"br", b"gzip"]) == expected


def test_constructor_checks_its_options(tmp_path: Path) -> None:
    """Bad options are refused when the mount is made, not on the first request."""
    with pytest.raises(ValueError):
        StaticFiles(tmp_path / "missing")
    for options in ({"index": ["../x"]}, {"index": [""]}, {"max_age": -1}, {"max_ranges": 0},
                    {"content_types": {".x": "bad"}}):
        with pytest.raises(ValueError):
            StaticFiles(tmp_path, **options)  # type: ignore[arg-type]
    assert StaticFiles(tmp_path, index="home.html").index == ("home.html",)
