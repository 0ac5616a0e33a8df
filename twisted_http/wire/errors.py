"""The protocol errors: every way a request can be refused, each carrying its status.

The parser raises these and nothing else; the channel turns one into a response
in one place (status, a short safe body, ``Connection: close``, then close).
"""

from __future__ import annotations


class ProtocolError(Exception):
    """A request the server refuses; ``status`` is what the client is told.

    The message is sent to the client as the body, so it must never echo
    request bytes: it says what rule was broken, not what was received.
    """

    status: int = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.default_message)

    default_message = "Bad request"

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadRequest(ProtocolError):
    """Malformed syntax or framing (RFC 9112 §2-§7)."""

    status = 400


class RequestTimeout(ProtocolError):
    """The request did not arrive in time (head deadline or body progress)."""

    status = 408
    default_message = "Request timeout"


class ContentTooLarge(ProtocolError):
    """The body is larger than the configured maximum (RFC 9110 §15.5.14)."""

    status = 413
    default_message = "Request body too large"


class URITooLong(ProtocolError):
    """The request line is longer than the configured maximum (RFC 9110 §15.5.15)."""

    status = 414
    default_message = "Request line too long"


class HeaderFieldsTooLarge(ProtocolError):
    """A header line, the whole head, or the header count is over its limit (RFC 6585 §5)."""

    status = 431
    default_message = "Request header fields too large"


class NotImplementedCoding(ProtocolError):
    """A transfer coding the server does not implement (RFC 9112 §6.1)."""

    status = 501
    default_message = "Transfer coding not implemented"


class VersionNotSupported(ProtocolError):
    """An HTTP version other than 1.0 or 1.1 (RFC 9110 §15.6.6)."""

    status = 505
    default_message = "HTTP version not supported"


class ExpectationFailed(ProtocolError):
    """An ``Expect`` other than ``100-continue`` (RFC 9110 §10.1.1)."""

    status = 417
    default_message = "Expectation failed"


class MethodNotImplemented(ProtocolError):
    """A method the server cannot serve at all, such as CONNECT (RFC 9110 §15.6.2)."""

    status = 501
    default_message = "Method not implemented"
