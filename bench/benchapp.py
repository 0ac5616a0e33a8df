"""The WSGI app every server runs in the benchmark; the last path segment picks the answer.

- ``.../hello``: 14 bytes of text, with Content-Length;
- ``.../stream``: 1 MiB as 16 yielded chunks of 64 KiB, with Content-Length;
- ``.../post``: reads the whole request body and answers its length as text.

Servers mount it differently (minihttp at ``/app``, the others at ``/``), so
the URL is always ``/app/<name>`` and only the last segment matters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

HELLO = b"Hello, world!\n"
CHUNK = b"x" * (64 * 1024)
CHUNKS = 16
STREAM_LENGTH = len(CHUNK) * CHUNKS

StartResponse = Callable[..., Any]


def _stream() -> Iterator[bytes]:
    for _ in range(CHUNKS):
        yield CHUNK


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    name = environ.get("PATH_INFO", "").rsplit("/", 1)[-1]
    if name == "hello":
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(HELLO)))])
        return [HELLO]
    if name == "stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(STREAM_LENGTH))])
        return _stream()
    if name == "post":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        received = 0
        while received < length:
            data = stream.read(min(65536, length - received))
            if not data:
                break
            received += len(data)
        body = b"%d" % received
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    body = b"not found\n"
    start_response("404 Not Found", [("Content-Type", "text/plain"),
                                      ("Content-Length", str(len(body)))])
    return [body]
