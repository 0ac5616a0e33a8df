"""From a request's path to a file below the root, and nothing outside it.

Two steps, each refusing on its own. ``split_path`` checks the decoded path
(``Request.path_info``) as text: it must be UTF-8 (overlong and surrogate
forms are invalid UTF-8, so ``%c0%ae`` is never a dot), with no NUL, no
backslash and no dot-segments. Clients remove ``.`` and ``..`` before sending
(RFC 3986 §5.2.4), so one still present after decoding, ``%2e%2e`` included,
is an attack or a bug and gets a 400. Empty segments are dropped, as nginx
merges slashes, so no segment is ever absolute and ``os.path.join`` cannot be
steered out of the root.

``resolve`` then asks the file system: the real path (symlinks resolved) must
still lie inside the root unless the mount follows symlinks out of it. Only
regular files and directories are served; devices, FIFOs and sockets are
treated as missing, so opening one can never block the reactor.
"""

from __future__ import annotations

import enum
import errno
import os
import stat

import attrs


class BadPath(ValueError):
    """The path can name no file: answered with 400."""


def split_path(path_info: bytes) -> list[str]:
    """The path's segments as text; raises BadPath for anything unsafe or malformed."""
    if b"\x00" in path_info:
        raise BadPath("NUL in path")
    if b"\\" in path_info:
        # Not a separator here, but one on Windows and to many proxies and
        # scanners; no honest URL needs it, and refusing ends the ambiguity.
        raise BadPath("Backslash in path")
    try:
        text = path_info.decode("utf-8")  # strict: overlong forms and surrogates fail
    except UnicodeDecodeError:
        raise BadPath("Path is not valid UTF-8") from None
    segments = [segment for segment in text.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise BadPath("Dot-segment in path")
    return segments


def is_hidden(segments: list[str]) -> bool:
    """Whether any segment names a dotfile or dot-directory."""
    return any(segment.startswith(".") for segment in segments)


class Kind(enum.Enum):
    FILE = "file"
    DIRECTORY = "directory"
    FORBIDDEN = "forbidden"  # exists, but outside the root or unreadable: 403


@attrs.frozen
class Found:
    """What a path resolved to: its kind, real path and stat (None when forbidden)."""

    kind: Kind
    real_path: str
    stat: os.stat_result | None


# Lookup errors that mean "no such file" rather than "not allowed".
_MISSING = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL})


def resolve(root: str, segments: list[str], follow_symlinks: bool) -> Found | None:
    """The file or directory ``segments`` names below ``root`` (a real path), or None."""
    candidate = os.path.join(root, *segments)
    try:
        real = os.path.realpath(candidate, strict=True)
        info = os.stat(real)
    except OSError as error:
        if error.errno in _MISSING:
            return None
        return Found(Kind.FORBIDDEN, candidate, None)  # EACCES and the like
    if not follow_symlinks and not is_within(root, real):
        return Found(Kind.FORBIDDEN, real, None)
    if stat.S_ISREG(info.st_mode):
        return Found(Kind.FILE, real, info)
    if stat.S_ISDIR(info.st_mode):
        return Found(Kind.DIRECTORY, real, info)
    return None


def is_within(root: str, real: str) -> bool:
    """Whether real path ``real`` is ``root`` or below it."""
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading and fstat it; OSError unless it is still a regular file.

    O_NONBLOCK makes opening a FIFO swapped in since the stat return at once
    instead of waiting for a writer; the fstat then refuses it.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.ENOENT, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd, info
