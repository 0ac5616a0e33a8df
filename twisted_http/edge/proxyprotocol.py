"""The PROXY protocol (HAProxy's, v1 and v2): ``--port haproxy:tcp:8080``.

A proxy working at the TCP level (HAProxy in ``mode tcp``, AWS's network load
balancers, ``send-proxy`` or ``send-proxy-v2`` on a server line) cannot add
headers, so it opens each connection with one PROXY header naming the
client's address and port, then passes the client's bytes through. The port
speaks only that: a connection whose first bytes are not a valid header, or
that sends none within the timeout, is closed without a response (anything
else would answer an attacker who reached the port past the proxy, or hand
the proxy's address to the app as the client's).

Twisted parses the header (``twisted.protocols.haproxy``) and has an endpoint
wrapper for it, but that wrapper connects the wrapped protocol before the
header has arrived. The channel learns its peer when it is connected, so it
would see the proxy. ``ProxyHeaderReader`` connects the wrapped protocol
only once the header is read, so from its first moment the channel's
``getPeer`` and ``getHost`` are the client's and the address the client
connected to. A ``LOCAL`` header (HAProxy's own health checks) or ``PROXY
UNKNOWN`` keeps the real peer.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IDelayedCall, IProtocolFactory, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone

# Twisted's PROXY parsers and wrapper: public through proxyEndpoint only, and
# unchanged since they were added (16.x). The header formats are fixed.
from twisted.protocols.haproxy._exceptions import InvalidProxyHeader
from twisted.protocols.haproxy._v1parser import V1Parser
from twisted.protocols.haproxy._v2parser import V2Parser
from twisted.protocols.haproxy._wrapper import HAProxyProtocolWrapper, HAProxyWrappingFactory
from twisted.python.failure import Failure
from zope.interface import directlyProvides, providedBy

PREFIX = "haproxy:"
# A v2 header's fixed part: signature, version and command, family, length.
_V2_FIXED = 16


def proxied(description: str) -> str | None:
    """The inner endpoint of a ``haproxy:`` endpoint string, or None for any other."""
    return description[len(PREFIX):] if description.startswith(PREFIX) else None


def _valid_address(address: IAddress | None) -> bool:
    """None (LOCAL, UNKNOWN, UNIX), or an IP address and a port that are real ones."""
    if address is None or not isinstance(address, IPv4Address | IPv6Address):
        return True
    try:
        parsed = ipaddress.ip_address(address.host)
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id is not None:
        return False  # a zone id: ipaddress takes any text in it (fe80::1%<x>)
    return parsed.version == (4 if isinstance(address, IPv4Address) else 6) and (
        0 <= address.port <= 65535)


class ProxyHeaderReader(HAProxyProtocolWrapper):
    """Reads the PROXY header, then connects the wrapped protocol; see the module doc."""

    factory: ProxyHeaderFactory

    def __init__(self, factory: ProxyHeaderFactory, wrapped: Any) -> None:
        super().__init__(factory, wrapped)  # type: ignore[arg-type]
        self._waiting = b""  # bytes read before a parser could be chosen
        self._timer: IDelayedCall | None = None
        self._connected = False

    def makeConnection(self, transport: Any) -> None:
        # ProtocolWrapper.makeConnection, minus connecting the wrapped protocol.
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        self._timer = self.factory.clock.callLater(self.factory.timeout, self._no_header)

    def dataReceived(self, data: bytes) -> None:
        if self._connected:
            self.wrappedProtocol.dataReceived(data)
            return
        if self._parser is None:
            data = self._waiting + data
            if not self._choose_parser(data):
                return
            self._waiting = b""
        assert self._parser is not None
        try:
            info, rest = self._parser.feed(data)
        except InvalidProxyHeader:
            self._refuse()
            return
        if info is None:
            return
        if not all(map(_valid_address, (info.source, info.destination))):
            self._refuse()  # Twisted's v1 parser takes any word for an address
            return
        self._proxyInfo = info
        self._cancel_timer()
        self._connected = True
        self.wrappedProtocol.makeConnection(self)  # type: ignore[arg-type]  # a transport, as ProtocolWrapper is
        if rest:
            self.wrappedProtocol.dataReceived(rest)

    def _choose_parser(self, data: bytes) -> bool:
        """Pick the parser once the first bytes tell which header this is; False to wait
        for more (or when the connection was refused)."""
        v2, v1 = V2Parser.PREFIX, V1Parser.PROXYSTR + b" "
        if data.startswith(v2):
            if len(data) < _V2_FIXED:
                self._waiting = data
                return False
            if data[12] & 0xF0 != 0x20:  # version 2 in the high nibble
                self._refuse()
                return False
            self._parser = V2Parser()
        elif data.startswith(v1):
            self._parser = V1Parser()
        elif v2.startswith(data) or v1.startswith(data):
            self._waiting = data  # a header's first bytes so far
            return False
        else:
            self._refuse()
            return False
        return True

    def _no_header(self) -> None:
        self._timer = None
        self._refuse()

    def _refuse(self) -> None:
        """No valid header: close without a word (see the module doc)."""
        self._cancel_timer()
        assert self.transport is not None
        self.transport.loseConnection()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_timer()
        if self._connected:
            super().connectionLost(reason)
        else:
            self.factory.unregisterProtocol(self)


class ProxyHeaderFactory(HAProxyWrappingFactory):
    """Wraps ``wrapped``'s connections in ``ProxyHeaderReader``; ``timeout`` seconds,
    on ``clock``, for the header to arrive."""

    protocol = ProxyHeaderReader  # type: ignore[assignment]

    def __init__(self, wrapped: IProtocolFactory, timeout: float, clock: IReactorTime) -> None:
        super().__init__(wrapped)
        self.timeout = timeout
        self.clock = clock
