"""Trusted proxies (edge/proxies.py): parsing Forwarded and X-Forwarded-*, picking the client."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_http import ConnectionInfo, Headers
from twisted_http.edge.proxies import (
    Forwarding,
    Node,
    TrustedProxies,
    forwarded,
    parse_forwarded,
    parse_node,
    pick_client,
)

PROXY = ConnectionInfo("10.0.0.2", 50000, "10.0.0.1", 8080, False)
TRUSTED = TrustedProxies.parse(["10.0.0.0/8"])


def apply(pairs: list[tuple[bytes, bytes]], connection: ConnectionInfo = PROXY,
          trusted: TrustedProxies = TRUSTED, host: bytes = b"backend:8080"
          ) -> tuple[ConnectionInfo, bytes]:
    return Forwarding(trusted)(connection, Headers(pairs), host)


# -- --trusted-proxy values ------------------------------------------------------------------


def test_trusted_proxies_parse_cidrs_addresses_any_and_unix() -> None:
    trusted = TrustedProxies.parse(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "unix"])
    assert trusted.trusts("10.1.2.3") and trusted.trusts("192.0.2.7")
    assert trusted.trusts("2001:db8::5") and trusted.trusts(None)
    assert not trusted.trusts("192.0.2.8") and not trusted.trusts("2001:db9::1")
    assert not TrustedProxies.parse(["10.0.0.0/8"]).trusts(None)  # UNIX peers: only by "unix"
    assert TrustedProxies.parse(["*"]).trusts("203.0.113.9")
    assert TrustedProxies.parse(["*"]).trusts(None)
    assert not TrustedProxies() and TrustedProxies.parse(["unix"])


def test_ipv4_mapped_peers_match_ipv4_networks() -> None:
    """A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d."""
    assert TRUSTED.trusts("::ffff:10.0.0.2")


def test_host_bits_are_dropped_as_nginx_does() -> None:
    assert TrustedProxies.parse(["10.0.0.1/8"]).trusts("10.200.0.1")


@pytest.mark.parametrize("bad", ["", "10.0.0.0/33", "example.com", "10.0.0.0/8,", "all"])
def test_bad_trusted_proxy_values_are_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="trusted_proxy must be") as error:
        TrustedProxies.parse([bad])
    assert repr(bad) in str(error.value)


def test_garbage_peer_address_is_not_trusted() -> None:
    assert not TRUSTED.trusts("not an address")


# -- nodes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "node"), [
    ("192.0.2.60", Node(ipaddress.ip_address("192.0.2.60"), None)),
    ("192.0.2.60:4711", Node(ipaddress.ip_address("192.0.2.60"), 4711)),
    ("[2001:db8:cafe::17]", Node(ipaddress.ip_address("2001:db8:cafe::17"), None)),
    ("[2001:db8:cafe::17]:4711", Node(ipaddress.ip_address("2001:db8:cafe::17"), 4711)),
    ("2001:db8:cafe::17", Node(ipaddress.ip_address("2001:db8:cafe::17"), None)),
    ("unknown", Node(None, None)),
    ("UNKNOWN", Node(None, None)),
    ("_hidden", Node(None, None)),
    ("192.0.2.60:_port", Node(ipaddress.ip_address("192.0.2.60"), None)),
])
def test_nodes(text: str, node: Node) -> None:
    assert parse_node(text) == node


@pytest.mark.parametrize("text", [
    "", "example.com", "192.0.2.256", "192.0.2.60:", "192.0.2.60:0", "192.0.2.60:65536",
    "192.0.2.60:http", "[192.0.2.60]", "[2001:db8::1", "[2001:db8::1]x", "[]", "_",
    "1.2.3.4 5.6.7.8",
    # A zone id is no part of a client's address, and ipaddress takes any text in it.
    "fe80::1%<script>", "[fe80::1%<x>]:80", "[fe80::1%eth0]",
])
def test_malformed_nodes(text: str) -> None:
    assert parse_node(text) is None


# -- Forwarded syntax (RFC 7239 §4) -------------------------------------------------------


@pytest.mark.parametrize(("value", "hops"), [
    (b"for=192.0.2.43", [{"for": "192.0.2.43"}]),
    (b'For="[2001:db8:cafe::17]:4711"', [{"for": "[2001:db8:cafe::17]:4711"}]),
    (b"for=192.0.2.60;proto=http;by=203.0.113.43",
     [{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}]),
    (b"for=192.0.2.43, for=198.51.100.17", [{"for": "192.0.2.43"}, {"for": "198.51.100.17"}]),
    (b'for="a\\"b;c,d"', [{"for": 'a"b;c,d'}]),
    (b" for=a ; proto=https ,, for=b ", [{"for": "a", "proto": "https"}, {"for": "b"}]),
    (b"", []),
])
def test_forwarded_parses(value: bytes, hops: list[dict[str, str]]) -> None:
    assert parse_forwarded(value) == hops


@pytest.mark.parametrize("value", [
    b"for", b"for=", b"=a", b"for=a for=b", b"for=a;for=b", b'for="open', b"for=[::1]",
    b"for=a;proto", b'for="a"b', b"f\xf6r=a", b"for=\x00",
])
def test_malformed_forwarded_is_refused_whole(value: bytes) -> None:
    assert parse_forwarded(value) is None


_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~!", min_size=1, max_size=8)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.lists(st.dictionaries(_TOKEN, _VALUE, min_size=1, max_size=4), max_size=5))
def test_forwarded_round_trips(hops: list[dict[str, str]]) -> None:
    """Any hops, serialized with every value quoted, parse back to themselves."""
    value = ", ".join(";".join(f"{name}={_quoted(text)}" for name, text in hop.items())
                      for hop in hops)
    assert parse_forwarded(value.encode()) == hops


@given(st.binary(max_size=64))
def test_forwarded_parser_never_raises(value: bytes) -> None:
    result = parse_forwarded(value)
    assert result is None or isinstance(result, list)


# -- picking the client -------------------------------------------------------------------


def _node(text: str) -> Node:
    node = parse_node(text)
    assert node is not None
    return node


def test_client_is_the_right_most_untrusted_address() -> None:
    chain = [_node(a) for a in ("198.51.100.1", "203.0.113.5", "10.0.0.7", "10.0.0.8")]
    assert pick_client(chain, TRUSTED) == 1  # 198.51.100.1 is what 203.0.113.5 claimed


def test_all_trusted_gives_the_left_most() -> None:
    chain = [_node(a) for a in ("10.0.0.5", "10.0.0.6")]
    assert pick_client(chain, TRUSTED) == 0


def test_a_malformed_hop_before_the_client_stops_the_walk() -> None:
    assert pick_client([_node("198.51.100.1"), None], TRUSTED) is None
    # ...but one left of the client is the client's own writing, and harmless.
    assert pick_client([None, _node("198.51.100.1")], TRUSTED) == 1


_IPV4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))


@given(st.lists(_IPV4, min_size=1, max_size=6), st.lists(_IPV4, max_size=3))
def test_pick_client_property(chain: list[str], trusted_list: list[str]) -> None:
    """The picked hop is untrusted (or everything is), and every hop right of it trusted."""
    trusted = TrustedProxies.parse(trusted_list)
    nodes = [_node(a) for a in chain]
    index = pick_client(nodes, trusted)
    assert index is not None
    assert all(trusted.trusts(a) for a in chain[index + 1:])
    assert not trusted.trusts(chain[index]) or index == 0 and all(map(trusted.trusts, chain))


# -- applying it --------------------------------------------------------------------------


def test_forwarded_sets_client_scheme_host_and_port() -> None:
    connection, host = apply([(b"forwarded",
                               b'for="198.51.100.1:4711";proto=https;host=example.com')])
    assert connection == ConnectionInfo("198.51.100.1", 4711, "10.0.0.1", 443, True)
    assert host == b"example.com"


def test_x_forwarded_headers_set_client_scheme_host_and_port() -> None:
    connection, host = apply([
        (b"x-forwarded-for", b"198.51.100.1, 10.0.0.9"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"example.com"),
        (b"x-forwarded-port", b"8443"),
    ])
    assert connection == ConnectionInfo("198.51.100.1", None, "10.0.0.1", 8443, True)
    assert host == b"example.com"


def test_x_forwarded_host_with_a_port_gives_that_port() -> None:
    connection, host = apply([(b"x-forwarded-host", b"example.com:8443")])
    assert (connection.server_port, host, connection.client_host) == (
        8443, b"example.com:8443", "10.0.0.2")


def test_x_forwarded_for_alone_changes_only_the_client() -> None:
    connection, host = apply([(b"x-forwarded-for", b"198.51.100.1")])
    assert connection == PROXY._replace(client_host="198.51.100.1", client_port=None)
    assert host == b"backend:8080"


def test_several_x_forwarded_for_lines_are_one_list() -> None:
    connection, _ = apply([(b"x-forwarded-for", b"198.51.100.1"),
                           (b"x-forwarded-for", b"10.0.0.3")])
    assert connection.client_host == "198.51.100.1"


def test_proto_lists_aligned_with_the_chain() -> None:
    """Each proxy appended a proto: the client's hop's is taken."""
    connection, _ = apply([(b"x-forwarded-for", b"198.51.100.1, 10.0.0.9"),
                           (b"x-forwarded-proto", b"https, http")])
    assert connection.secure


def test_forwarded_wins_over_x_forwarded() -> None:
    connection, _ = apply([(b"x-forwarded-for", b"198.51.100.9"),
                           (b"forwarded", b"for=198.51.100.1")])
    assert connection.client_host == "198.51.100.1"


def test_untrusted_peer_changes_nothing() -> None:
    stranger = PROXY._replace(client_host="203.0.113.9")
    pairs = [(b"forwarded", b"for=198.51.100.1;proto=https;host=evil.example"),
             (b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https")]
    connection, host = apply(pairs, stranger)
    assert connection is stranger and host == b"backend:8080"


def test_no_trusted_proxies_changes_nothing() -> None:
    connection, host = apply([(b"x-forwarded-for", b"198.51.100.1")], trusted=TrustedProxies())
    assert connection is PROXY


def test_spoofed_left_part_is_not_believed() -> None:
    """The client wrote a fake address; the trusted proxy appended the real one."""
    connection, _ = apply([(b"x-forwarded-for", b"127.0.0.1, 198.51.100.1")])
    assert connection.client_host == "198.51.100.1"


@pytest.mark.parametrize("pairs", [
    [(b"forwarded", b"for=198.51.100.1 for=1.2.3.4")],
    [(b"forwarded", b'for="[::1"')],
    [(b"x-forwarded-for", b"198.51.100.1, garbage")],
    [(b"x-forwarded-for", b"")],
])
def test_malformed_values_are_ignored(pairs: list[tuple[bytes, bytes]]) -> None:
    connection, host = apply(pairs)
    assert connection == PROXY and host == b"backend:8080"


@pytest.mark.parametrize(("pairs", "expected"), [
    ([(b"x-forwarded-proto", b"gopher")], PROXY),
    ([(b"x-forwarded-host", b"bad host")], PROXY),
    ([(b"x-forwarded-host", b"a/b")], PROXY),
    ([(b"x-forwarded-port", b"99999")], PROXY),
    ([(b"forwarded", b"for=198.51.100.1;proto=ftp")],
     PROXY._replace(client_host="198.51.100.1", client_port=None)),
])
def test_a_bad_value_is_ignored_alone(pairs: list[tuple[bytes, bytes]],
                                      expected: ConnectionInfo) -> None:
    connection, host = apply(pairs)
    assert connection == expected and host == b"backend:8080"


def test_unknown_client_keeps_the_peer_but_takes_the_scheme() -> None:
    connection, _ = apply([(b"forwarded", b"for=unknown;proto=https")])
    assert connection.client_host == "10.0.0.2" and connection.secure


def test_any_trusts_every_peer_and_takes_the_left_most() -> None:
    stranger = PROXY._replace(client_host="203.0.113.9")
    connection, _ = apply([(b"x-forwarded-for", b"198.51.100.1, 203.0.113.10")], stranger,
                          TrustedProxies.parse(["*"]))
    assert connection.client_host == "198.51.100.1"


def test_unix_socket_peer_trusted_by_unix() -> None:
    unix = ConnectionInfo(None, None, None, None, False)
    connection, _ = apply([(b"x-forwarded-for", b"198.51.100.1")], unix,
                          TrustedProxies.parse(["unix"]))
    assert connection.client_host == "198.51.100.1"
    assert apply([(b"x-forwarded-for", b"198.51.100.1")], unix)[0] is unix


def test_ipv6_client_in_forwarded() -> None:
    connection, _ = apply([(b"forwarded", b'for="[2001:db8::17]:4711"')])
    assert (connection.client_host, connection.client_port) == ("2001:db8::17", 4711)


def test_no_forwarding_headers_returns_the_same_objects() -> None:
    connection, host = apply([(b"accept", b"*/*")])
    assert connection is PROXY


_HEADER_NAMES = st.sampled_from([b"forwarded", b"x-forwarded-for", b"x-forwarded-proto",
                                 b"x-forwarded-host", b"x-forwarded-port"])


@given(st.lists(st.tuples(_HEADER_NAMES, st.binary(max_size=40)), max_size=5))
def test_untrusted_peer_property(pairs: list[tuple[bytes, bytes]]) -> None:
    """Whatever the headers say, an untrusted peer's request is unchanged."""
    stranger = PROXY._replace(client_host="203.0.113.9")
    connection, host = apply(pairs, stranger)
    assert connection is stranger and host == b"backend:8080"


@given(st.lists(st.tuples(_HEADER_NAMES, st.binary(max_size=40)), max_size=5))
def test_trusted_peer_never_raises_and_gives_valid_values(
        pairs: list[tuple[bytes, bytes]]) -> None:
    """From a trusted peer, any bytes give an address, a known scheme and a valid port."""
    connection, host = apply(pairs)
    assert connection.client_host is not None
    ipaddress.ip_address(connection.client_host)
    assert connection.server_port is not None and 0 < connection.server_port <= 65535
    assert host == b"backend:8080" or b" " not in host


def test_forwarded_returns_nothing_without_headers() -> None:
    assert forwarded(Headers(), TRUSTED).client is None
