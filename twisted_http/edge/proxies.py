"""Trusted proxies: who the client is, and how it asked, when a proxy in front says so.

A proxy in front of minihttp (nginx, HAProxy, a cloud balancer) connects on
the client's behalf, so the connection's peer is the proxy. It tells the
client's address, scheme and host in request headers: ``Forwarded`` (RFC
7239) or the older ``X-Forwarded-For``/``-Proto``/``-Host``/``-Port``. Anyone
can send those headers, so they are believed only from a peer listed in
``--trusted-proxy``; from any other peer they pass through untouched and
change nothing.

Theory of operation. Each proxy appends one hop to the chain: in
``Forwarded`` one element (``for=`` who connected to it, ``proto=`` and
``host=`` what that connection used), in ``X-Forwarded-For`` one address.
Walking the chain from the right, every hop a trusted proxy added is
believed; the first address that is not itself a trusted proxy is the client
(the one hop that no trusted proxy can vouch for is where trust ends: what
lies to its left the client wrote itself). If every hop is trusted, the
left-most is the client. ``Forwarded`` wins over the X- headers when both
are there, since it is the standard one and carries everything in one hop.

Malformed values are ignored, never half-believed: a ``Forwarded`` header
that does not parse, or a chain whose hop at the decision point is not an
address, leaves the address as the peer's; a ``proto`` other than http or
https, a host that is not a valid Host value, or a port that is not one, is
ignored on its own. ``for=unknown`` and obfuscated names (``for=_hidden``)
are valid but name no address: the client is then unknown, so the peer's
address stays, while the scheme and host of that hop still apply.

This module is pure: bytes and strings in, values out. ``Forwarding`` applies
it to a request's ``ConnectionInfo`` and host (the channel calls it once per
request, only when trusted proxies are configured).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple

import attrs

from ..channel.request import ConnectionInfo
from ..wire.errors import ProtocolError
from ..wire.headers import Headers
from ..wire.requestline import check_host

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

ANY = "*"  # every peer is a trusted proxy
UNIX = "unix"  # peers on UNIX sockets (nginx in front on the same machine)


def _address(text: str) -> Address | None:
    """An IP address; IPv4-mapped IPv6 (``::ffff:10.0.0.1``) as the IPv4 one it is."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@attrs.frozen
class TrustedProxies:
    """The peers whose forwarding headers are believed. Empty: nobody's are."""

    networks: tuple[Network, ...] = ()
    any_peer: bool = False
    unix: bool = False

    @classmethod
    def parse(cls, specs: Iterable[str]) -> TrustedProxies:
        """From ``--trusted-proxy`` values: CIDRs, single addresses, ``*`` or ``unix``.

        ValueError, naming the value, for anything else.
        """
        networks: list[Network] = []
        any_peer = unix = False
        for spec in specs:
            text = spec.strip()
            if text == ANY:
                any_peer = True
            elif text == UNIX:
                unix = True
            else:
                try:
                    # strict=False: 10.0.0.1/8 is taken as 10.0.0.0/8, as nginx's
                    # set_real_ip_from does, rather than refused.
                    network = ipaddress.ip_network(text, strict=False)
                except ValueError:
                    raise ValueError(
                        f"trusted_proxy must be a CIDR (10.0.0.0/8), an address, {ANY!r} or"
                        f" {UNIX!r}, not {spec!r}") from None
                networks.append(network)
        return cls(tuple(networks), any_peer, unix)

    def __bool__(self) -> bool:
        return bool(self.networks) or self.any_peer or self.unix

    def trusts(self, host: str | None) -> bool:
        """Whether a peer at ``host`` (None: a UNIX socket) is a trusted proxy."""
        if self.any_peer:
            return True
        if host is None:
            return self.unix
        address = _address(host)
        return address is not None and self.trusts_address(address)

    def trusts_address(self, address: Address) -> bool:
        return self.any_peer or any(address in network for network in self.networks)


# -- nodes: the for= of one hop, or one X-Forwarded-For member ----------------------------


class Node(NamedTuple):
    """One hop's client: an address and maybe a port, or ``address`` None when the
    proxy hid it (``unknown``, an obfuscated ``_name``)."""

    address: Address | None
    port: int | None


_PORT = re.compile(r"[0-9]{1,5}")
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+")  # RFC 7239 §6.3 obfnode and §6.2 obfport


def _port(text: str) -> int | None:
    if _PORT.fullmatch(text) is None:
        return None
    port = int(text)
    return port if 0 < port <= 65535 else None


def _node_address(text: str) -> Address | None:
    """A hop's address; None for one with a zone id (``fe80::1%eth0``), which names no
    client and in which ``ipaddress`` takes any text at all (``%<script>``)."""
    address = _address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return address


def parse_node(text: str) -> Node | None:
    """``for=`` values and X-Forwarded-For members; None if malformed.

    ``192.0.2.1``, ``192.0.2.1:4711``, ``[2001:db8::1]``, ``[2001:db8::1]:4711``,
    and (X-Forwarded-For only, but harmless here) a bare ``2001:db8::1``.
    """
    if text.lower() == "unknown" or _OBFUSCATED.fullmatch(text):
        return Node(None, None)
    port: int | None = None
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if not bracket or not inside:
            return None
        host = inside
        if rest:
            if not rest.startswith(":"):
                return None
            port_text = rest[1:]
            if _OBFUSCATED.fullmatch(port_text):
                port = None
            else:
                port = _port(port_text)
                if port is None:
                    return None
        address = _node_address(host)
        return None if address is None or address.version != 6 else Node(address, port)
    if text.count(":") == 1:  # IPv4 with a port
        host, _, port_text = text.partition(":")
        if not _OBFUSCATED.fullmatch(port_text):
            port = _port(port_text)
            if port is None:
                return None
        text = host
    address = _node_address(text)
    return None if address is None else Node(address, port)


# -- Forwarded (RFC 7239) -----------------------------------------------------------------

_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
# RFC 7230 §3.2.6 quoted-string: qdtext is HTAB, SP, VCHAR but '"' and '\', obs-text.
_QUOTED = rb'"((?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*)"'
_PAIR = re.compile(rb"(" + _TCHAR + rb"+)=(?:(" + _TCHAR + rb"+)|" + _QUOTED + rb")")
_ESCAPE = re.compile(rb"\\(.)", re.S)
_OWS = b" \t"


def parse_forwarded(value: bytes) -> list[dict[str, str]] | None:
    """The hops of a ``Forwarded`` value, left to right, parameter names lower-cased;
    None if it does not follow RFC 7239 §4 (a parameter twice in one hop included)."""
    elements: list[dict[str, str]] = [{}]
    position, end = 0, len(value)
    while position < end:
        byte = value[position]
        if byte in _OWS:
            position += 1
        elif byte == 0x2C:  # "," a new hop
            elements.append({})
            position += 1
        elif byte == 0x3B:  # ";" the next pair of this hop
            position += 1
        else:
            match = _PAIR.match(value, position)
            if match is None:
                return None
            name = match[1].decode("ascii").lower()
            raw = match[2] if match[2] is not None else _ESCAPE.sub(rb"\1", match[3])
            if name in elements[-1]:
                return None
            elements[-1][name] = raw.decode("latin-1")
            position = match.end()
            while position < end and value[position] in _OWS:
                position += 1
            if position < end and value[position] not in b",;":
                return None  # two pairs with no ";" between them
    return [element for element in elements if element]


# -- the decision -------------------------------------------------------------------------


class Forwarded(NamedTuple):
    """What the trusted proxies say about the client's own connection; None: not said."""

    client: Node | None  # None: the chain names no client (keep the peer)
    scheme: bytes | None  # b"http" or b"https"
    host: bytes | None  # a valid Host value
    port: int | None


_NOTHING = Forwarded(None, None, None, None)


def _scheme(text: str | None) -> bytes | None:
    if text is None:
        return None
    lowered = text.strip().lower()
    return lowered.encode("ascii") if lowered in ("http", "https") else None


def _host(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        raw = text.strip().encode("latin-1")
        check_host(raw, from_target=False)
    except (UnicodeEncodeError, ProtocolError):
        return None
    return raw


def pick_client(chain: list[Node | None], trusted: TrustedProxies) -> int | None:
    """The index of the client in ``chain`` (left to right): the right-most hop that is
    not a trusted proxy, else the left-most. None when the walk meets a malformed hop."""
    for index in range(len(chain) - 1, -1, -1):
        node = chain[index]
        if node is None:
            return None
        if node.address is None or not trusted.trusts_address(node.address):
            return index
    return 0 if chain else None


def from_forwarded(values: list[bytes], trusted: TrustedProxies) -> Forwarded:
    """What ``Forwarded`` fields (one or several lines) say, as far as they are valid."""
    hops = parse_forwarded(b", ".join(values))
    if not hops:
        return _NOTHING
    chain = [parse_node(hop["for"]) if "for" in hop else Node(None, None) for hop in hops]
    index = pick_client(chain, trusted)
    if index is None:
        return _NOTHING
    hop = hops[index]
    return Forwarded(chain[index], _scheme(hop.get("proto")), _host(hop.get("host")), None)


def _members(values: list[bytes]) -> list[str]:
    return [member.strip(" \t") for value in values
            for member in value.decode("latin-1").split(",")]


def _aligned(values: list[bytes], index: int | None, hops: int) -> str | None:
    """The X-Forwarded-Proto/-Host/-Port member for the client's hop: the one at the
    client's place when each proxy appended one, else the right-most (the nearest
    proxy's, which is what a single proxy, or proxies that overwrite, send)."""
    members = _members(values)
    if not members:
        return None
    if index is not None and len(members) == hops:
        return members[index]
    return members[-1]


def from_x_forwarded(headers: Headers, trusted: TrustedProxies) -> Forwarded:
    """What ``X-Forwarded-For``/``-Proto``/``-Host``/``-Port`` say, as far as they are valid."""
    members = _members(headers.get_all(b"x-forwarded-for"))
    chain = [parse_node(member) for member in members]
    index = pick_client(chain, trusted) if chain else None
    client = chain[index] if index is not None else None
    hops = len(chain)
    port_text = _aligned(headers.get_all(b"x-forwarded-port"), index, hops)
    return Forwarded(
        client,
        _scheme(_aligned(headers.get_all(b"x-forwarded-proto"), index, hops)),
        _host(_aligned(headers.get_all(b"x-forwarded-host"), index, hops)),
        _port(port_text) if port_text is not None else None,
    )


_X_NAMES = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port")


def forwarded(headers: Headers, trusted: TrustedProxies) -> Forwarded:
    """What the forwarding headers say (``Forwarded`` first); the peer must be trusted."""
    values = headers.get_all(b"forwarded")
    if values:
        return from_forwarded(values, trusted)
    if any(name in headers for name in _X_NAMES):
        return from_x_forwarded(headers, trusted)
    return _NOTHING


def _host_port(host: bytes) -> int | None:
    """The port of a Host value, if it has one."""
    if host.startswith(b"["):
        _, _, rest = host.partition(b"]")
        text = rest[1:] if rest.startswith(b":") else b""
    else:
        _, _, text = host.rpartition(b":") if b":" in host else (b"", b"", b"")
    return _port(text.decode("ascii")) if text else None


@attrs.frozen
class Forwarding:
    """Applies trusted proxies' headers to a request's connection and host.

    Called by the channel once per request, with the connection's own
    ``ConnectionInfo`` and the request's headers and host; returns them as the
    client saw them, or the very same objects when nothing applies.
    """

    trusted: TrustedProxies

    def __call__(
        self, connection: ConnectionInfo, headers: Headers, host: bytes
    ) -> tuple[ConnectionInfo, bytes]:
        if not self.trusted.trusts(connection.client_host):
            return connection, host
        said = forwarded(headers, self.trusted)
        if said is _NOTHING:
            return connection, host
        client_host, client_port = connection.client_host, connection.client_port
        if said.client is not None and said.client.address is not None:
            client_host, client_port = str(said.client.address), said.client.port
        secure = connection.secure if said.scheme is None else said.scheme == b"https"
        server_port = connection.server_port
        if said.scheme is not None or said.host is not None or said.port is not None:
            # The port the client connected to: said outright, else in the host it
            # asked for, else its scheme's own.
            server_port = said.port or (_host_port(said.host) if said.host else None) or (
                443 if secure else 80)
        return (
            ConnectionInfo(client_host, client_port, connection.server_host, server_port,
                           secure),
            said.host if said.host is not None else host,
        )
