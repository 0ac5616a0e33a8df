"""WriteFlow: the transport's producer for the whole life of a connection.

Twisted pauses a transport's registered producer when the send buffer passes
its high-water mark and resumes it once the buffer drains. The channel
registers one WriteFlow per connection, so it always knows whether the client
is keeping up: it starts no pipelined request while the client is behind, and
cuts off one that stays behind past the write timeout. The flow passes both
signals on to the producer of the response being sent, if it has one.

A pull producer (a file sender, say) is driven as a push one: while the
client keeps up it is asked for one chunk after another, at most
``PULLS_PER_TURN`` per reactor turn, so no response can hold the reactor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from twisted.internet.interfaces import IDelayedCall, IPullProducer, IPushProducer, IReactorTime
from zope.interface import implementer

# 16 pulls of a 64 KiB file chunk is 1 MiB a turn: enough to fill any socket
# buffer, little enough that other connections get their turn.
PULLS_PER_TURN = 16

Producer: TypeAlias = "IPushProducer | IPullProducer"  # a string: interfaces don't support |


@implementer(IPushProducer)
class WriteFlow:
    """Tracks the client's reading and drives the current response's producer."""

    def __init__(self, clock: IReactorTime, on_change: Callable[[], None]) -> None:
        self.blocked = False  # the transport's buffer is over its high-water mark
        # Known empty: nothing written yet, or the transport resumed the flow,
        # which it does only once every buffered byte has gone to the socket.
        # The channel clears it on every write.
        self.drained = True
        self._clock = clock
        self._on_change = on_change
        self._producer: Producer | None = None
        self._streaming = True
        self._pump_call: IDelayedCall | None = None

    @property
    def producer(self) -> Producer | None:
        """The producer of the response being sent, if it registered one."""
        return self._producer

    @property
    def streaming(self) -> bool:
        return self._streaming

    # -- the transport's side ---------------------------------------------

    def pauseProducing(self) -> None:
        self.blocked = True
        if self._producer is not None and self._streaming:
            self._producer.pauseProducing()  # type: ignore[union-attr]
        self._on_change()

    def resumeProducing(self) -> None:
        self.blocked = False
        self.drained = True
        if self._producer is not None:
            if self._streaming:
                self._producer.resumeProducing()
            else:
                self._pump()
        self._on_change()

    def stopProducing(self) -> None:
        producer, self._producer = self._producer, None
        self._cancel_pump()
        if producer is not None:
            producer.stopProducing()

    # -- the response's side ----------------------------------------------

    def attach(self, producer: Producer, streaming: bool) -> None:
        """Let the client's reading pace ``producer`` until ``detach``."""
        if self._producer is not None:
            raise RuntimeError("a producer is already registered for this response")
        self._producer, self._streaming = producer, streaming
        if not streaming:
            self._pump()  # a transport asks a new pull producer for data at once
        elif self.blocked:
            producer.pauseProducing()  # type: ignore[union-attr]

    def release(self) -> None:
        """The connection is gone: forget the channel and any producer (no cycles left)."""
        self.detach()
        self._on_change = _ignore

    def detach(self) -> None:
        self._producer = None
        self._cancel_pump()

    # -- pull producers -----------------------------------------------------

    def _pump(self) -> None:
        self._pump_call = None
        for _ in range(PULLS_PER_TURN):
            producer = self._producer
            if producer is None or self._streaming or self.blocked:
                return
            producer.resumeProducing()
        if self._producer is not None and not self.blocked and self._pump_call is None:
            self._pump_call = self._clock.callLater(0, self._pump)

    def _cancel_pump(self) -> None:
        call, self._pump_call = self._pump_call, None
        if call is not None and call.active():
            call.cancel()


def _ignore() -> None:
    pass
