"""RequestParser against RFC 9112: request line, fields, framing, limits, and Hypothesis properties.

Every case is fed three ways, as h11's test_io does: whole, one byte at a time,
and followed by the start of another request. The three must agree, and the
trailing bytes must start the next request rather than leak into this one.
The driver in ``_parser_driver`` feeds the parser the way LineReceiver does.
"""

from __future__ import annotations

import string

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_http.wire.errors import (
    BadRequest,
    ContentTooLarge,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    MethodNotImplemented,
    NotImplementedCoding,
    ProtocolError,
    URITooLong,
    VersionNotSupported,
)
from twisted_http.wire.limits import ServerConfig
from twisted_http.wire.parser import MAX_CHUNK_LINE, RequestParser, State
from twisted_http.wire.serializer import LAST_CHUNK, chunk, request_bytes

from ._parser_driver import Message, Outcome, bytewise, feed, split_at

DEFAULT = ServerConfig()
# Small limits so each edge can be hit exactly: at the limit passes, one over fails.
SMALL = ServerConfig(
    max_request_line=64,
    max_header_line=64,
    max_head_size=256,
    max_headers=6,
    max_body_size=16,
)
# The start of another request, appended to check that a message ends where it should.
NEXT = b"GET /next HTTP/1.1\r\nHost: next\r\n"


def parse(data: bytes, config: ServerConfig = DEFAULT) -> Outcome:
    """Feed ``data`` whole, byte by byte and with NEXT after it; all three must agree."""
    whole = feed([data], config)
    assert feed(bytewise(data), config).summary() == whole.summary(), "byte at a time"
    trailing = feed([data + NEXT], config)
    if whole.error is not None:
        assert trailing.summary() == whole.summary(), "trailing bytes changed the error"
    elif whole.state is State.REQUEST_LINE and not whole.buffered:
        # The stream ended between messages: NEXT must start a request of its own.
        assert trailing.summary()[0] == whole.summary()[0], "trailing bytes changed a message"
        assert (trailing.state, trailing.buffered, trailing.error) == (State.HEADERS, b"", None)
    return whole


def one(data: bytes, config: ServerConfig = DEFAULT) -> Message:
    """The single complete request ``data`` holds."""
    outcome = parse(data, config)
    assert outcome.error is None, outcome.error
    [message] = outcome.messages
    assert message.complete
    assert outcome.state is State.REQUEST_LINE
    return message


def refused(data: bytes, config: ServerConfig = DEFAULT) -> ProtocolError:
    """The error ``data`` is refused with; the parser must end FAILED."""
    outcome = parse(data, config)
    assert outcome.error is not None, outcome.messages
    assert outcome.state is State.FAILED
    return outcome.error


def req(first: bytes = b"GET / HTTP/1.1", *fields: bytes, body: bytes = b"") -> bytes:
    """A request from its first line and field lines; ``Host: a`` added on 1.1 unless given."""
    lines = [first, *fields]
    if first.endswith(b"HTTP/1.1") and not any(f.lower().startswith(b"host:") for f in fields):
        lines.insert(1, b"Host: a")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(*fields: bytes, body: bytes) -> bytes:
    """A chunked POST with the given field lines and raw chunked ``body``."""
    return req(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked", *fields, body=body)


def assert_error(error: ProtocolError, kind: type[ProtocolError], status: int) -> None:
    assert type(error) is kind, error
    assert error.status == status


# -- the request line (RFC 9112 §3) ---------------------------------------------


@pytest.mark.parametrize(
    ("line", "method", "path", "query", "version"),
    [
        (b"GET / HTTP/1.1", b"GET", b"/", b"", b"HTTP/1.1"),
        (b"GET / HTTP/1.0", b"GET", b"/", b"", b"HTTP/1.0"),
        (b"POST /a/b?c=d&e HTTP/1.1", b"POST", b"/a/b", b"c=d&e", b"HTTP/1.1"),
        (b"GET /a?b?c HTTP/1.1", b"GET", b"/a", b"b?c", b"HTTP/1.1"),
        (b"GET /? HTTP/1.1", b"GET", b"/", b"", b"HTTP/1.1"),
        (b"GET /%41%2f%e9 HTTP/1.1", b"GET", b"/%41%2f%e9", b"", b"HTTP/1.1"),
        (b"GET //double HTTP/1.1", b"GET", b"//double", b"", b"HTTP/1.1"),
        (b"GET /a;p=1/'()*+,:@!$&=~ HTTP/1.1", b"GET", b"/a;p=1/'()*+,:@!$&=~", b"", b"HTTP/1.1"),
        (b"get / HTTP/1.1", b"get", b"/", b"", b"HTTP/1.1"),
        (b"M-SEARCH / HTTP/1.1", b"M-SEARCH", b"/", b"", b"HTTP/1.1"),
        (b"!#$%&'*+-.^_`|~09az / HTTP/1.1", b"!#$%&'*+-.^_`|~09az", b"/", b"", b"HTTP/1.1"),
        (b"OPTIONS * HTTP/1.1", b"OPTIONS", b"*", b"", b"HTTP/1.1"),
    ],
)
def test_request_line_is_split_into_its_parts(
    line: bytes, method: bytes, path: bytes, query: bytes, version: bytes
) -> None:
    """method, target, path, query and version come out exactly; the method keeps its case."""
    head = one(req(line)).head
    target = line.split(b" ")[1]
    assert (head.method, head.target, head.path, head.query, head.version) == (
        method, target, path, query, version,
    )


@pytest.mark.parametrize(
    ("target", "host", "path", "query"),
    [
        (b"http://example.com/a?b", b"example.com", b"/a", b"b"),
        (b"http://example.com", b"example.com", b"/", b""),
        (b"http://example.com?q", b"example.com", b"/", b"q"),
        (b"https://example.com:8443/x", b"example.com:8443", b"/x", b""),
        (b"HTTP://Example.COM/", b"Example.COM", b"/", b""),
        (b"http://[::1]:8080/v6", b"[::1]:8080", b"/v6", b""),
        (b"http://127.0.0.1/", b"127.0.0.1", b"/", b""),
    ],
)
def test_absolute_form_authority_becomes_host(
    target: bytes, host: bytes, path: bytes, query: bytes
) -> None:
    """An absolute-form target's authority overrides Host; its path and query are split out."""
    head = one(req(b"GET %s HTTP/1.1" % target, b"Host: ignored.example")).head
    assert (head.target, head.host, head.path, head.query) == (target, host, path, query)


@pytest.mark.parametrize(
    ("line", "kind", "status"),
    [
        # the line's shape
        (b"GET / HTTP/1.1 ", BadRequest, 400),
        (b"GET  / HTTP/1.1", BadRequest, 400),
        (b" GET / HTTP/1.1", BadRequest, 400),
        (b"GET / HTTP/1.1 extra", BadRequest, 400),
        (b"GET\t/\tHTTP/1.1", BadRequest, 400),
        (b"GET /", BadRequest, 400),  # HTTP/0.9
        (b"GET", BadRequest, 400),
        (b"GET / ", BadRequest, 400),
        (b"GET  HTTP/1.1", BadRequest, 400),  # empty target
        # the method is a token
        (b" / HTTP/1.1", BadRequest, 400),
        (b"G(T / HTTP/1.1", BadRequest, 400),
        # longer than any method: 501 (RFC 9110 §9.1), never 414
        (b"A" * 33 + b" / HTTP/1.1", MethodNotImplemented, 501),
        (b"A" * 32 + b"(" + b" / HTTP/1.1", BadRequest, 400),
        (b"G\"T / HTTP/1.1", BadRequest, 400),
        (b"G\xc3\x89T / HTTP/1.1", BadRequest, 400),
        (b"GE\x00T / HTTP/1.1", BadRequest, 400),
        # the version
        (b"GET / HTTP/2.0", VersionNotSupported, 505),
        (b"GET / HTTP/2.1", VersionNotSupported, 505),
        (b"GET / HTTP/3.0", VersionNotSupported, 505),
        (b"GET / HTTP/0.9", VersionNotSupported, 505),
        (b"GET / http/1.1", BadRequest, 400),
        (b"GET / HTTP/1", BadRequest, 400),
        (b"GET / HTTP/11", BadRequest, 400),
        (b"GET / HTTP/1.10", BadRequest, 400),
        (b"GET / HTTP/1.1.1", BadRequest, 400),
        (b"GET / HTTPS/1.1", BadRequest, 400),
        (b"GET / HTTP/a.b", BadRequest, 400),
        (b"GET / HTTP/1.1\x00", BadRequest, 400),
        (b"GET / HTTP/1.1\r", BadRequest, 400),
        (b"GET / \xef\xbc\xa8TTP/1.1", BadRequest, 400),
        # the target: controls, spaces, '#', raw non-ASCII, bad escapes
        (b"GET /a\x00b HTTP/1.1", BadRequest, 400),
        (b"GET /a\x01b HTTP/1.1", BadRequest, 400),
        (b"GET /a\x7fb HTTP/1.1", BadRequest, 400),
        (b"GET /a\tb HTTP/1.1", BadRequest, 400),
        (b"GET /a\rb HTTP/1.1", BadRequest, 400),
        (b"GET /a\nb HTTP/1.1", BadRequest, 400),
        (b"GET /a b HTTP/1.1", BadRequest, 400),
        (b"GET /a#frag HTTP/1.1", BadRequest, 400),
        (b"GET /# HTTP/1.1", BadRequest, 400),
        (b"GET /caf\xc3\xa9 HTTP/1.1", BadRequest, 400),
        (b"GET /\xff HTTP/1.1", BadRequest, 400),
        (b"GET /%zz HTTP/1.1", BadRequest, 400),
        (b"GET /%4 HTTP/1.1", BadRequest, 400),
        (b"GET /% HTTP/1.1", BadRequest, 400),
        (b"GET /%%41 HTTP/1.1", BadRequest, 400),
        (b"GET /a?%g0 HTTP/1.1", BadRequest, 400),
        # other target forms
        (b"GET a/b HTTP/1.1", BadRequest, 400),
        (b"GET * HTTP/1.1", BadRequest, 400),
        (b"OPTIONS ** HTTP/1.1", BadRequest, 400),
        (b"GET example.com:80 HTTP/1.1", BadRequest, 400),
        (b"GET ftp://example.com/ HTTP/1.1", BadRequest, 400),
        (b"GET http:/example.com/ HTTP/1.1", BadRequest, 400),
        (b"GET http://user@example.com/ HTTP/1.1", BadRequest, 400),
        (b"GET http://user:pw@example.com/ HTTP/1.1", BadRequest, 400),
        (b"GET http://@example.com/ HTTP/1.1", BadRequest, 400),
        (b"GET http://example.com:8x/ HTTP/1.1", BadRequest, 400),
        (b"GET http:///path HTTP/1.1", BadRequest, 400),  # empty host: RFC 9110 §4.2.1
        (b"GET http://:80/path HTTP/1.1", BadRequest, 400),
        (b"GET http:// HTTP/1.1", BadRequest, 400),
        (b"GET http://[::1/ HTTP/1.1", BadRequest, 400),
        # CONNECT: authority-form only, and never served
        (b"CONNECT example.com:443 HTTP/1.1", MethodNotImplemented, 501),
        (b"CONNECT [::1]:443 HTTP/1.1", MethodNotImplemented, 501),
        (b"CONNECT example.com HTTP/1.1", BadRequest, 400),
        (b"CONNECT /path HTTP/1.1", BadRequest, 400),
        (b"CONNECT http://example.com/ HTTP/1.1", BadRequest, 400),
        (b"CONNECT * HTTP/1.1", BadRequest, 400),
    ],
)
def test_bad_request_lines_are_refused(
    line: bytes, kind: type[ProtocolError], status: int
) -> None:
    """A malformed request line is refused with the status RFC 9112 §3 calls for."""
    outcome = parse(req(line))
    assert outcome.messages == []
    assert outcome.error is not None
    assert_error(outcome.error, kind, status)


@pytest.mark.parametrize("minor", [b"2", b"5", b"9"])
def test_a_higher_http_1_minor_version_is_processed_as_1_1(minor: bytes) -> None:
    """RFC 9112 §2.3 / RFC 9110 §6.2: HTTP/1.2 and up are HTTP/1.1 to a 1.1 server."""
    data = req(b"POST /a HTTP/1." + minor, b"Host: a", b"Content-Length: 2", body=b"hi")
    message = one(data)
    assert message.head.version == b"HTTP/1.1"
    assert message.head.keep_alive
    assert message.body == b"hi"
    assert_error(refused(req(b"GET / HTTP/1." + minor)), BadRequest, 400)  # and Host is required


def test_a_longest_method_is_still_a_method() -> None:
    """A 32-byte token is a method like any other: the handler decides what it means."""
    method = b"UPDATEREDIRECTREF-" + b"X" * 14
    assert one(req(method + b" / HTTP/1.1")).head.method == method


@pytest.mark.parametrize(
    ("method", "kind", "status"),
    [
        (b"A" * 100, MethodNotImplemented, 501),
        (b"A" * 20 + b"(" + b"A" * 79, BadRequest, 400),
        (b"A" * 40 + b"\x00" + b"A" * 59, BadRequest, 400),
    ],
)
def test_a_method_past_the_line_limit_is_501_or_400_not_414(
    method: bytes, kind: type[ProtocolError], status: int
) -> None:
    """RFC 9110 §9.1: an over-long method is 501 (400 if not a token); 414 is for the target."""
    assert_error(refused(req(method + b" / HTTP/1.1"), SMALL), kind, status)
    # Also before the line ends: a method that never stops.
    assert_error(refused(method * 3, SMALL), kind, status)


def test_request_line_at_its_limit_is_accepted() -> None:
    """A request line of exactly max_request_line bytes parses."""
    line = b"GET /" + b"a" * (SMALL.max_request_line - 14) + b" HTTP/1.1"
    assert len(line) == SMALL.max_request_line
    assert one(req(line), SMALL).head.path == line.split(b" ")[1]


def test_the_default_request_line_limit_is_over_8000_octets() -> None:
    """RFC 9112 §3 recommends supporting request lines of at least 8000 octets."""
    line = b"GET /" + b"a" * (8000 - 14) + b" HTTP/1.1"
    assert len(line) == 8000
    assert one(req(line)).head.path == line.split(b" ")[1]


def test_request_line_one_over_its_limit_is_414() -> None:
    """A request line one byte over max_request_line gets 414."""
    line = b"GET /" + b"a" * (SMALL.max_request_line - 13) + b" HTTP/1.1"
    assert_error(refused(req(line), SMALL), URITooLong, 414)


def test_over_long_request_line_is_refused_before_its_end_arrives() -> None:
    """The 414 comes as soon as the buffered line cannot fit, not when a CRLF finally arrives."""
    start = b"GET /" + b"a" * SMALL.max_request_line
    waiting = feed([start[: SMALL.max_request_line + 1]], SMALL)
    assert (waiting.error, waiting.state) == (None, State.REQUEST_LINE)
    assert_error(refused(start[: SMALL.max_request_line + 2], SMALL), URITooLong, 414)


def test_empty_lines_before_the_request_line_are_ignored() -> None:
    """CRLFs before a request line (a client's extra CRLF after a body) are skipped."""
    head = one(b"\r\n\r\n\r\n" + req()).head
    assert (head.method, head.path) == (b"GET", b"/")


def test_empty_lines_alone_are_bounded_by_the_head_size() -> None:
    """An endless run of CRLFs is refused with 431 once it passes max_head_size."""
    error = refused(b"\r\n" * (SMALL.max_head_size // 2 + 1), SMALL)
    assert_error(error, HeaderFieldsTooLarge, 431)


# -- header fields (RFC 9112 §5) ------------------------------------------------


def test_field_names_are_lowered_and_values_stripped_in_order() -> None:
    """Names come out lower-case, values without surrounding OWS, in order, repeats kept."""
    head = one(req(
        b"GET / HTTP/1.1", b"Host: a", b"X-One:  \t one  two \t ", b"x-one:1",
        b"ACCEPT:", b"Odd-Bytes: \x80\xff\t!~", b"Empty: \t ",
    )).head
    assert list(head.headers) == [
        (b"host", b"a"), (b"x-one", b"one  two"), (b"x-one", b"1"),
        (b"accept", b""), (b"odd-bytes", b"\x80\xff\t!~"), (b"empty", b""),
    ]


@pytest.mark.parametrize(
    "field",
    [
        b"X-A : b",  # whitespace before the colon (RFC 9112 §5.1)
        b"X-A\t: b",
        b"X-A",  # no colon
        b": b",  # empty name
        b"X A: b",
        b"X@A: b",
        b"X(A): b",
        b"X\xc3\xa9: b",
        b"X\x00: b",
        b"X-A: a\x00b",  # controls in the value
        b"X-A: a\x01b",
        b"X-A: a\x08b",
        b"X-A: a\x0bb",
        b"X-A: a\x0cb",
        b"X-A: a\x1fb",
        b"X-A: a\x7fb",
        b"X-A: a\rb",  # bare CR
        b"X-A: a\nb",  # bare LF: never a line end
        b"X-A: a\r",
        b"X-A: \x00",
    ],
)
def test_malformed_field_lines_are_400(field: bytes) -> None:
    """A field line that is not token ":" OWS value OWS, or holds a control byte, gets 400."""
    assert_error(refused(req(b"GET / HTTP/1.1", field)), BadRequest, 400)


def test_a_name_seen_before_still_needs_its_colon() -> None:
    """The parser remembers valid field names; a known name without a colon is still 400."""
    one(req(b"GET / HTTP/1.1", b"X-Remembered: 1"))
    assert_error(refused(req(b"GET / HTTP/1.1", b"X-Remembered")), BadRequest, 400)


def test_remembered_field_names_are_bounded() -> None:
    """A client inventing names gets each checked; the memory of names stays bounded."""
    from twisted_http.wire import headers as _headers

    for i in range(_headers.MAX_TOKEN_NAMES + 50):
        one(req(b"GET / HTTP/1.1", b"X-Invented-%d: 1" % i))
    assert len(_headers._TOKEN_NAMES) == _headers.MAX_TOKEN_NAMES
    message = one(req(b"GET / HTTP/1.1", b"X-Never-Seen-Before: 1", b"Host: h"))
    assert (b"x-never-seen-before", b"1") in list(message.head.headers)


def test_a_whole_head_parses_as_its_lines_do() -> None:
    """``head_received`` gives what its lines one by one give: the same head, the same state."""
    head = b"POST /p?q HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-A:  b \r\nConnection: close"
    whole = RequestParser(DEFAULT)
    by_line = RequestParser(DEFAULT)
    result = whole.head_received(head)
    for line in head.split(b"\r\n"):
        assert by_line.line_received(line) is None
    assert by_line.line_received(b"") == result
    assert result.body_length == 3 and not result.keep_alive and result.host == b"h"
    assert whole.state is by_line.state is State.BODY


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"GET /" + b"a" * 64 + b" HTTP/1.1\r\nHost: h", URITooLong),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: " + b"a" * 64, HeaderFieldsTooLarge),
        (b"GET / HTTP/1.1\r\nHost: h" + b"\r\nX: 1" * 6, HeaderFieldsTooLarge),
        (b"GET / HTTP/1.1\r\n" + b"\r\n".join([b"X-B: " + b"b" * 50] * 5), HeaderFieldsTooLarge),
    ],
)
def test_a_whole_head_is_held_to_every_limit(head: bytes, kind: type[ProtocolError]) -> None:
    """Line lengths, field count and head size bound a whole head as they bound its lines."""
    parser = RequestParser(SMALL)
    with pytest.raises(kind):
        parser.head_received(head)
    assert parser.state is State.FAILED


@pytest.mark.parametrize(
    "fields",
    [
        (b"X-A: a", b" folded"),
        (b"X-A: a", b"\tfolded"),
        (b" X-A: a",),  # whitespace before the first field line (RFC 9112 §2.2)
        (b"\tX-A: a",),
    ],
)
def test_obs_fold_is_refused(fields: tuple[bytes, ...]) -> None:
    """A line starting with SP or HTAB (obs-fold) is refused, never unfolded (RFC 9112 §5.2)."""
    error = refused(req(b"GET / HTTP/1.1", *fields))
    assert_error(error, BadRequest, 400)
    assert "folding" in error.message


@pytest.mark.parametrize(
    "host",
    [b"example.com", b"example.com:8080", b"EXAMPLE.com", b"127.0.0.1:80", b"[::1]", b"[::1]:80",
     b"xn--bcher-kva.example", b"a_b~c!$&'()*+,;=%41", b"example.com:"],
)
def test_valid_host_is_taken(host: bytes) -> None:
    """A well-formed Host (reg-name, IPv4, IP literal, optional port) is the host."""
    assert one(req(b"GET / HTTP/1.1", b"Host: " + host)).head.host == host


@pytest.mark.parametrize(
    "fields",
    [
        (),  # missing on 1.1
        (b"Host: a", b"Host: a"),  # never duplicated, even identically
        (b"Host: a", b"host: b"),
        (b"Host: a b",),
        (b"Host: user@a",),
        (b"Host: a/b",),
        (b"Host: a:b",),
        (b"Host: a:80:80",),
        (b"Host: [::1",),
        (b"Host: [nothex]",),
        (b"Host: a\x80",),
        (b"Host: a?b",),
        (b"Host: a#b",),
    ],
)
def test_bad_host_is_400(fields: tuple[bytes, ...]) -> None:
    """Host is required on 1.1, appears once, and is uri-host [":" port] (RFC 9112 §3.2)."""
    lines = [b"GET / HTTP/1.1", *fields]
    data = b"\r\n".join(lines) + b"\r\n\r\n"
    assert_error(refused(data), BadRequest, 400)


@pytest.mark.parametrize(
    "line",
    [b"GET / HTTP/1.1", b"GET /a?b HTTP/1.1", b"GET / HTTP/1.0", b"OPTIONS * HTTP/1.1"],
)
@pytest.mark.parametrize("host", [b"Host:", b"Host: ", b"Host: :80", b"Host: :"])
def test_empty_host_is_400_unless_the_target_names_one(line: bytes, host: bytes) -> None:
    """RFC 9110 §4.2.1, RFC 9112 §3.2/§3.3: Host would make an http URI with an empty host."""
    assert_error(refused(req(line, host)), BadRequest, 400)


def test_empty_host_with_an_absolute_target_is_the_targets() -> None:
    """In absolute form the target's authority is the host, and an empty Host is allowed."""
    assert one(req(b"GET http://a/ HTTP/1.1", b"Host:")).head.host == b"a"


def test_host_is_optional_on_http_10() -> None:
    """An HTTP/1.0 request without Host parses, with an empty host."""
    assert one(b"GET / HTTP/1.0\r\n\r\n").head.host == b""


def test_duplicate_host_is_refused_on_http_10_too() -> None:
    """Two Host fields are refused whatever the version."""
    assert_error(refused(b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), BadRequest, 400)


def test_absolute_form_still_needs_host_on_http_11() -> None:
    """HTTP/1.1 requires a Host field even when the target carries an authority (RFC 9112 §3.2)."""
    assert_error(refused(b"GET http://a/ HTTP/1.1\r\n\r\n"), BadRequest, 400)


# -- head limits ----------------------------------------------------------------


def filler(room: int) -> bytes:
    """Field lines A:, B:, ... totalling exactly ``room`` bytes, each within SMALL's line limit."""
    longest = SMALL.max_header_line + 2  # a field line with its CRLF
    count = -(-room // longest)
    assert room >= 4 * count
    sizes = [room // count + (i < room % count) for i in range(count)]
    data = b"".join(
        b"%c:%s\r\n" % (ord("A") + i, b"v" * (size - 4)) for i, size in enumerate(sizes)
    )
    assert len(data) == room
    return data


def sized_head(total: int, leading: bytes = b"", fields: bytes = b"") -> bytes:
    """A valid GET head of exactly ``total`` bytes under SMALL, padded over filler fields."""
    start = leading + b"GET / HTTP/1.1\r\nHost: a\r\n" + fields
    data = start + filler(total - len(start) - 2) + b"\r\n"
    assert data.count(b":") < SMALL.max_headers + 1
    return data


@pytest.mark.parametrize("leading", [b"", b"\r\n\r\n\r\n"])
def test_head_at_max_head_size_is_accepted(leading: bytes) -> None:
    """A head of exactly max_head_size bytes, leading CRLFs and final CRLF included, parses."""
    message = one(sized_head(SMALL.max_head_size, leading), SMALL)
    assert message.head.headers.get(b"host") == b"a"


@pytest.mark.parametrize("leading", [b"", b"\r\n\r\n\r\n"])
def test_head_one_over_max_head_size_is_431(leading: bytes) -> None:
    """A head of max_head_size + 1 bytes gets 431."""
    error = refused(sized_head(SMALL.max_head_size + 1, leading), SMALL)
    assert_error(error, HeaderFieldsTooLarge, 431)


def test_field_line_at_max_header_line_is_accepted() -> None:
    """A field line of exactly max_header_line bytes (CRLF excluded) parses."""
    field = b"X:" + b"v" * (SMALL.max_header_line - 2)
    assert one(req(b"GET / HTTP/1.1", field), SMALL).head.headers.get(b"x") == field[2:]


def test_field_line_one_over_max_header_line_is_431() -> None:
    """A field line one byte over max_header_line gets 431."""
    field = b"X:" + b"v" * (SMALL.max_header_line - 1)
    assert_error(refused(req(b"GET / HTTP/1.1", field), SMALL), HeaderFieldsTooLarge, 431)


def test_max_headers_fields_are_accepted() -> None:
    """Exactly max_headers field lines parse."""
    fields = [b"X-%d: v" % i for i in range(SMALL.max_headers - 1)]
    assert len(one(req(b"GET / HTTP/1.1", *fields), SMALL).head.headers) == SMALL.max_headers


def test_one_field_over_max_headers_is_431() -> None:
    """One field line more than max_headers gets 431."""
    fields = [b"X-%d: v" % i for i in range(SMALL.max_headers)]
    assert_error(refused(req(b"GET / HTTP/1.1", *fields), SMALL), HeaderFieldsTooLarge, 431)


# -- Content-Length (RFC 9112 §6.2, §6.3) ---------------------------------------


@pytest.mark.parametrize(
    ("value", "length"),
    [(b"0", 0), (b"5", 5), (b"007", 7), (b"  5 \t", 5), (b"16", 16)],
)
def test_content_length_frames_the_body(value: bytes, length: int) -> None:
    """A single decimal Content-Length gives body_length, and exactly that many bytes are body."""
    body = bytes(range(65, 65 + length))
    message = one(req(b"POST / HTTP/1.1", b"Content-Length:" + value, body=body))
    assert (message.head.body_length, message.body) == (length, body)


@pytest.mark.parametrize(
    "fields",
    [
        (b"Content-Length: -1",),
        (b"Content-Length: +5",),
        (b"Content-Length: 5 5",),
        (b"Content-Length: 0x5",),
        (b"Content-Length: 5a",),
        (b"Content-Length: 5.0",),
        (b"Content-Length: 1e3",),
        (b"Content-Length:",),
        (b"Content-Length: 5,5",),
        (b"Content-Length: 5, 5",),
        (b"Content-Length: \xd9\xa5",),  # a non-ASCII digit
        (b"Content-Length: 5", b"Content-Length: 5"),  # duplicates, even identical
        (b"Content-Length: 5", b"Content-Length: 6"),
        (b"Content-Length: " + b"1" * 19,),  # past 18 digits
        (b"Content-Length: 5", b"Transfer-Encoding: chunked"),
        (b"Transfer-Encoding: chunked", b"Content-Length: 5"),
    ],
)
def test_bad_content_length_is_400(fields: tuple[bytes, ...]) -> None:
    """Content-Length must be exactly one 1*DIGIT of at most 18 digits, and never with TE."""
    outcome = parse(req(b"POST / HTTP/1.1", *fields, body=b"hello"))
    assert outcome.messages == []
    assert outcome.error is not None
    assert_error(outcome.error, BadRequest, 400)


def test_eighteen_digit_content_length_is_413_not_400() -> None:
    """An 18-digit length is well formed, so its refusal is 413, the size limit."""
    error = refused(req(b"POST / HTTP/1.1", b"Content-Length: " + b"1" * 18))
    assert_error(error, ContentTooLarge, 413)


def test_no_framing_means_no_body() -> None:
    """Without Content-Length or TE the body is empty and the next bytes are the next request."""
    outcome = parse(req() + req(b"GET /two HTTP/1.1"))
    assert [(m.head.path, m.head.body_length, m.body) for m in outcome.messages] == [
        (b"/", 0, b""), (b"/two", 0, b""),
    ]


def test_content_length_at_max_body_size_is_accepted() -> None:
    """A declared length equal to max_body_size is read in full."""
    body = b"x" * SMALL.max_body_size
    message = one(req(b"POST / HTTP/1.1", b"Content-Length: 16", body=body), SMALL)
    assert message.body == body


def test_content_length_over_max_body_size_is_413_before_the_body() -> None:
    """A declared length over max_body_size is refused with 413 as soon as the head ends."""
    error = refused(req(b"POST / HTTP/1.1", b"Content-Length: 17"), SMALL)
    assert_error(error, ContentTooLarge, 413)


def test_partial_body_leaves_the_parser_waiting() -> None:
    """With fewer bytes than Content-Length, the request is incomplete and the parser in BODY."""
    outcome = feed([req(b"POST / HTTP/1.1", b"Content-Length: 10", body=b"hello")])
    [message] = outcome.messages
    assert (message.body, message.complete, outcome.state) == (b"hello", False, State.BODY)


# -- Transfer-Encoding (RFC 9112 §6.1) ------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "status"),
    [
        (b"gzip", BadRequest, 400),
        (b"identity", BadRequest, 400),
        (b"chunked, gzip", BadRequest, 400),
        (b"chunked, chunked", BadRequest, 400),
        (b"gzip, chunked, chunked", BadRequest, 400),
        (b"", BadRequest, 400),
        (b",", BadRequest, 400),
        (b"chunked;q=1", BadRequest, 400),
        (b"x y, chunked", BadRequest, 400),
        (b"\"chunked\"", BadRequest, 400),
        (b"gzip, chunked", NotImplementedCoding, 501),
        (b"deflate, gzip, chunked", NotImplementedCoding, 501),
    ],
)
def test_transfer_codings_other_than_chunked_alone(
    value: bytes, kind: type[ProtocolError], status: int
) -> None:
    """chunked must be last and once; other codings are 501, anything malformed 400."""
    field = b"Transfer-Encoding: " + value if value else b"Transfer-Encoding:"
    error = refused(req(b"POST / HTTP/1.1", field, body=b"0\r\n\r\n"))
    assert_error(error, kind, status)


def test_chunked_split_over_two_fields_is_refused() -> None:
    """Two Transfer-Encoding fields are one list: chunked twice is 400."""
    data = req(b"POST / HTTP/1.1", b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked")
    assert_error(refused(data), BadRequest, 400)


def test_transfer_encoding_on_http_10_is_400() -> None:
    """Transfer-Encoding on an HTTP/1.0 request is refused (RFC 9112 §6.1)."""
    data = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert_error(refused(data), BadRequest, 400)


@pytest.mark.parametrize(
    "value", [b"chunked", b"Chunked", b"CHUNKED", b" chunked \t", b", chunked"]
)
def test_chunked_coding_is_case_insensitive(value: bytes) -> None:
    """The coding name is matched case-insensitively and empty list members are dropped."""
    message = one(req(b"POST / HTTP/1.1", b"Transfer-Encoding:" + value, body=LAST_CHUNK))
    assert (message.head.body_length, message.body) == (None, b"")


# -- chunked bodies (RFC 9112 §7.1) ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"0\r\n\r\n", b""),
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"a\r\n0123456789\r\n000\r\n\r\n", b"0123456789"),
        (b"000000000000000a\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),  # 16 digits
        (b"3\r\n\r\n\r\r\n0\r\n\r\n", b"\r\n\r"),  # CRLFs inside data are data
        (b"2\r\n0\r\r\n0\r\n\r\n", b"0\r"),
    ],
)
def test_chunked_body_is_reassembled(body: bytes, expected: bytes) -> None:
    """Chunk data is delivered exactly, whatever bytes it holds, and the zero chunk ends it."""
    message = one(chunked(body=body))
    assert (message.head.body_length, message.body) == (None, expected)


@pytest.mark.parametrize(
    "size_line",
    [
        b"5;name",
        b"5;name=value",
        b'5;name="quoted value"',
        b'5;name=""',
        b'5;a="esc\\"aped\\\\"',
        b'5;a="tab\there\x80"',
        b"5 ;name = value",  # BWS around ";" and "="
        b"5\t;\tname\t=\tvalue",
        b"5;a=b;c;d=\"e\"",
        b"5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
    ],
)
def test_chunk_extensions_are_accepted_and_ignored(size_line: bytes) -> None:
    """Well-formed chunk extensions (token names, token or quoted values) are skipped."""
    message = one(chunked(body=size_line + b"\r\nhello\r\n0\r\n\r\n"))
    assert message.body == b"hello"


# Chunk-size lines that are not 1-16 hex digits with valid extensions; these
# lists are reused by test_wsgi_readahead.py.
MALFORMED_SIZE_LINES = [
    b"",
    b"0x5",
    b"+5",
    b"-5",
    b"5_0",
    b" 5",
    b"5 ",
    b"5\t",
    b"g",
    b"5g",
    b"\xef\xbc\x95",  # a non-ASCII digit
    b"1" + b"0" * 16,  # 17 digits
    b"0" * 17,
    b"5;",
    b"5;=v",
    b"5;a=",
    b"5;a b",
    b"5;a=b c",
    b'5;"a"=b',
    b'5;a="unterminated',
    b'5;a="\x00"',
    b'5;a="\\\x7f"',
    b"5;a=b\x00",
    b"5,a",
]


@pytest.mark.parametrize(
    "size_line",
    MALFORMED_SIZE_LINES,
)
def test_malformed_chunk_size_lines_are_400(size_line: bytes) -> None:
    """Only 1-16 hex digits and valid extensions make a chunk-size line; anything else is 400."""
    error = refused(chunked(body=size_line + b"\r\nhello\r\n0\r\n\r\n"))
    assert_error(error, BadRequest, 400)


# Chunked bodies whose data is not followed by exactly CRLF.
BAD_CHUNK_DATA = [
    b"5\r\nhelloX\r\n0\r\n\r\n",  # a byte too many
    b"5\r\nhello0\r\n\r\n",  # no CRLF after the data
    b"5\r\nhello\n0\r\n\r\n",
    b"5\r\nhello\r0\r\n\r\n",
    b"5\r\nhello\r\r\n0\r\n\r\n",
    b"5\r\nhell\r\n0\r\n\r\n\r\n",  # a byte too few
]


@pytest.mark.parametrize(
    "body",
    BAD_CHUNK_DATA,
)
def test_chunk_data_must_end_in_crlf(body: bytes) -> None:
    """The CRLF after each chunk's data is checked, so a wrong size cannot go unnoticed."""
    assert_error(refused(chunked(body=body)), BadRequest, 400)


@pytest.mark.parametrize("line", [b"x", b" ", b"\r", b"0"])
def test_chunk_end_takes_only_an_empty_line(line: bytes) -> None:
    """Fed directly, a non-empty line where a chunk's CRLF belongs is 400 (not only by length)."""
    parser = RequestParser(DEFAULT)
    for setup in (b"POST / HTTP/1.1", b"Host: a", b"Transfer-Encoding: chunked", b"", b"1"):
        parser.line_received(setup)
    parser.data_received(b"x")
    assert (parser.state, parser.max_line_length) == (State.CHUNK_END, 0)
    with pytest.raises(BadRequest):
        parser.line_received(line)
    assert parser.state is State.FAILED


def test_chunk_size_line_at_its_limit_is_accepted() -> None:
    """A chunk-size line of exactly MAX_CHUNK_LINE bytes (with an extension) parses."""
    size_line = b"5;" + b"e" * (MAX_CHUNK_LINE - 2)
    assert one(chunked(body=size_line + b"\r\nhello\r\n0\r\n\r\n")).body == b"hello"


def test_chunk_size_line_over_its_limit_is_400() -> None:
    """A chunk-size line over MAX_CHUNK_LINE is refused with 400."""
    size_line = b"5;" + b"e" * (MAX_CHUNK_LINE - 1)
    error = refused(chunked(body=size_line + b"\r\nhello\r\n0\r\n\r\n"))
    assert_error(error, BadRequest, 400)


def test_trailers_are_parsed_and_kept_apart() -> None:
    """Trailer fields are validated like header fields and delivered as trailers, not headers."""
    message = one(chunked(body=b"5\r\nhello\r\n0\r\nX-Sum:  abc \r\nX-Two: 2\r\n\r\n"))
    assert list(message.trailers) == [(b"x-sum", b"abc"), (b"x-two", b"2")]
    assert b"x-sum" not in message.head.headers
    assert message.body == b"hello"


# Trailer lines that would be bad header lines.
MALFORMED_TRAILERS = [
    b"X-A : b", b"X A: b", b": b", b"X-A: a\x00b", b"X-A: a\rb", b"X-A", b" folded",
]


@pytest.mark.parametrize(
    "trailer",
    MALFORMED_TRAILERS,
)
def test_malformed_trailers_are_400(trailer: bytes) -> None:
    """A trailer line that would be a bad header line is refused with 400."""
    error = refused(chunked(body=b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n\r\n"))
    assert_error(error, BadRequest, 400)


def test_too_many_trailers_is_431() -> None:
    """More than max_headers trailer fields get 431."""
    trailers = b"".join(b"T-%d: v\r\n" % i for i in range(SMALL.max_headers + 1))
    error = refused(chunked(body=b"0\r\n" + trailers + b"\r\n"), SMALL)
    assert_error(error, HeaderFieldsTooLarge, 431)


def test_trailers_get_a_head_budget_of_their_own() -> None:
    """A full-size head may be followed by a full-size trailer section; one byte more is 431."""
    head = sized_head(SMALL.max_head_size, fields=b"Transfer-Encoding: chunked\r\n")
    trailers = filler(SMALL.max_head_size - 2) + b"\r\n"
    message = one(head + b"1\r\nx\r\n0\r\n" + trailers, SMALL)
    assert (message.body, len(message.trailers)) == (b"x", 4)
    over = filler(SMALL.max_head_size - 1) + b"\r\n"
    assert_error(refused(head + b"1\r\nx\r\n0\r\n" + over, SMALL), HeaderFieldsTooLarge, 431)


def test_over_long_trailer_line_is_431() -> None:
    """A trailer line over max_header_line gets 431."""
    trailer = b"X:" + b"v" * (SMALL.max_header_line - 1)
    error = refused(chunked(body=b"0\r\n" + trailer + b"\r\n\r\n"), SMALL)
    assert_error(error, HeaderFieldsTooLarge, 431)


def test_chunked_body_at_max_body_size_is_accepted() -> None:
    """Chunks adding up to exactly max_body_size are accepted."""
    message = one(chunked(body=b"a\r\n0123456789\r\n6\r\nabcdef\r\n0\r\n\r\n"), SMALL)
    assert message.body == b"0123456789abcdef"


def test_chunked_body_over_max_body_size_is_413_at_the_size_line() -> None:
    """The chunk that takes the total past max_body_size is refused before its data is read."""
    outcome = parse(chunked(body=b"a\r\n0123456789\r\n7\r\n"), SMALL)
    assert outcome.error is not None
    assert_error(outcome.error, ContentTooLarge, 413)
    assert outcome.messages[0].body == b"0123456789"


def test_huge_chunk_size_is_413_not_a_crash() -> None:
    """A 16-digit chunk size is well formed and refused by the size limit."""
    assert_error(refused(chunked(body=b"ffffffffffffffff\r\n")), ContentTooLarge, 413)


def test_zero_max_body_size_still_takes_empty_bodies() -> None:
    """With max_body_size 0, an empty chunked body and Content-Length: 0 still parse."""
    config = attrs.evolve(SMALL, max_body_size=0)
    assert one(chunked(body=b"0\r\n\r\n"), config).body == b""
    assert one(req(b"POST / HTTP/1.1", b"Content-Length: 0"), config).body == b""
    assert_error(refused(chunked(body=b"1\r\n"), config), ContentTooLarge, 413)


# -- pipelining and leftovers ---------------------------------------------------


def test_pipelined_requests_are_parsed_in_order_with_their_bodies() -> None:
    """Bytes after a body are the next request: length, chunked and bodiless requests in a row."""
    stream = (
        req(b"POST /1 HTTP/1.1", b"Content-Length: 5", body=b"hello")
        + chunked(body=b"3\r\nabc\r\n0\r\nT: 1\r\n\r\n")
        + b"\r\n"  # a stray CRLF after a body, as some clients send
        + req(b"GET /3 HTTP/1.0")
        + req(b"PUT /4 HTTP/1.1", b"Content-Length: 3", body=b"GET")
    )
    outcome = parse(stream)
    assert outcome.error is None
    assert [(m.head.method, m.head.path, m.body, list(m.trailers)) for m in outcome.messages] == [
        (b"POST", b"/1", b"hello", []),
        (b"POST", b"/", b"abc", [(b"t", b"1")]),
        (b"GET", b"/3", b"", []),
        (b"PUT", b"/4", b"GET", []),
    ]


def test_body_that_looks_like_a_request_is_body() -> None:
    """A Content-Length body holding request bytes is delivered as body, not parsed."""
    inner = req(b"GET /smuggled HTTP/1.1")
    message = one(req(b"POST / HTTP/1.1", b"Content-Length: %d" % len(inner), body=inner))
    assert message.body == inner


def test_error_in_a_later_request_keeps_the_earlier_ones() -> None:
    """A bad request after good ones fails alone; what was parsed before stands."""
    outcome = parse(req() + req(b"GET /a#b HTTP/1.1") + req(b"GET /never HTTP/1.1"))
    assert [m.head.path for m in outcome.messages] == [b"/"]
    assert outcome.error is not None
    assert_error(outcome.error, BadRequest, 400)


# -- Expect (RFC 9110 §10.1.1) --------------------------------------------------


@pytest.mark.parametrize(
    ("first", "fields", "expected"),
    [
        (b"POST / HTTP/1.1", (b"Content-Length: 5", b"Expect: 100-continue"), True),
        (b"POST / HTTP/1.1", (b"Content-Length: 5", b"Expect: 100-Continue"), True),
        (b"POST / HTTP/1.1", (b"Transfer-Encoding: chunked", b"Expect: 100-continue"), True),
        (b"POST / HTTP/1.1", (b"Content-Length: 0", b"Expect: 100-continue"), False),
        (b"GET / HTTP/1.1", (b"Expect: 100-continue",), False),
        (b"POST / HTTP/1.1", (b"Content-Length: 5",), False),
        (b"POST / HTTP/1.0", (b"Content-Length: 5", b"Expect: 100-continue"), False),
    ],
)
def test_expect_continue_only_on_http_11_with_a_body(
    first: bytes, fields: tuple[bytes, ...], expected: bool
) -> None:
    """expect_continue is set for 100-continue on 1.1 with a body; ignored on 1.0 or without one."""
    assert feed([req(first, *fields)]).heads[0].expect_continue is expected


@pytest.mark.parametrize(
    ("first", "value"),
    [
        (b"POST / HTTP/1.1", b"something"),
        (b"POST / HTTP/1.1", b"100-continue, something"),
        (b"POST / HTTP/1.1", b"100-continue; x=1"),
        (b"POST / HTTP/1.0", b"something"),
    ],
)
def test_other_expectations_are_417(first: bytes, value: bytes) -> None:
    """Any expectation other than 100-continue is refused with 417."""
    error = refused(req(first, b"Content-Length: 1", b"Expect: " + value, body=b"x"))
    assert_error(error, ExpectationFailed, 417)


# -- persistence (RFC 9112 §9.3) ------------------------------------------------


@pytest.mark.parametrize(
    ("version", "fields", "expected"),
    [
        (b"HTTP/1.1", (), True),
        (b"HTTP/1.1", (b"Connection: close",), False),
        (b"HTTP/1.1", (b"Connection: Keep-Alive, CLOSE",), False),
        (b"HTTP/1.1", (b"Connection: upgrade",), True),
        (b"HTTP/1.0", (), False),
        (b"HTTP/1.0", (b"Connection: keep-alive",), True),
        (b"HTTP/1.0", (b"Connection: Keep-Alive",), True),
        (b"HTTP/1.0", (b"Connection: keep-alive, close",), False),
    ],
)
def test_head_carries_keep_alive(version: bytes, fields: tuple[bytes, ...], expected: bool) -> None:
    """keep_alive follows the version's default and the Connection options."""
    assert one(req(b"GET / " + version, *fields)).head.keep_alive is expected


# -- the parser's own interface -------------------------------------------------


def test_mode_and_line_limit_follow_the_state() -> None:
    """wants_line and max_line_length are derived from the state at each step."""
    parser = RequestParser(SMALL)
    seen: list[tuple[object, ...]] = [(parser.state, parser.wants_line, parser.max_line_length)]
    parser.line_received(b"POST / HTTP/1.1")
    seen.append((parser.state, parser.wants_line, parser.max_line_length))
    parser.line_received(b"Host: a")
    parser.line_received(b"Transfer-Encoding: chunked")
    assert parser.line_received(b"") is not None
    seen.append((parser.state, parser.wants_line, parser.max_line_length))
    parser.line_received(b"3")
    seen.append((parser.state, parser.wants_line, parser.max_line_length))
    assert parser.data_received(b"abc") == (b"abc", b"")
    seen.append((parser.state, parser.wants_line, parser.max_line_length))
    parser.line_received(b"")
    parser.line_received(b"0")
    seen.append((parser.state, parser.wants_line, parser.max_line_length))
    parser.line_received(b"")
    seen.append((parser.state, parser.wants_line))
    head_left = SMALL.max_head_size - len(b"POST / HTTP/1.1\r\n") - 2
    assert seen == [
        (State.REQUEST_LINE, True, SMALL.max_request_line),
        (State.HEADERS, True, SMALL.max_header_line),
        (State.CHUNK_SIZE, True, MAX_CHUNK_LINE),
        (State.CHUNK_DATA, False, 0),
        (State.CHUNK_END, True, 0),
        (State.TRAILERS, True, SMALL.max_header_line),
        (State.DONE, False),
    ]
    assert head_left > SMALL.max_header_line  # so the header-line limit is what applied


def test_line_limit_shrinks_as_the_head_fills() -> None:
    """Near the end of the head budget, max_line_length is what is left of it, less the CRLF."""
    parser = RequestParser(SMALL)
    parser.line_received(b"GET / HTTP/1.1")  # 16 bytes with CRLF
    for _ in range(3):
        parser.line_received(b"X:" + b"v" * 62)  # 66 bytes each
    assert parser.max_line_length == SMALL.max_head_size - 16 - 3 * 66 - 2


def test_data_received_returns_what_follows_the_body() -> None:
    """data_received consumes only the body's bytes and hands back the rest."""
    parser = RequestParser(DEFAULT)
    parser.line_received(b"POST / HTTP/1.1")
    parser.line_received(b"Host: a")
    parser.line_received(b"Content-Length: 3")
    parser.line_received(b"")
    assert parser.data_received(b"ab") == (b"ab", b"")
    assert parser.data_received(b"cGET") == (b"c", b"GET")
    assert parser.state is State.DONE


@pytest.mark.parametrize(
    ("lines", "kind", "status"),
    [
        ((), URITooLong, 414),
        ((b"GET / HTTP/1.1",), HeaderFieldsTooLarge, 431),
        ((b"POST / HTTP/1.1", b"Host: a", b"Transfer-Encoding: chunked", b""), BadRequest, 400),
    ],
)
def test_line_too_long_names_the_right_error(
    lines: tuple[bytes, ...], kind: type[ProtocolError], status: int
) -> None:
    """line_too_long gives 414 on the request line, 431 in the head, 400 in a chunked body."""
    parser = RequestParser(DEFAULT)
    for line in lines:
        parser.line_received(line)
    assert_error(parser.line_too_long(b"GET /" + b"a" * 9000), kind, status)
    assert parser.state is State.FAILED


def test_start_next_resets_for_the_next_request() -> None:
    """After start_next the parser reads a fresh request, with the old trailers gone."""
    parser = RequestParser(DEFAULT)
    for line in (b"POST / HTTP/1.1", b"Host: a", b"Transfer-Encoding: chunked", b"", b"0",
                 b"T: 1", b""):
        parser.line_received(line)
    assert list(parser.trailers) == [(b"t", b"1")]
    parser.start_next()
    assert (parser.state, list(parser.trailers)) == (State.REQUEST_LINE, [])
    parser.line_received(b"GET /2 HTTP/1.0")
    head = parser.line_received(b"")
    assert head is not None and list(head.headers) == []


def test_start_next_before_done_is_a_bug() -> None:
    """start_next mid-request is a caller bug, caught by an assertion."""
    parser = RequestParser(DEFAULT)
    parser.line_received(b"GET / HTTP/1.1")
    with pytest.raises(AssertionError):
        parser.start_next()


def test_errors_do_not_echo_the_request() -> None:
    """Error messages (sent to the client) say which rule broke, never the bytes received."""
    for data in (
        req(b"GET /#<script> HTTP/1.1"),
        req(b"GET / HTTP/1.1", b"<script>: x"),
        req(b"GET / HTTP/1.1", b"Host: <script>"),
        chunked(body=b"<script>\r\n"),
        req(b"GET / HTTP/9.<"),
    ):
        error = refused(data)
        assert "<" not in error.message and "script" not in error.message, error.message


# -- Hypothesis properties ------------------------------------------------------

_TCHAR = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
_PCHAR = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
_FRAMING = {b"host", b"content-length", b"transfer-encoding", b"expect", b"connection"}
_VALUE_BYTES = [b for b in range(256) if b >= 0x20 and b != 0x7F] + [0x09]

tokens = st.text(_TCHAR, min_size=1, max_size=12).map(str.encode)
pct_encoded = st.integers(0, 255).map(lambda b: f"%{b:02X}")


def _uri_text(extra: str) -> st.SearchStrategy[bytes]:
    piece = st.one_of(st.sampled_from(_PCHAR + extra), pct_encoded)
    return st.lists(piece, max_size=10).map("".join).map(str.encode)


paths = st.lists(_uri_text(""), min_size=1, max_size=4).map(lambda s: b"/" + b"/".join(s))
queries = st.none() | _uri_text("/?")
ows = st.sampled_from([b"", b" ", b"\t", b" \t "])
field_values = st.lists(st.sampled_from(_VALUE_BYTES), max_size=20).map(
    lambda v: bytes(v).strip(b" \t")
)
field_names = tokens.filter(lambda n: n.lower() not in _FRAMING)


@attrs.frozen
class Generated:
    """A request's bytes and what the parser must make of them."""

    data: bytes
    method: bytes
    target: bytes
    path: bytes
    query: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    body_length: int | None
    trailers: list[tuple[bytes, bytes]]

    def check(self, message: Message) -> None:
        head = message.head
        assert (head.method, head.target, head.path, head.query, head.version) == (
            self.method, self.target, self.path, self.query, self.version,
        )
        assert list(head.headers) == self.headers
        assert head.host == dict(self.headers).get(b"host", b"")
        assert (head.body_length, message.body) == (self.body_length, self.body)
        assert list(message.trailers) == self.trailers
        assert head.keep_alive is (self.version == b"HTTP/1.1")
        assert head.expect_continue is False
        assert message.complete


@st.composite
def requests(draw: st.DrawFn) -> Generated:
    """A valid request: any method token, origin-form target, fields, and a framed body."""
    method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE"]) | tokens.filter(
        lambda m: m != b"CONNECT"))
    path, query = draw(paths), draw(queries)
    target = path if query is None else path + b"?" + query
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]))
    sent: list[tuple[bytes, bytes]] = []
    expected: list[tuple[bytes, bytes]] = []

    def field(name: bytes, value: bytes) -> None:
        sent.append((name, draw(ows) + value + draw(ows)))
        expected.append((name.lower(), value))

    if version == b"HTTP/1.1" or draw(st.booleans()):
        field(draw(st.sampled_from([b"Host", b"host", b"HOST"])),
              draw(st.sampled_from([b"example.com", b"a:8080", b"[::1]", b"a:"])))
    for name, value in draw(st.lists(st.tuples(field_names, field_values), max_size=6)):
        field(name, value)
    body = draw(st.binary(max_size=100))
    trailers: list[tuple[bytes, bytes]] = []
    if version == b"HTTP/1.1" and draw(st.booleans()):
        field(b"Transfer-Encoding", b"chunked")
        cuts = draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=4))
        pieces = [piece for piece in split_at(body, cuts) if piece]
        exts = draw(st.lists(st.sampled_from([b"", b";a", b";a=b", b' ; n = "q v"']),
                             min_size=len(pieces), max_size=len(pieces)))
        framed = b"".join(
            chunk(piece).replace(b"\r\n", ext + b"\r\n", 1)
            for piece, ext in zip(pieces, exts, strict=True)
        )
        sent_trailers = []
        for name, value in draw(st.lists(st.tuples(field_names, field_values), max_size=3)):
            sent_trailers.append(b"%s:%s%s%s\r\n" % (name, draw(ows), value, draw(ows)))
            trailers.append((name.lower(), value))
        framed += b"0\r\n" + b"".join(sent_trailers) + b"\r\n"
        length: int | None = None
    else:
        if body or draw(st.booleans()):
            field(b"Content-Length", b"%d" % len(body))
        framed, length = body, len(body)
    data = request_bytes(method, target, sent, framed, version)
    return Generated(
        data, method, target, path, query or b"", version, expected, body, length, trailers,
    )


@given(requests())
def test_serialized_requests_round_trip(generated: Generated) -> None:
    """request_bytes of any valid request parses back to the same method, target, fields, body."""
    generated.check(one(generated.data))


@given(st.lists(requests(), min_size=1, max_size=4), st.lists(st.integers(0, 2000), max_size=12))
def test_any_split_of_a_pipelined_stream_parses_the_same(
    generated: list[Generated], cuts: list[int]
) -> None:
    """However a stream of pipelined requests is cut into pieces, the same requests come out."""
    stream = b"".join(g.data for g in generated)
    whole = feed([stream])
    assert whole.error is None and whole.state is State.REQUEST_LINE
    assert len(whole.messages) == len(generated)
    for g, message in zip(generated, whole.messages, strict=True):
        g.check(message)
    assert feed(split_at(stream, cuts)).summary() == whole.summary()


_PREFIXES = [
    b"",
    b"GET / HTTP/1.1\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
]


@given(
    st.sampled_from(_PREFIXES),
    st.binary(max_size=300),
    st.lists(st.integers(0, 400), max_size=8),
    st.sampled_from([DEFAULT, SMALL]),
)
def test_random_bytes_parse_or_raise_protocol_error(
    prefix: bytes, noise: bytes, cuts: list[int], config: ServerConfig
) -> None:
    """Arbitrary bytes, in any split, end in requests or a ProtocolError; nothing else, no hang."""
    data = prefix + noise
    whole = feed([data], config)  # any other exception fails the test
    assert feed(split_at(data, cuts), config).summary() == whole.summary()
    if whole.error is not None:
        assert whole.error.status in {400, 413, 414, 417, 431, 501, 505}


_MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["replace", "insert", "delete"]), st.integers(0, 10_000),
              st.sampled_from(list(b"\x00\t\n\r :;,\"#%/?@0aZ\x7f\x80\xff"))),
    min_size=1, max_size=4,
)


@given(requests(), _MUTATIONS, st.lists(st.integers(0, 400), max_size=6))
def test_mutated_requests_parse_or_raise_protocol_error(
    generated: Generated, mutations: list[tuple[str, int, int]], cuts: list[int]
) -> None:
    """A valid request with bytes replaced, inserted or deleted parses or is refused, any split."""
    data = bytearray(generated.data)
    for op, where, byte in mutations:
        where %= len(data) + 1
        if op == "insert":
            data.insert(where, byte)
        elif where < len(data):
            if op == "replace":
                data[where] = byte
            else:
                del data[where]
    whole = feed([bytes(data)])
    assert feed(split_at(bytes(data), cuts)).summary() == whole.summary()
    assert feed(bytewise(bytes(data))).summary() == whole.summary()


@given(tokens.filter(lambda m: m != b"CONNECT"), st.integers(0, 40))
def test_a_method_is_taken_up_to_32_bytes_and_501_past_them(method: bytes, extra: int) -> None:
    """Any token method up to MAX_METHOD parses; past it, 501 (RFC 9110 §9.1), never 414."""
    method = (method * 40)[: len(method) + extra]
    outcome = parse(req(method + b" / HTTP/1.1"))
    if len(method) <= 32:
        assert outcome.error is None and outcome.heads[0].method == method
    else:
        assert outcome.error is not None
        assert_error(outcome.error, MethodNotImplemented, 501)


digits = st.sampled_from(string.digits).map(str.encode)


@given(digits, digits)
def test_any_http_version_is_1_0_1_1_or_505(major: bytes, minor: bytes) -> None:
    """HTTP/1.x is 1.0 or (x >= 1) 1.1 (RFC 9112 §2.3); any other major version is 505."""
    version = b"HTTP/" + major + b"." + minor
    outcome = parse(req(b"GET / " + version, b"Host: a"))
    if major == b"1":
        assert outcome.error is None
        assert outcome.heads[0].version == (b"HTTP/1.0" if minor == b"0" else b"HTTP/1.1")
    else:
        assert outcome.error is not None
        assert_error(outcome.error, VersionNotSupported, 505)
