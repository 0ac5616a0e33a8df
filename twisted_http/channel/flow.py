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

Every byte for the client goes through ``send``. A Twisted transport only
buffers a write and sends it on a later reactor turn, arming and disarming
the poller for it. While the transport's buffer is known to be empty
(``drained``) on a plain TCP connection, the flow sends on the socket itself,
which takes a whole response in the common case; whatever the socket does not
take, or any error, goes to the transport, and from then on everything does
until the transport has drained again. So a direct send never passes buffered
bytes; the same holds for ``os.sendfile`` (``sendfile_socket``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TypeAlias

from twisted.internet.interfaces import (
    IDelayedCall,
    IPullProducer,
    IPushProducer,
    IReactorTime,
    ISSLTransport,
    ITCPTransport,
    ITransport,
)
from zope.interface import implementer

# 16 pulls of a 64 KiB file chunk is 1 MiB a turn: enough to fill any socket
# buffer, little enough that other connections get their turn.
PULLS_PER_TURN = 16

Producer: TypeAlias = "IPushProducer | IPullProducer"  # a string: interfaces don't support |

_SENDFILE = hasattr(os, "sendfile")


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
        self._transport: ITransport | None = None
        self._socket: socket.socket | None = None  # a plain TCP socket to send on directly
        self._producer: Producer | None = None
        self._streaming = True
        self._pump_call: IDelayedCall | None = None
        self._registered = False  # the transport's producer, from connect until close

    @property
    def producer(self) -> Producer | None:
        """The producer of the response being sent, if it registered one."""
        return self._producer

    @property
    def streaming(self) -> bool:
        return self._streaming

    # -- the channel's side -------------------------------------------------

    def connect(self, transport: ITransport) -> None:
        """Carry ``transport``'s writes, as its producer, until ``close``."""
        self._transport = transport
        if ITCPTransport.providedBy(transport) and not ISSLTransport.providedBy(transport):
            handle = getattr(transport, "getHandle", lambda: None)()
            if isinstance(handle, socket.socket):  # not so on in-memory fakes
                self._socket = handle
        transport.registerProducer(self, True)  # type: ignore[attr-defined]
        self._registered = True

    def send(self, data: bytes) -> None:
        """Bytes for the client: into the socket when nothing is buffered, else the transport."""
        sock = self._socket
        if sock is not None and self.drained:
            try:
                sent = sock.send(data)
            except OSError:
                sent = 0  # full, or broken: the transport finds out which, and acts
            if sent == len(data):
                return
            data = data[sent:]
        self.drained = False
        assert self._transport is not None
        self._transport.write(data)

    def send_sequence(self, data: list[bytes]) -> None:
        """``send`` of the pieces joined: a head and the first body bytes in one write."""
        self.send(b"".join(data))

    def sendfile_socket(self) -> int | None:
        """The socket's descriptor for ``os.sendfile`` now, else None (see the module doc)."""
        if not _SENDFILE or self._socket is None or not self.drained:
            return None
        return self._socket.fileno()

    def end_direct(self) -> None:
        """From now on everything goes through the transport (the connection is ending)."""
        self._socket = None

    def close(self) -> bool:
        """The channel is closing: no more direct sends, and the transport may close.

        True when every byte went into the socket itself, so the transport holds
        none: it closes on its next turn whether the client reads or not.
        """
        sent = self._socket is not None and self.drained
        self.detach()
        self.end_direct()
        transport = self._transport
        # Remembered, not read from ``transport.producer``: a TLS transport has no
        # such attribute (it falls through to the TCP transport below it, whose
        # producer is TLS's own), and TLS sends close_notify and closes only once
        # its producer is unregistered.
        if transport is not None and self._registered:
            self._registered = False
            transport.unregisterProducer()  # type: ignore[attr-defined]
        return sent

    def release(self) -> None:
        """The connection is gone: forget the channel, the transport and any producer."""
        self.detach()
        self._socket = self._transport = None
        self._on_change = _ignore

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
