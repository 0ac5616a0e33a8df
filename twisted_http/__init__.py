"""minihttp: a small, strict, fast HTTP/1.1 server for static files and WSGI apps, on Twisted."""

from .channel.factory import HTTPFactory
from .channel.interfaces import IBodyReceiver, IRequestHandler
from .channel.protocol import HTTPChannel
from .channel.request import ConnectionInfo, Request, RequestBody
from .channel.response import Response
from .channel.routing import Router
from .static.handler import StaticFiles
from .wire.errors import (
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
from .wire.fields import HeaderBlock
from .wire.headers import Headers
from .wire.limits import ServerConfig
from .wsgi.handler import WSGIHandler

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
