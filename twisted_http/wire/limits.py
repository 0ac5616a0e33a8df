"""ServerConfig: every limit, timeout and knob of the server, validated, each default explained.

The command line and the config file both build one of these; nothing else in
the server reads raw options. Sizes are bytes, times are seconds.
"""

from __future__ import annotations

from typing import Any

import attrs


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


def _at_least(minimum: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if value < minimum:
            raise ValueError(f"{attribute.name} must be at least {minimum}, not {value!r}")

    return check


@attrs.frozen(kw_only=True)
class ServerConfig:
    """The server's limits and timeouts. See docs/configuration.md for each in use."""

    # -- the request head (RFC 9112 §2-§5) ---------------------------------
    # 8 KiB is what nginx, Apache and most CDNs allow for the request line; URLs
    # longer than that are nearly always an attack or a bug. Over it: 414.
    max_request_line: int = attrs.field(default=8192, validator=_at_least(64))
    # Same per header line; large cookies fit. Over it: 431.
    max_header_line: int = attrs.field(default=8192, validator=_at_least(64))
    # The whole head, request line included. 64 KiB holds any honest head and
    # bounds what a connection can make the server hold before a handler runs.
    max_head_size: int = attrs.field(default=65536, validator=_at_least(128))
    # Browsers send about 15; 100 is Apache's and waitress's limit. Over it: 431.
    max_headers: int = attrs.field(default=100, validator=_at_least(1))

    # -- the request body --------------------------------------------------
    # 1 GiB, waitress's default: big uploads work, an endless chunked body does
    # not. A declared length over it gets 413 before any byte is read.
    max_body_size: int = attrs.field(default=1 << 30, validator=_at_least(0))
    # When a handler answers without reading the body, up to this much is read
    # and thrown away so the connection can be reused; a larger rest closes it.
    max_discard_size: int = attrs.field(default=65536, validator=_at_least(0))

    # -- timeouts (RFC 9112 §9.5 lets a server close idle connections) ----
    # A new connection must start its first request within this: browsers'
    # speculative pre-connects are used within a few seconds or never.
    first_request_timeout: float = attrs.field(default=10.0, validator=_positive)
    # Idle time allowed between requests on a persistent connection: long enough
    # for a page's follow-up requests, short enough not to hoard sockets.
    keep_alive_timeout: float = attrs.field(default=15.0, validator=_positive)
    # The whole head must arrive within this of its first byte, however it is
    # trickled: this is the slowloris defence, a deadline and not an idle timer.
    head_timeout: float = attrs.field(default=20.0, validator=_positive)
    # While a body is being read, some of it must arrive at least this often.
    body_timeout: float = attrs.field(default=30.0, validator=_positive)
    # A client whose unread responses keep the send buffer full this long is
    # cut off (nginx's send_timeout is 60 s): it holds memory and, for WSGI, a
    # thread. Also bounds how long a closing connection may take to drain.
    write_timeout: float = attrs.field(default=60.0, validator=_positive)

    # -- capacity ----------------------------------------------------------
    # Open connections per process; past it, new ones get 503 and are closed at
    # once, so the ones being served keep their file descriptors and memory.
    # 4096 fits under the usual 8192 descriptor limit with room for files.
    max_connections: int = attrs.field(default=4096, validator=_at_least(1))
    # A WSGI request that waits this long for a free thread gets 503: a client
    # is better told to retry than left hanging behind slow apps.
    thread_wait_timeout: float = attrs.field(default=30.0, validator=_positive)

    # -- the server --------------------------------------------------------
    # Threads for WSGI apps. Ten, like waitress's four plus headroom for apps
    # that wait on databases; raise it for slow apps, lower it to bound memory.
    threads: int = attrs.field(default=10, validator=_at_least(1))
    # One log line per response through twisted.logger.
    access_log: bool = True
    # The Server header. Short on purpose: no version for scanners to match.
    server_header: bytes = b"minihttp"

    def __attrs_post_init__(self) -> None:
        if self.max_request_line > self.max_head_size:
            raise ValueError("max_request_line must not exceed max_head_size")
