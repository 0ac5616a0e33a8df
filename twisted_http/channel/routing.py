"""The mount table: which handlers a path goes to. The longest prefix wins.

Prefixes match whole path segments: ``/app`` takes ``/app`` and ``/app/x`` but
not ``/apple``. Several handlers may share a prefix; they are tried in the order
mounted until one takes the request (the command line mounts static folders
before WSGI apps, so a file shadows the app's route of the same name).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .interfaces import IRequestHandler


def normalize_prefix(prefix: str | bytes) -> bytes:
    """``"/app/"`` -> ``b"/app"``; ``"/"`` and ``""`` -> ``b""`` (the root)."""
    raw = prefix.encode("utf-8") if isinstance(prefix, str) else prefix
    if raw and not raw.startswith(b"/"):
        raise ValueError(f"a mount prefix must start with '/': {prefix!r}")
    return raw.rstrip(b"/")


class Router:
    """Maps a percent-decoded path to (prefix, handlers)."""

    def __init__(self, mounts: Iterable[tuple[str | bytes, IRequestHandler]] = ()) -> None:
        table: dict[bytes, list[IRequestHandler]] = {}
        for prefix, handler in mounts:
            table.setdefault(normalize_prefix(prefix), []).append(handler)
        # Longest first, so the first match is the longest one.
        self._table: list[tuple[bytes, Sequence[IRequestHandler]]] = sorted(
            ((prefix, tuple(handlers)) for prefix, handlers in table.items()),
            key=lambda item: len(item[0]),
            reverse=True,
        )

    @property
    def mounts(self) -> list[tuple[bytes, Sequence[IRequestHandler]]]:
        return list(self._table)

    def route(self, path: bytes) -> tuple[bytes, Sequence[IRequestHandler]]:
        """The longest mount containing ``path``; (b"", ()) when none does."""
        for prefix, handlers in self._table:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == 0x2F):
                return prefix, handlers
        return b"", ()
