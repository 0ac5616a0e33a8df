"""Directory listings: an HTML page naming a folder's entries, every name escaped.

Off unless a mount turns it on. Directories come first, then files, each
sorted by name; each row has the size in bytes (files only) and the UTC
modification time. Entries the mount would refuse to serve are left out:
dotfiles (unless allowed), symlinks leaving the root (unless followed),
anything neither a file nor a directory, and names that are not UTF-8 (no URL
of ours can reach them).
"""

from __future__ import annotations

import os
import stat
import time
from html import escape
from urllib.parse import quote

from .paths import is_within

# Entries beyond this are not listed (the page says how many were left out):
# one request must not make the server stat a million files and build a
# hundred-megabyte page.
MAX_ENTRIES = 10000


def listing_page(display_path: str, directory: str, root: str, *, at_root: bool,
                 dotfiles: bool, follow_symlinks: bool) -> bytes:
    """The HTML listing of real directory ``directory``, titled with ``display_path``."""
    folders: list[tuple[str, os.stat_result]] = []
    files: list[tuple[str, os.stat_result]] = []
    omitted = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if (name.startswith(".") and not dotfiles) or not _is_utf8(name):
                continue
            if len(folders) + len(files) >= MAX_ENTRIES:
                omitted += 1
                continue
            try:
                info = entry.stat(follow_symlinks=True)
                if entry.is_symlink() and not follow_symlinks and not is_within(
                    root, os.path.realpath(entry.path, strict=True)
                ):
                    continue
            except OSError:
                continue  # vanished, a broken link, or a loop
            if stat.S_ISDIR(info.st_mode):
                folders.append((name, info))
            elif stat.S_ISREG(info.st_mode):
                files.append((name, info))
    title = escape(f"Index of {display_path}")
    rows = []
    if not at_root:
        rows.append('<tr><td><a href="../">../</a></td><td></td><td></td></tr>')
    for name, info in sorted(folders):
        rows.append(_row(name + "/", "-", info))
    for name, info in sorted(files):
        rows.append(_row(name, str(info.st_size), info))
    if omitted:
        rows.append(f"<tr><td colspan=3>{omitted} more entries not listed</td></tr>")
    body = "\n".join(rows)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n"
        "<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n"
        f"{body}\n</table></body></html>\n"
    ).encode()


def _row(name: str, size: str, info: os.stat_result) -> str:
    # "./" first keeps a name like "javascript:x" or "a:b" from reading as a scheme.
    href = escape("./" + quote(name, safe="/"), quote=True)
    modified = time.strftime("%Y-%m-%d %H:%M", time.gmtime(info.st_mtime))
    return (
        f'<tr><td><a href="{href}">{escape(name)}</a></td>'
        f'<td align="right">{size}</td><td>{modified}</td></tr>'
    )


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates by os.fsdecode
        return False
    return True
