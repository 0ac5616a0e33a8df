"""minihttp: a small, strict, fast HTTP/1.1 server for static files and WSGI apps, on Twisted.

Every name below is imported on first use. Twisted imports every plugin module
whenever it looks for plugins (plain ``twistd`` does), and the handler plugins
import ``twisted_http.handlers.registry``, so importing this package must cost
nothing: the server's modules load when a name is first asked for.
"""

from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from .channel.body import IBodyReceiver, RequestBody
    from .channel.factory import HTTPFactory
    from .channel.interfaces import IRequestHandler, IResponseObserver
    from .channel.protocol import HTTPChannel
    from .channel.request import ConnectionInfo, Request
    from .channel.response import Response
    from .channel.routing import Router
    from .handlers.registry import HandlerPlugin, IHandlerFactory
    from .handlers.websocket import WebSocketHandler, WebSocketResource
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
    from .wsgi.handler import WouldDeadlock, WSGIHandler

# Each public name and the module that defines it.
_WHERE = {
    "HTTPFactory": ".channel.factory",
    "IBodyReceiver": ".channel.body",
    "IRequestHandler": ".channel.interfaces",
    "IResponseObserver": ".channel.interfaces",
    "HTTPChannel": ".channel.protocol",
    "ConnectionInfo": ".channel.request",
    "Request": ".channel.request",
    "RequestBody": ".channel.body",
    "Response": ".channel.response",
    "Router": ".channel.routing",
    "HandlerPlugin": ".handlers.registry",
    "IHandlerFactory": ".handlers.registry",
    "StaticFiles": ".static.handler",
    "BadRequest": ".wire.errors",
    "ContentTooLarge": ".wire.errors",
    "ExpectationFailed": ".wire.errors",
    "HeaderFieldsTooLarge": ".wire.errors",
    "MethodNotImplemented": ".wire.errors",
    "NotImplementedCoding": ".wire.errors",
    "ProtocolError": ".wire.errors",
    "RequestTimeout": ".wire.errors",
    "URITooLong": ".wire.errors",
    "VersionNotSupported": ".wire.errors",
    "HeaderBlock": ".wire.fields",
    "Headers": ".wire.headers",
    "ServerConfig": ".wire.limits",
    "WSGIHandler": ".wsgi.handler",
    "WouldDeadlock": ".wsgi.handler",
    "WebSocketHandler": ".handlers.websocket",
    "WebSocketResource": ".handlers.websocket",
}


def __getattr__(name: str) -> _Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(module, __name__), name)
    globals()[name] = value  # found once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "BadRequest",
    "ConnectionInfo",
    "ContentTooLarge",
    "ExpectationFailed",
    "HTTPChannel",
    "HTTPFactory",
    "HeaderBlock",
    "HandlerPlugin",
    "HeaderFieldsTooLarge",
    "Headers",
    "IBodyReceiver",
    "IHandlerFactory",
    "IRequestHandler",
    "IResponseObserver",
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
    "WouldDeadlock",
    "WebSocketHandler",
    "WebSocketResource",
]
