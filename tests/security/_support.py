"""What the attack tests share: a recording handler, replay helpers and a log recorder."""

from __future__ import annotations

from typing import Any

from twisted.logger import LogEvent, formatEvent
from zope.interface import implementer

from tests.support import recorded_log  # noqa: F401 - re-exported
from twisted_http import IRequestHandler, Request, Response, ServerConfig
from twisted_http.testing import FakeConnection, RecordedResponse


@implementer(IRequestHandler)
class Recorder:
    """Answers every request with its path and body, after reading the whole body.

    ``seen`` lists the paths of every request that reached a handler: a
    smuggled request shows up here, whatever the wire looked like.
    """

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.bodies: list[bytes] = []

    def handle(self, request: Request, response: Response) -> bool:
        self.seen.append(request.path)

        def reply(body: bytes) -> None:
            self.bodies.append(body)
            response.send(200, request.path + b" " + body, [(b"Content-Type", b"text/plain")])

        # A body cut off by the client's leaving: nothing to answer, nobody to tell.
        request.body.read_all().addCallbacks(reply, lambda _: None)
        return True


def replay(raw: bytes, config: ServerConfig | None = None,
           bytewise: bool = False) -> tuple[FakeConnection, Recorder]:
    """Send ``raw`` to a fresh connection whose handler records what reached it."""
    recorder = Recorder()
    conn = FakeConnection(recorder, config)
    if bytewise:
        conn.send_bytewise(raw)
    else:
        conn.send(raw)
    return conn, recorder


def refused(conn: FakeConnection, status: int = 400) -> RecordedResponse:
    """The one response on ``conn``, which must be ``status`` with the connection closing."""
    responses = conn.responses()
    assert [r.status for r in responses] == [status], responses
    assert responses[0].header(b"connection") == b"close"
    assert conn.closed
    return responses[0]


def lines(events: list[LogEvent]) -> list[str]:
    """The log events as the text a file observer would write."""
    return [formatEvent(event) or "" for event in events]


def failures(events: list[LogEvent]) -> list[LogEvent]:
    return [event for event in events if "log_failure" in event]


def wsgi_environs() -> tuple[Any, list[dict[str, Any]]]:
    """A WSGI app that keeps every environ it is given, and the list it keeps them in."""
    environs: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environs.append(dict(environ))
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return app, environs
