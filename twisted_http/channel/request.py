"""What a handler reads: the request and where it came from (its body is ``body.py``)."""

from __future__ import annotations

from typing import NamedTuple

from twisted.internet.interfaces import ISSLTransport, ITransport

from ..wire.headers import Headers
from .body import RequestBody


class ConnectionInfo(NamedTuple):
    """The two ends of a connection; hosts and ports are None on UNIX sockets."""

    client_host: str | None
    client_port: int | None
    server_host: str | None
    server_port: int | None
    secure: bool

    @classmethod
    def from_transport(cls, transport: ITransport) -> ConnectionInfo:
        peer, host = transport.getPeer(), transport.getHost()
        return cls(
            getattr(peer, "host", None),
            getattr(peer, "port", None),
            getattr(host, "host", None),
            getattr(host, "port", None),
            ISSLTransport.providedBy(transport),
        )

    @property
    def client_name(self) -> str:
        """The client's host as log lines show it: ``-`` where there is none."""
        return "-" if self.client_host is None else self.client_host


class Request(NamedTuple):
    """One request as a handler sees it. Paths are bytes; see the field comments.

    Immutable, like every value here; a named tuple rather than a frozen attrs
    class because one is built per request and this is three times cheaper.
    ``request._replace(path_info=...)`` makes a changed copy.
    """

    method: bytes
    target: bytes  # exactly as sent
    path: bytes  # the target's path, still percent-encoded
    query: bytes  # after "?", still percent-encoded
    version: bytes  # b"HTTP/1.1" or b"HTTP/1.0"
    headers: Headers  # names lower-cased
    host: bytes  # the Host field, or the absolute-form target's authority
    script_name: bytes  # the mount prefix the request matched, percent-decoded
    path_info: bytes  # the rest of the path below the prefix, percent-decoded
    connection: ConnectionInfo
    body: RequestBody
