"""The config file: TOML read with tomllib, and the line each key is on.

tomllib gives values but no positions, and an error should name the line.
``key_lines`` finds them by scanning the text the way TOML is laid out: a
``[table]`` or ``[[array]]`` header opens a table (the n-th ``[[wsgi]]`` is
``("wsgi", n - 1)``), and ``key = value`` at the start of a line, outside any
string or bracket, is a key of the open table. Keys are recorded as written
(dashes and quotes resolved, case kept). A key the scan cannot place (in an
inline table, say) is reported on the line of the nearest key that contains it.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import Any

import attrs

from .kinds import Origin

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


class ConfigFileError(ValueError):
    """The file cannot be read or is not TOML; the message is one line."""


@attrs.frozen
class ConfigFile:
    """A config file's values, and where each key is."""

    name: str  # as the user named it: messages say "minihttp.toml:3", not an absolute path
    values: dict[str, Any]
    lines: dict[KeyPath, int]

    @property
    def folder(self) -> str:
        """What relative paths in the file are relative to."""
        return os.path.dirname(os.path.abspath(self.name))

    def origin(self, path: KeyPath, subject: str) -> Origin:
        """The origin of the value at ``path``, for messages about ``subject``."""
        line = None
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                break
        return Origin(subject, self.name, line, self.folder)


def read_config(name: str) -> ConfigFile:
    """Read ``name``; ConfigFileError if it cannot be read or parsed."""
    try:
        with open(name, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise ConfigFileError(f"--config: cannot read {name}: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
        values = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigFileError(f"{name}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        reason = str(error)
        at = re.search(r" \(at line (\d+), column \d+\)$", reason)
        where = f"{name}:{at.group(1)}" if at else name
        reason = reason[:at.start()] if at else reason
        raise ConfigFileError(f"{where}: not valid TOML: {reason}") from None
    return ConfigFile(name, values, key_lines(text))


def key_lines(text: str) -> dict[KeyPath, int]:
    """Line numbers (from 1) of every table header and key in a valid TOML ``text``."""
    lines: dict[KeyPath, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    table: KeyPath = ()
    scanner = _Scanner()
    for number, line in enumerate(text.splitlines(), 1):
        if scanner.inside():
            scanner.feed(line)
            continue
        stripped = line.lstrip()
        if stripped.startswith("[["):
            name = tuple(_keys(stripped[2:].partition("]]")[0]))
            index = counts.get(name, 0)
            counts[name] = index + 1
            table = (*name, index)
            lines.setdefault(table, number)
        elif stripped.startswith("["):
            table = tuple(_keys(stripped[1:].partition("]")[0]))
            lines.setdefault(table, number)
        elif stripped and not stripped.startswith("#"):
            keys, rest = _key_and_rest(stripped)
            if keys:
                lines.setdefault((*table, *keys), number)
                scanner.feed(rest)
    return lines


def _keys(text: str) -> list[str]:
    """The parts of a dotted key: ``a."b.c".d`` -> ["a", "b.c", "d"]."""
    keys, _ = _key_and_rest(text.strip() + " =")
    return keys


def _key_and_rest(text: str) -> tuple[list[str], str]:
    """A line's key parts and what follows its ``=``; ([], "") if it starts no key."""
    keys: list[str] = []
    position = 0
    while True:
        while position < len(text) and text[position] in " \t":
            position += 1
        if position < len(text) and text[position] in "\"'":
            quote = text[position]
            end = position + 1
            while end < len(text) and text[end] != quote:
                end += 2 if quote == '"' and text[end] == "\\" else 1
            keys.append(text[position + 1:end])
            position = end + 1
        else:
            match = _BARE.match(text, position)
            if match is None:
                return [], ""
            keys.append(match.group())
            position = match.end()
        while position < len(text) and text[position] in " \t":
            position += 1
        if position < len(text) and text[position] == ".":
            position += 1
            continue
        if position < len(text) and text[position] == "=":
            return keys, text[position + 1:]
        return [], ""


class _Scanner:
    """Follows strings and brackets across lines, so a multi-line array or string is
    not mistaken for keys."""

    def __init__(self) -> None:
        self._depth = 0
        self._multiline: str | None = None  # '"""' or "'''" while inside one

    def inside(self) -> bool:
        return self._depth > 0 or self._multiline is not None

    def feed(self, text: str) -> None:
        position = 0
        while position < len(text):
            if self._multiline is not None:
                end = text.find(self._multiline, position)
                if end < 0:
                    return
                position = end + 3
                self._multiline = None
                continue
            char = text[position]
            if char == "#":
                return
            if text.startswith('"""', position) or text.startswith("'''", position):
                self._multiline = text[position:position + 3]
                position += 3
            elif char in "\"'":
                end = position + 1
                while end < len(text) and text[end] != char:
                    end += 2 if char == '"' and text[end] == "\\" else 1
                position = end + 1
            else:
                if char in "[{":
                    self._depth += 1
                elif char in "]}":
                    self._depth -= 1
                position += 1
