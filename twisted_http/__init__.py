"""minihttp: a small, strict, fast HTTP/1.1 server for static files and WSGI apps, on Twisted."""

from ._config import ServerConfig
from ._errors import (
    BadRequest,
    ContentTooLarge,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    MethodNotImplemented,
    NotImplementedCoding,
    ProtocolError,
    RequestTimeout,
    URITooLong,
    VersionNotSupported,
)
from ._factory import HTTPFactory
from ._fields import HeaderBlock
from ._headers import Headers
from ._interfaces import IBodyReceiver, IRequestHandler
from ._protocol import HTTPChannel
from ._request import ConnectionInfo, Request, RequestBody
from ._response import Response
from ._routing import Router
from ._static import StaticFiles
from ._wsgi import WSGIHandler

__all__ = [
    "BadRequest",
    "ConnectionInfo",
    "ContentTooLarge",
    "ExpectationFailed",
    "HTTPChannel",
    "HTTPFactory",
    "HeaderBlock",
    "HeaderFieldsTooLarge",
    "Headers",
    "IBodyReceiver",
    "IRequestHandler",
    "MethodNotImplemented",
    "NotImplementedCoding",
    "ProtocolError",
    "Request",
    "RequestBody",
    "RequestTimeout",
    "Response",
    "Router",
    "ServerConfig",
    "StaticFiles",
    "URITooLong",
    "VersionNotSupported",
    "WSGIHandler",
]
