"""What the WSGI tests share: a server around an app on fakes, and a log recorder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from wsgiref.validate import validator

from twisted.logger import LogEvent

from tests.support import recorded_log  # noqa: F401 - re-exported
from twisted_http import Router, ServerConfig
from twisted_http._wsgi import WSGIHandler
from twisted_http.testing import FakeConnection, InlineReactor, InlineThreadPool

App = Callable[..., Any]


def serve(
    app: App,
    pool: InlineThreadPool | None = None,
    *,
    prefix: str = "/",
    validate: bool = True,
    config: ServerConfig | None = None,
    send_buffer: int | None = None,
    **options: Any,
) -> FakeConnection:
    """A connection to a server running ``app`` (wrapped in wsgiref's validator) on fakes."""
    reactor = InlineReactor()
    handler = WSGIHandler(
        validator(app) if validate else app,
        thread_pool=pool if pool is not None else InlineThreadPool(),
        reactor=reactor,
        **options,
    )
    return FakeConnection(Router([(prefix, handler)]), config, clock=reactor,
                          send_buffer=send_buffer)


def failures(events: list[LogEvent]) -> list[LogEvent]:
    return [event for event in events if "log_failure" in event]
