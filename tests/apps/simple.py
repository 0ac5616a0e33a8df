"""Small WSGI apps the end-to-end tests serve."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

TEXT = [("Content-Type", "text/plain")]


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", TEXT)
    return [b"hello world"]


def digest(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Reads the body in 8 KiB pieces; answers with its length and SHA-256."""
    hasher = hashlib.sha256()
    size = 0
    while True:
        data = environ["wsgi.input"].read(8192)
        if not data:
            break
        hasher.update(data)
        size += len(data)
    start_response("200 OK", TEXT)
    return [b"%d %s" % (size, hasher.hexdigest().encode())]


def stream(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    """1 MiB in 64 KiB chunks, no Content-Length."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    for i in range(16):
        yield bytes([i]) * 65536
