"""The mount table and the handler chain: which handlers a path goes to, and which answers.

The longest prefix wins. Prefixes match whole path segments: ``/app`` takes
``/app`` and ``/app/x`` but not ``/apple``. Several handlers may share a
prefix; they are tried in the order mounted and the first that accepts the
request answers it (the command line mounts static folders before WSGI apps, so
a file shadows the app's route of the same name). When none accepts, or no
prefix matches, the answer is 404; ``OPTIONS *`` is answered for the whole
server (RFC 9110 §9.3.7).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from .interfaces import IRequestHandler

if TYPE_CHECKING:
    from .request import Request
    from .response import Response


def normalize_prefix(prefix: str | bytes) -> bytes:
    """``"/app/"`` -> ``b"/app"``; ``"/"`` and ``""`` -> ``b""`` (the root)."""
    raw = prefix.encode("utf-8") if isinstance(prefix, str) else prefix
    if raw and not raw.startswith(b"/"):
        raise ValueError(f"a mount prefix must start with '/': {prefix!r}")
    return raw.rstrip(b"/")


class Mount(NamedTuple):
    """One prefix and the handlers mounted on it, in the order they are tried."""

    prefix: bytes
    handlers: Sequence[IRequestHandler]

    def handle(self, request: Request, response: Response) -> None:
        """The first handler that accepts ``request`` answers it; else 404.

        A handler's exception propagates: the channel logs it and answers 500.
        """
        for handler in self.handlers:
            if handler.handle(request, response):
                return
        response.send_error(404)


class _WholeServer(Mount):
    """``OPTIONS *``: the server is here, whatever is mounted."""

    def handle(self, request: Request, response: Response) -> None:
        response.send(200)


_NOWHERE = Mount(b"", ())
_ASTERISK = _WholeServer(b"", ())


class Router:
    """Maps a percent-decoded path to the ``Mount`` that answers it."""

    def __init__(self, mounts: Iterable[tuple[str | bytes, IRequestHandler]] = ()) -> None:
        table: dict[bytes, list[IRequestHandler]] = {}
        for prefix, handler in mounts:
            table.setdefault(normalize_prefix(prefix), []).append(handler)
        # Longest first, so the first match is the longest one.
        self._table: list[Mount] = sorted(
            (Mount(prefix, tuple(handlers)) for prefix, handlers in table.items()),
            key=lambda mount: len(mount.prefix),
            reverse=True,
        )

    @property
    def mounts(self) -> list[Mount]:
        return list(self._table)

    def route(self, path: bytes) -> Mount:
        """The longest mount containing ``path``; one that answers 404 when none does."""
        for mount in self._table:
            prefix = mount[0]
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == 0x2F):
                return mount
        return _ASTERISK if path == b"*" else _NOWHERE
