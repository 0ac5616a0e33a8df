"""Protocol upgrade (RFC 9110 §7.8): whether a request may switch, and the 101 head.

A handler calls ``response.switch_protocols(protocol, b"websocket", headers)``.
The channel then writes ``101 Switching Protocols``, stops being HTTP for good
(its timers stop and nothing more is parsed as a request) and hands the
transport to ``protocol`` with the bytes it had already read past the request:
bytes pipelined after an upgrade request were sent for the new protocol.

Refused with 400 and a close (``UpgradeRefused``, which the response answers),
because the switch could not be done safely:

- an HTTP/1.0 request: a server must ignore Upgrade in one (RFC 9110 §7.8);
- a request whose ``Upgrade`` field does not name the protocol, or whose
  ``Connection`` field lacks the ``upgrade`` option: a server must not switch
  to a protocol the client did not ask for;
- a request with a body: where the body ends and the new protocol starts would
  rest on the server and every proxy agreeing on the body's framing, which is
  what request smuggling exploits. No upgrading client sends one.
"""

from __future__ import annotations

from ..wire.headers import Headers, parse_list


class UpgradeRefused(Exception):
    """The request may not switch protocols; the message says why, for a 400 page."""


def refusal(version: bytes, headers: Headers, body_length: int | None, token: bytes) -> str | None:
    """Why this request cannot switch to ``token``, or None if it can."""
    if version != b"HTTP/1.1":
        return "Only an HTTP/1.1 request can upgrade its connection."
    offered = [item.split(b"/")[0] for item in parse_list(headers.get_all(b"upgrade"))]
    if token.lower() not in offered or b"upgrade" not in parse_list(headers.get_all(b"connection")):
        return "The request did not ask to upgrade to this protocol."
    if body_length != 0:
        return "A request that upgrades its connection must not have a body."
    return None
