"""ServerConfig: every limit, timeout and knob the connection reads, each default explained.

Each field is declared with ``setting``: its default, a line of help and the
reason for the default travel with it as attrs metadata, from which
``twisted_http.serve`` makes the command-line option (``max_body_size`` is
``--max-body-size``), the config file key and the configuration reference.
Nothing else in the server reads raw options. Sizes are bytes, times are seconds.
"""

from __future__ import annotations

from typing import Any

import attrs


def setting(default: Any, *, help: str, why: str, validator: Any = None, **more: Any) -> Any:
    """An attrs field that documents itself: ``help`` says what it does, ``why``
    why ``default`` is the default. ``more`` is further metadata the settings
    model reads (see twisted_http/serve/settings.py)."""
    return attrs.field(default=default, validator=validator,
                       metadata={"help": help, "why": why, **more})


def positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be more than 0, not {value!r}")


def at_least(minimum: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if value < minimum:
            raise ValueError(f"{attribute.name} must be at least {minimum}, not {value!r}")

    return check


def _header_value(instance: Any, attribute: attrs.Attribute[Any], value: bytes) -> None:
    # It is sent as a header field value: visible ASCII and spaces only, so
    # nothing can end the field early (RFC 9110 §5.5).
    if not value or not all(0x20 <= byte < 0x7F for byte in value):
        raise ValueError(f"{attribute.name} must be visible ASCII text, not {value!r}")


@attrs.frozen(kw_only=True)
class ServerConfig:
    """The server's limits and timeouts. See docs/configuration.md for each in use."""

    # -- the request head (RFC 9112 §2-§5) ---------------------------------
    max_request_line: int = setting(
        8192, validator=at_least(64),
        help="Longest request line in bytes; longer gets 414.",
        why="What nginx, Apache and most CDNs accept; longer URLs are nearly always"
            " an attack or a bug.")
    max_header_line: int = setting(
        8192, validator=at_least(64),
        help="Longest header line in bytes; longer gets 431.",
        why="Fits large cookies.")
    max_head_size: int = setting(
        65536, validator=at_least(128),
        help="Largest request head in bytes, request line included; larger gets 431.",
        why="Holds any honest head, and bounds what one connection can make the server"
            " hold before a handler runs.")
    max_headers: int = setting(
        100, validator=at_least(1),
        help="Most header fields in a request; more gets 431.",
        why="Browsers send about 15; 100 is Apache's and waitress's limit.")

    # -- the request body --------------------------------------------------
    max_body_size: int = setting(
        1 << 30, validator=at_least(0),
        help="Largest request body in bytes; larger gets 413. A declared Content-Length"
             " over it is refused before any of the body is read, a chunked body when it"
             " crosses it.",
        why="1 GiB, waitress's default: large uploads work, an endless chunked body"
            " does not.")
    max_discard_size: int = setting(
        65536, validator=at_least(0),
        help="Largest unread body thrown away to keep a connection open: when a handler"
             " answers without reading the body, up to this much is read and dropped so"
             " the connection can carry the next request; a larger one closes it.",
        why="Reading a little is cheaper than a new connection; reading a lot is not.")

    # -- timeouts (RFC 9112 §9.5 lets a server close idle connections) ----
    first_request_timeout: float = setting(
        10.0, validator=positive,
        help="Seconds a new connection may wait before its first request; then it is"
             " closed without a response.",
        why="Browsers' speculative pre-connects are used within seconds or never.")
    keep_alive_timeout: float = setting(
        15.0, validator=positive,
        help="Seconds an idle persistent connection is kept open between requests.",
        why="Long enough for a page's follow-up requests, short enough not to hoard"
            " sockets.")
    head_timeout: float = setting(
        20.0, validator=positive,
        help="Seconds from a request's first byte to the end of its head; then 408 and"
             " close.",
        why="The slowloris defence. It is a deadline, not an idle timer: trickling a"
            " header line every few seconds does not extend it.")
    body_timeout: float = setting(
        30.0, validator=positive,
        help="Seconds a body being read may go without sending any bytes; then 408 (or"
             " a close, if the response has begun).",
        why="A body may take as long as it likes in total, as long as it keeps moving.")
    write_timeout: float = setting(
        60.0, validator=positive,
        help="Seconds a client may leave its responses unread before it is cut off; also"
             " how long a closing connection may take to drain.",
        why="nginx's send_timeout. A client that leaves its responses unread keeps the"
            " send buffer full, holding memory and, for WSGI, a thread.")

    # -- capacity ----------------------------------------------------------
    max_connections: int = setting(
        4096, validator=at_least(1),
        help="Open connections per process at most; past it a new connection gets 503"
             " and is closed at once.",
        why="The connections being served keep their file descriptors and memory; 4096"
            " fits under the usual 8192 descriptor limit with room for files.")
    thread_wait_timeout: float = setting(
        30.0, validator=positive,
        help="Seconds a WSGI request may wait for a free thread before it gets 503 with"
             " Retry-After.",
        why="A client is better told to retry than left hanging behind slow apps.")

    # -- the server --------------------------------------------------------
    threads: int = setting(
        10, validator=at_least(1),
        help="Threads running WSGI apps, per process.",
        why="waitress's four plus headroom for apps that wait on databases; raise it for"
            " slow apps, lower it to bound memory.")
    access_log: bool = setting(
        True, help="Log one line per response: where with --access-log, how with"
             " --access-log-format.",
        why="Seeing what a server does is worth the cost; log at a proxy in front and"
            " turn it off when every core counts.")
    server_header: bytes = setting(
        b"minihttp", validator=_header_value,
        help="The Server header sent with every response.",
        why="Short on purpose: no version for scanners to match.")

    def __attrs_post_init__(self) -> None:
        if self.max_request_line > self.max_head_size:
            raise ValueError("max_request_line must not exceed max_head_size"
                             f" ({self.max_head_size})")
