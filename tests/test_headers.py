"""Header fields: token and value syntax, the Headers container, and list parsing."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_http.wire.headers import Headers, is_field_value, is_token, lowered_token, parse_list

# RFC 9110 §5.6.2, spelled out independently of the module's regular expression.
TCHAR = frozenset((string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~").encode())


@pytest.mark.parametrize(
    "name",
    [b"a", b"Host", b"X-Forwarded-For", b"!#$%&'*+-.^_`|~", b"0", b"M-SEARCH", b"a" * 1000],
)
def test_tokens(name: bytes) -> None:
    """Runs of tchar are tokens."""
    assert is_token(name)


@pytest.mark.parametrize(
    "name",
    [b"", b"a b", b"a:", b"(a)", b"a,b", b"a;b", b'"a"', b"a/b", b"a@b", b"a=b", b"a?b",
     b"a[b]", b"{a}", b"a\\b", b"a\x00", b"a\t", b"a\r\n", b"\x7f", b"caf\xc3\xa9", b"a\n"],
)
def test_non_tokens(name: bytes) -> None:
    """Anything with a delimiter, space, control or non-ASCII byte is not a token."""
    assert not is_token(name)


@given(st.binary(max_size=20))
def test_is_token_is_one_or_more_tchar(data: bytes) -> None:
    """is_token is exactly 1*tchar over arbitrary bytes."""
    assert is_token(data) is (len(data) > 0 and set(data) <= TCHAR)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (b"", True),
        (b"plain text", True),
        (b"tab\tinside", True),
        (b"obs-text \x80\xff", True),
        (b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", True),
        (b"nul\x00", False),
        (b"cr\r", False),
        (b"lf\n", False),
        (b"crlf\r\nX-Injected: 1", False),
        (b"bell\x07", False),
        (b"vt\x0b", False),
        (b"esc\x1b", False),
        (b"del\x7f", False),
    ],
)
def test_field_values(value: bytes, ok: bool) -> None:
    """Values may hold VCHAR, obs-text, SP and HTAB; any other control byte is refused."""
    assert is_field_value(value) is ok


@given(st.binary(max_size=20))
def test_field_value_refuses_exactly_the_controls_but_htab(data: bytes) -> None:
    """is_field_value is false exactly when a byte in 0x00-0x1F or 0x7F other than HTAB appears."""
    controls = set(range(0x20)) - {0x09} | {0x7F}
    assert is_field_value(data) is not bool(set(data) & controls)


def test_headers_keep_order_and_repeats() -> None:
    """Pairs stay in the order added, repeats included; len and iteration see them all."""
    h = Headers([(b"a", b"1")])
    h.add(b"b", b"2")
    h.add(b"a", b"3")
    assert list(h) == [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]
    assert len(h) == 3


def test_headers_lookups() -> None:
    """get gives the first value or the default; get_all every value; get_joined joins with ", "."""
    h = Headers([(b"a", b"1"), (b"b", b""), (b"a", b"3")])
    assert (h.get(b"a"), h.get(b"b"), h.get(b"c"), h.get(b"c", b"d")) == (b"1", b"", None, b"d")
    assert (h.get_all(b"a"), h.get_all(b"c")) == ([b"1", b"3"], [])
    assert (h.get_joined(b"a"), h.get_joined(b"b"), h.get_joined(b"c")) == (b"1, 3", b"", None)
    assert (b"a" in h, b"b" in h, b"c" in h, "a" in h) == (True, True, False, False)


def test_headers_lookups_compare_names_exactly() -> None:
    """Lookups take lower-case names: the parser stores request names lowered."""
    h = Headers([(b"Content-Type", b"x")])
    assert (h.get(b"content-type"), b"content-type" in h) == (None, False)
    assert h.get(b"Content-Type") == b"x"


def test_headers_equality() -> None:
    """Headers are equal when their pairs are equal in order; other types are not equal."""
    assert Headers([(b"a", b"1"), (b"b", b"2")]) == Headers([(b"a", b"1"), (b"b", b"2")])
    assert Headers([(b"a", b"1"), (b"b", b"2")]) != Headers([(b"b", b"2"), (b"a", b"1")])
    assert Headers() != [(b"a", b"1")]
    assert Headers().__eq__([]) is NotImplemented


def test_headers_repr_shows_the_pairs() -> None:
    """repr shows the pairs, for test failure messages."""
    assert repr(Headers([(b"a", b"1")])) == "Headers([(b'a', b'1')])"


def test_headers_copy_their_input() -> None:
    """A Headers made from a list does not share it."""
    pairs = [(b"a", b"1")]
    h = Headers(pairs)
    pairs.append((b"b", b"2"))
    assert len(h) == 1


@pytest.mark.parametrize(
    ("values", "members"),
    [
        ([], []),
        ([b""], []),
        ([b"close"], [b"close"]),
        ([b"Keep-Alive, Upgrade"], [b"keep-alive", b"upgrade"]),
        ([b"a", b"b, c"], [b"a", b"b", b"c"]),
        ([b" ,, a ,\t, b ,"], [b"a", b"b"]),
        ([b"\ta\t,\tb\t"], [b"a", b"b"]),
        ([b"a b, c"], [b"a b", b"c"]),
    ],
)
def test_parse_list(values: list[bytes], members: list[bytes]) -> None:
    """List fields split on commas into lower-cased, OWS-stripped members; empty ones dropped."""
    assert parse_list(values) == members


def test_lowered_token_lowers_tokens_and_refuses_the_rest() -> None:
    """A token comes back lower-cased; anything else is None, every time, and never remembered."""
    from twisted_http.wire import headers as _headers

    assert lowered_token(b"X-Lowered-Token") == b"x-lowered-token"
    assert lowered_token(b"X-Lowered-Token") == b"x-lowered-token"  # remembered or not
    for bad in (b"X Bad", b"X:Bad", b"", b"X-A\r\n"):
        assert lowered_token(bad) is None
        assert lowered_token(bad) is None
        assert bad not in _headers._TOKEN_NAMES
