"""``WebSocketClient``: a WebSocket client (wsproto's) on a ``FakeConnection``, no sockets.

It sends the opening handshake through the real HTTP channel, checks the 101
the way a browser would (``Sec-WebSocket-Accept`` included), and from then on
speaks frames to whatever protocol the server switched to. Pings are answered
and a close is completed, as a real client does.

    conn = FakeConnection(Router([("/chat", WebSocketResource(ChatHandler, clock=clock))]),
                          clock=clock)
    ws = WebSocketClient(conn, "/chat")
    ws.send("hello")
    assert ws.messages() == ["hello"]
    ws.close()
    assert ws.close_code == 1000 and conn.closed
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from .connection import FakeConnection


class WebSocketClient:
    """The client end of one WebSocket connection to a ``FakeConnection``'s server."""

    def __init__(
        self,
        conn: FakeConnection,
        target: str = "/",
        headers: Iterable[tuple[bytes, bytes]] = (),
        host: str = "example.com",
    ) -> None:
        self.conn = conn
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._received: list[Event] = []
        self.accepted = False
        self.status: int | None = None  # 101, or the refusal's status
        self.close_code: int | None = None  # from the server's close frame
        self.close_reason: str | None = None
        self.rejection_body = b""  # the page sent with a refused handshake
        conn.read()  # anything written before is not ours
        conn.send(self._ws.send(Request(host=host, target=target, extra_headers=list(headers))))
        self._pump()

    # -- the client's side --------------------------------------------------

    def send(self, message: str | bytes) -> None:
        """One text (``str``) or binary (``bytes``) message, in one frame."""
        self.send_fragments([message])

    def send_fragments(self, parts: Sequence[str | bytes]) -> None:
        """One message in ``len(parts)`` frames (all ``str`` or all ``bytes``)."""
        data = b""
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            event = TextMessage(part, message_finished=last) if isinstance(part, str) \
                else BytesMessage(part, message_finished=last)
            data += self._ws.send(event)
        self._deliver(data)

    def ping(self, payload: bytes = b"") -> None:
        self._deliver(self._ws.send(Ping(payload)))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start (or answer) the close handshake."""
        if self._ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            self._deliver(self._ws.send(CloseConnection(code, reason)))

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are: for frames a well-behaved client would never send."""
        self._deliver(data)

    # -- what the server sent -----------------------------------------------

    def events(self) -> list[Event]:
        """Every wsproto event from the server since the last call (messages in fragments)."""
        self._pump()
        events, self._received = self._received, []
        return events

    def messages(self) -> list[str | bytes]:
        """The whole messages the server sent since the last call; other events are dropped."""
        out: list[str | bytes] = []
        parts: list[str | bytes] = []
        for event in self.events():
            if isinstance(event, Message):
                parts.append(event.data)
                if event.message_finished:
                    joined: str | bytes = (
                        "".join(str(part) for part in parts) if isinstance(event, TextMessage)
                        else b"".join(bytes(part) for part in parts)  # type: ignore[arg-type]
                    )
                    out.append(joined)
                    parts = []
        return out

    @property
    def open(self) -> bool:
        return self.accepted and self._ws.state is ConnectionState.OPEN

    # -- plumbing -----------------------------------------------------------

    def _deliver(self, data: bytes) -> None:
        if data and not self.conn.transport.disconnected:
            self.conn.send(data)
        self._pump()

    def _pump(self) -> None:
        data = self.conn.read()
        if not data:
            return
        self._ws.receive_data(data)
        for event in self._ws.events():
            if isinstance(event, AcceptConnection):
                self.accepted, self.status = True, 101
            elif isinstance(event, RejectConnection):
                self.status = event.status_code
            elif isinstance(event, RejectData):
                self.rejection_body += bytes(event.data)
            elif isinstance(event, Ping):
                self.conn.send(self._ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code, self.close_reason = event.code, event.reason
                if self._ws.state is ConnectionState.REMOTE_CLOSING:
                    self.conn.send(self._ws.send(event.response()))
            if not isinstance(event, AcceptConnection | RejectConnection | RejectData):
                self._received.append(event)
