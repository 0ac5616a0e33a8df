"""Static files: a folder served under a mount prefix (GET and HEAD)."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence

from twisted.protocols.basic import FileSender
from zope.interface import implementer

from ._interfaces import IRequestHandler
from ._request import Request
from ._response import Response


@implementer(IRequestHandler)
class StaticFiles:
    """Serves the files below ``root``; declines paths it has no file for."""

    def __init__(self, root: str | os.PathLike[str], index: Sequence[str] = ("index.html",)) -> None:
        self.root = os.path.realpath(root)
        self.index = tuple(index)

    def handle(self, request: Request, response: Response) -> bool:
        path_info = request.path_info
        if b"\x00" in path_info:
            response.send_error(400, "Invalid path")
            return True
        segments = [s for s in path_info.split(b"/") if s]
        if any(s == b".." or s.startswith(b".") or b"\\" in s for s in segments):
            response.send_error(404)
            return True
        fs_path = os.path.join(self.root, *(s.decode("utf-8", "surrogateescape") for s in segments))
        if os.path.isdir(fs_path):
            for name in self.index:
                candidate = os.path.join(fs_path, name)
                if os.path.isfile(candidate):
                    fs_path = candidate
                    break
        real = os.path.realpath(fs_path)
        if not real.startswith(self.root + os.sep) or not os.path.isfile(real):
            return False
        if request.method not in (b"GET", b"HEAD"):
            response.send_error(405, headers=[(b"Allow", b"GET, HEAD")])
            return True
        content_type = mimetypes.guess_type(real)[0] or "application/octet-stream"
        handle = open(real, "rb")  # noqa: SIM115 - closed when the sender is done
        size = os.fstat(handle.fileno()).st_size
        response.start(200, [(b"Content-Type", content_type.encode("ascii")),
                             (b"Content-Length", b"%d" % size)])
        if request.method == b"HEAD":
            handle.close()
            response.finish()
            return True
        sender = FileSender()
        done = sender.beginFileTransfer(handle, _Writer(response))
        done.addBoth(lambda _: (handle.close(), response.finish()))
        return True


class _Writer:
    """Adapts a Response to the IConsumer FileSender writes to."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def registerProducer(self, producer: object, streaming: bool) -> None:  # noqa: N802
        self._response.register_producer(producer, streaming)  # type: ignore[arg-type]

    def unregisterProducer(self) -> None:  # noqa: N802
        self._response.unregister_producer()

    def write(self, data: bytes) -> None:
        self._response.write(data)
