"""ResponseLink: what a ``Response`` may ask of its connection, and nothing more.

A response writes through the connection's ``WriteFlow``, asks the server for
its ``Date`` and ``Server`` lines, and tells the channel when it has ended.
Those calls are the channel's private side, so they live here rather than as
public methods of ``HTTPChannel``: a handler holds a ``Response``, never this.

Each entry is the bound method that does the work, not a method of the link
that forwards to it: a response's calls cost no more than they would on the
channel itself (this is the path every response takes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .flow import Producer, WriteFlow

if TYPE_CHECKING:
    from twisted.internet.interfaces import IProtocol

    from .response import Response


class ResponseLink:
    """The connection's side of ``Response`` (its ``_Owner``); one per connection."""

    __slots__ = (
        "connection_reusable", "direct_socket", "head_defaults", "register_producer",
        "response_aborted", "response_finished", "switch_protocols", "unregister_producer",
        "write", "write_sequence",
    )

    def __init__(
        self,
        flow: WriteFlow,
        head_defaults: Callable[[bool, bool], bytes],
        reusable: Callable[[], bool],
        finished: Callable[[Response], None],
        aborted: Callable[[Response], None],
        switch_protocols: Callable[[Response, bytes, bytes, IProtocol], None],
    ) -> None:
        self.write: Callable[[bytes], None] = flow.send
        self.write_sequence: Callable[[list[bytes]], None] = flow.send_sequence
        self.direct_socket: Callable[[], int | None] = flow.sendfile_socket
        self.register_producer: Callable[[Producer, bool], None] = flow.attach
        self.unregister_producer: Callable[[], None] = flow.detach
        # The Date and Server lines for a response head, those asked for.
        self.head_defaults = head_defaults
        # Whether the connection can carry another request once this response is out.
        self.connection_reusable = reusable
        self.response_finished = finished
        self.response_aborted = aborted
        # 101 sent: the connection goes to another protocol.
        self.switch_protocols = switch_protocols

    def release(self) -> None:
        """The connection is gone: drop the channel's callbacks (and so the cycle through it).

        A response still held somewhere has been closed and asks nothing more.
        """
        self.connection_reusable = _never
        self.response_finished = self.response_aborted = _ignore
        self.switch_protocols = _refuse_switch


def _never() -> bool:
    return False


def _ignore(response: Response) -> None:
    pass


def _refuse_switch(response: Response, upgrade: bytes, head: bytes, protocol: IProtocol) -> None:
    raise RuntimeError("the connection has closed")
