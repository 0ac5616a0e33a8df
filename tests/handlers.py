"""Small handlers the channel tests drive: each does one thing a real handler might."""

from __future__ import annotations

from collections.abc import Callable

from zope.interface import implementer

from twisted_http import IRequestHandler, Request, Response


@implementer(IRequestHandler)
class Echo:
    """Answers with the request's method, path and body, after reading the whole body."""

    def __init__(self) -> None:
        self.seen: list[Request] = []

    def handle(self, request: Request, response: Response) -> bool:
        self.seen.append(request)

        def reply(body: bytes) -> None:
            text = b"%s %s %s" % (request.method, request.path_info, body)
            response.send(200, text, [(b"Content-Type", b"text/plain")])

        # A body the client cut off: the connection is gone, nothing to answer.
        request.body.read_all().addCallbacks(reply, lambda _: None)
        return True


@implementer(IRequestHandler)
class Fixed:
    """Answers every request at once with the same status and body, never reading the body."""

    def __init__(self, status: int = 200, body: bytes = b"ok",
                 headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        self.status, self.body, self.headers = status, body, headers
        self.count = 0

    def handle(self, request: Request, response: Response) -> bool:
        self.count += 1
        response.send(self.status, self.body, self.headers)
        return True


@implementer(IRequestHandler)
class Held:
    """Takes requests and keeps their responses open until the test finishes them."""

    def __init__(self) -> None:
        self.pending: list[tuple[Request, Response]] = []

    def handle(self, request: Request, response: Response) -> bool:
        self.pending.append((request, response))
        return True


@implementer(IRequestHandler)
class Calls:
    """Runs ``function(request, response)`` and takes the request."""

    def __init__(self, function: Callable[[Request, Response], object]) -> None:
        self.function = function

    def handle(self, request: Request, response: Response) -> bool:
        self.function(request, response)
        return True


@implementer(IRequestHandler)
class Declines:
    """Never takes a request, like a static folder without the file."""

    def __init__(self) -> None:
        self.asked = 0

    def handle(self, request: Request, response: Response) -> bool:
        self.asked += 1
        return False
