"""Kinds of setting values: how a command-line string or a TOML value becomes one, strictly.

A kind converts what the command line gives (always text) and what the config
file gives (TOML's own types) into the value a settings field holds, and says
in a few words what it allows ("a whole number") for error messages, ``--help``
and the reference. Nothing is coerced: a whole-number setting refuses ``2.7``,
``true`` and ``"8"`` in the file; a true-or-false setting refuses ``"no"``.
Ranges and other rules are the field's attrs validator, not the kind's.

The kind of a field comes from its type (``int``, ``float``, ``bool``, ``str``,
``bytes``, ``int | None``, ``tuple[str, ...]``, ``dict[str, str]``) unless its
metadata names one (``kind=PATH``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs


class Refused(ValueError):
    """A value of the wrong kind; the caller names the setting and what it allows."""


@attrs.frozen
class Origin:
    """Where a raw value came from, as an error message names it.

    ``subject`` is the option (``--threads``) or the key (``threads``,
    ``[[wsgi]] module``); ``file`` and ``line`` locate a key of the config file,
    and ``base`` is the folder a relative path in it is relative to.
    """

    subject: str
    file: str | None = None
    line: int | None = None
    base: str | None = None

    @property
    def place(self) -> str:
        """``minihttp.toml:3``, or the file alone when the line is unknown."""
        if self.file is None:
            return ""
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.place}: {self.subject}" if self.file is not None else self.subject

    def show(self, value: object) -> str:
        """``value`` as the user wrote it: TOML syntax from the file, quoted text from
        the command line."""
        if self.file is None:
            return repr(value)
        return toml_repr(value)


def toml_repr(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_repr(item) for item in value) + "]"
    return repr(value)


@attrs.frozen
class Given:
    """A raw value and where it came from."""

    value: Any
    origin: Origin


class Kind:
    """Strict conversion of one kind of value; see the module docstring."""

    allowed = "a value"
    repeatable = False  # a list: the option may be given many times

    def from_text(self, text: str, origin: Origin) -> Any:
        """One command-line value."""
        raise NotImplementedError

    def from_texts(self, texts: Sequence[str], origin: Origin) -> Any:
        """Every value the command line gave the option; the last wins unless repeatable."""
        return self.from_text(texts[-1], origin)

    def from_file(self, value: object, origin: Origin) -> Any:
        """One config-file value."""
        raise NotImplementedError

    def combine(self, earlier: Any, later: Any) -> Any:
        """The value when both the file (``earlier``) and the command line set it."""
        return later

    def show(self, value: object) -> str:
        """A default, as the reference shows it."""
        return "not set" if value is None else toml_repr(value)


class Integer(Kind):
    allowed = "a whole number"

    def from_text(self, text: str, origin: Origin) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
            raise Refused
        return int(text)

    def from_file(self, value: object, origin: Origin) -> int:
        if type(value) is not int:  # bool is an int subclass: true is not 1 here
            raise Refused
        return value


class OptionalInteger(Integer):
    """A whole number whose default is "not set" (None)."""


class Number(Kind):
    allowed = "a number"

    def from_text(self, text: str, origin: Origin) -> float:
        try:
            number = float(text)
        except ValueError:
            raise Refused from None
        if not math.isfinite(number):
            raise Refused
        return number

    def from_file(self, value: object, origin: Origin) -> float:
        if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
            raise Refused
        return float(value)  # type: ignore[arg-type]


class Boolean(Kind):
    """On the command line a flag that sets the opposite of the default."""

    allowed = "true or false"

    def from_file(self, value: object, origin: Origin) -> bool:
        if type(value) is not bool:
            raise Refused
        return value


class Text(Kind):
    allowed = "a string"

    def from_text(self, text: str, origin: Origin) -> str:
        return text

    def from_file(self, value: object, origin: Origin) -> str:
        if not isinstance(value, str):
            raise Refused
        return value


class Bytes(Text):
    """Text sent on the wire (a header value): UTF-8 bytes, checked by the field's validator."""

    def from_text(self, text: str, origin: Origin) -> bytes:  # type: ignore[override]
        return text.encode("utf-8", "surrogateescape")

    def from_file(self, value: object, origin: Origin) -> bytes:  # type: ignore[override]
        return super().from_file(value, origin).encode("utf-8")

    def show(self, value: object) -> str:
        return toml_repr(value.decode("ascii") if isinstance(value, bytes) else value)


class Path(Text):
    """A file or folder: relative to the config file when it comes from one, else as given."""

    allowed = "a path"

    def from_file(self, value: object, origin: Origin) -> str:
        path = super().from_file(value, origin)
        return os.path.join(origin.base, path) if origin.base else path


class ListOf(Kind):
    """A repeatable option; in the file one value or a list of them. ``extend``: the
    command line adds to the file's list instead of replacing it."""

    repeatable = True

    def __init__(self, item: Kind, extend: bool = False) -> None:
        self.item = item
        self.extend = extend
        self.allowed = f"{item.allowed} or a list of them"

    def from_texts(self, texts: Sequence[str], origin: Origin) -> tuple[Any, ...]:
        return tuple(self._each(self.item.from_text, text, origin) for text in texts)

    def from_file(self, value: object, origin: Origin) -> tuple[Any, ...]:
        items = value if isinstance(value, list) else [value]
        return tuple(self._each(self.item.from_file, item, origin) for item in items)

    def _each(self, convert: Any, value: Any, origin: Origin) -> Any:
        try:
            return convert(value, origin)
        except Refused as refused:
            if refused.args:
                raise
            raise Refused(f"{origin} takes {self.allowed}, not {origin.show(value)}") from None

    def combine(self, earlier: Any, later: Any) -> Any:
        return (*earlier, *later) if self.extend else later

    def show(self, value: object) -> str:
        return toml_repr(list(value)) if isinstance(value, tuple) else super().show(value)


class TextMap(Kind):
    """``KEY=VALUE`` on the command line (repeatable), a table of strings in the file;
    the command line's pairs are added over the file's."""

    repeatable = True
    allowed = "a table of strings"

    def __init__(self, pair: str = "KEY=VALUE") -> None:
        self.pair = pair

    def from_texts(self, texts: Sequence[str], origin: Origin) -> dict[str, str]:
        pairs = {}
        for text in texts:
            key, equals, value = text.partition("=")
            if not equals:
                raise Refused(f"{origin} takes {self.pair}, not {text!r}")
            pairs[key] = value
        return pairs

    def from_file(self, value: object, origin: Origin) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise Refused
        return dict(value)

    def combine(self, earlier: Any, later: Any) -> Any:
        return {**earlier, **later}

    def show(self, value: object) -> str:
        return "{}" if value == {} else super().show(value)


INTEGER = Integer()
NUMBER = Number()
BOOLEAN = Boolean()
TEXT = Text()
BYTES = Bytes()
PATH = Path()

_BY_TYPE: dict[str, Kind] = {
    "int": INTEGER, "float": NUMBER, "bool": BOOLEAN, "str": TEXT, "bytes": BYTES,
    "int | None": OptionalInteger(), "tuple[str, ...]": ListOf(TEXT),
    "dict[str, str]": TextMap(),
}


def kind_of(field: attrs.Attribute[Any]) -> Kind:
    """The kind of a settings field: its metadata's ``kind``, else the one of its type."""
    kind = field.metadata.get("kind")
    if kind is not None:
        return kind  # type: ignore[no-any-return]
    name = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    try:
        return _BY_TYPE[name]
    except KeyError:
        raise TypeError(f"no kind for setting {field.name!r} of type {name!r}") from None
