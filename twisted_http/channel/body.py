"""The request body as it arrives: ``RequestBody``, its receiver interface, and the
two receivers the server itself uses (collect it whole, or throw it away).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from zope.interface import Interface, implementer

from ..wire.headers import Headers


class IBodyReceiver(Interface):
    """Takes a request body as it arrives; see ``RequestBody.deliver_to``."""

    def body_received(data: bytes) -> None:
        """Some bytes of the body, never empty. May come shortly after a pause."""

    def body_finished() -> None:
        """The whole body has arrived."""

    def body_failed(reason: BaseException) -> None:
        """The body will never be complete: bad framing, a timeout, or a lost connection."""


class RequestBody:
    """The body of one request, handed to one receiver as it arrives.

    Nothing is read from the client until a handler asks for the body with
    ``deliver_to`` (or ``read_all``); that is also when ``100 Continue`` goes
    out to a client that asked for it. A handler that never asks lets the server
    discard a short body, or close the connection after answering.
    Used on the reactor thread only.
    """

    def __init__(self, length: int | None, on_demand: Callable[[], None]) -> None:
        self.length = length  # bytes declared, None when chunked, 0 when there is none
        self.trailers = Headers()
        self.complete = length == 0
        self.paused = False
        self._on_demand = on_demand
        self._receiver: IBodyReceiver | None = None
        self._failure: BaseException | None = None

    @property
    def claimed(self) -> bool:
        return self._receiver is not None

    @property
    def flowing(self) -> bool:
        """True while the server should be reading body bytes off the connection."""
        return self._receiver is not None and not self.paused and not self.complete

    def deliver_to(self, receiver: IBodyReceiver) -> None:
        """Start the body flowing into ``receiver``; at most once per request."""
        if self._receiver is not None:
            raise RuntimeError("the request body already has a receiver")
        self._receiver = receiver
        if self._failure is not None:
            receiver.body_failed(self._failure)
        elif self.complete:
            receiver.body_finished()
        else:
            self._on_demand()

    def read_all(self) -> Deferred[bytes]:
        """The whole body, once it has arrived (bounded by ``max_body_size``)."""
        collector = _Collector()
        self.deliver_to(collector)
        return collector.done

    def pause(self) -> None:
        """Stop reading the body from the client until ``resume``."""
        if not self.paused:
            self.paused = True
            self._on_demand()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._on_demand()

    # -- the channel's side -------------------------------------------------

    def data(self, data: bytes) -> None:
        if data and self._receiver is not None:
            self._receiver.body_received(data)

    def finish(self, trailers: Headers) -> None:
        self.complete = True
        self.trailers = trailers
        if self._receiver is not None:
            self._receiver.body_finished()

    def discard(self) -> None:
        """Read the rest of the body and throw it away (the handler is done with it)."""
        self._receiver = Discard()
        self.paused = False
        self._on_demand()

    def fail(self, reason: BaseException) -> None:
        if self.complete or self._failure is not None:
            return
        self._failure = reason
        if self._receiver is not None:
            self._receiver.body_failed(reason)


@implementer(IBodyReceiver)
class _Collector:
    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.done: Deferred[bytes] = Deferred()

    def body_received(self, data: bytes) -> None:
        self._parts.append(data)

    def body_finished(self) -> None:
        self.done.callback(b"".join(self._parts))

    def body_failed(self, reason: BaseException) -> None:
        self.done.errback(reason)


@implementer(IBodyReceiver)
class Discard:
    """Reads a body and throws it away, so the connection can carry the next request."""

    def body_received(self, data: bytes) -> None:
        pass

    def body_finished(self) -> None:
        pass

    def body_failed(self, reason: BaseException) -> None:
        pass
