"""Content-Type for a file name: Python's built-in table, modern web types, per-mount overrides.

The base is ``mimetypes.MimeTypes()``'s built-in strict table, never the
machine's ``/etc/mime.types``, so a file gets the same type on every host.
Types the web relies on and older Pythons get wrong or lack are laid over it.
Text types get ``; charset=utf-8`` (the encoding of nearly every text file
served today; without it browsers guess, and guessing is how UTF-7 XSS worked).
Anything unknown is ``application/octet-stream``: a download, never rendered.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping

DEFAULT_TYPE = b"application/octet-stream"

# Laid over the built-in table. RFC 9239 makes text/javascript the one type for
# JavaScript; browsers refuse module scripts and WebAssembly streaming
# compilation served under anything else.
WEB_TYPES: dict[str, str] = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".cjs": "text/javascript",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".apng": "image/apng",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".json": "application/json",
    ".map": "application/json",  # source maps are JSON
    ".jsonld": "application/ld+json",
    ".webmanifest": "application/manifest+json",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".ics": "text/calendar",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".ogv": "video/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
    ".br": "application/octet-stream",
    ".zst": "application/zstd",
}

# Non-text/* types whose content is text and so takes a charset.
_TEXT_LIKE = frozenset(
    {
        b"application/json",
        b"application/ld+json",
        b"application/manifest+json",
        b"application/javascript",
        b"application/xml",
        b"application/rss+xml",
        b"application/atom+xml",
        b"application/yaml",
        b"application/toml",
        b"image/svg+xml",
    }
)


def _base_table() -> dict[str, str]:
    table = dict(mimetypes.MimeTypes().types_map[True])
    table.update(WEB_TYPES)
    return table


def with_charset(content_type: bytes) -> bytes:
    """``content_type`` with ``; charset=utf-8`` added if it is text and has no parameters."""
    if b";" in content_type:
        return content_type  # the caller chose its parameters
    if content_type.startswith(b"text/") or content_type in _TEXT_LIKE:
        return content_type + b"; charset=utf-8"
    return content_type


class ContentTypes:
    """Maps file names to Content-Type values; one per mount, overrides included.

    ``overrides`` maps extensions (``".ext"``, any case) to types; a type given
    with parameters (``"text/plain; charset=latin-1"``) is used exactly as given.
    """

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        table = _base_table()
        for extension, content_type in (overrides or {}).items():
            table[_normalize_extension(extension)] = _check_type(extension, content_type)
        self._table: dict[str, bytes] = {
            extension.lower(): with_charset(content_type.encode("ascii"))
            for extension, content_type in table.items()
        }

    def for_name(self, name: str) -> bytes:
        """The Content-Type for file ``name`` (only its last extension counts)."""
        dot = name.rfind(".")
        if dot <= 0:  # no extension, or a dotfile's name only
            return DEFAULT_TYPE
        return self._table.get(name[dot:].lower(), DEFAULT_TYPE)


def _normalize_extension(extension: str) -> str:
    extension = extension.strip().lower()
    if not extension.startswith("."):
        extension = "." + extension
    if len(extension) < 2 or "/" in extension or extension.count(".") != 1:
        raise ValueError(f"not a file extension: {extension!r}")
    return extension


def _check_type(extension: str, content_type: str) -> str:
    """Refuse a type that is not printable ASCII type/subtype: it goes into a header."""
    value = content_type.strip()
    kind = value.split(";", 1)[0].strip()
    if (
        not value.isascii()
        or not value.isprintable()
        or kind.count("/") != 1
        or not all(kind.split("/"))
    ):
        raise ValueError(f"not a media type for {extension!r}: {content_type!r}")
    return value
