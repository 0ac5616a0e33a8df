"""``--handler [PREFIX=]SPEC`` and ``[[handler]]`` tables: parsing, and building the handler.

SPEC is a registered name (``time``) or ``module:attribute``, optionally
followed by keyword options in parentheses:
``/old=redirect(to=/new, status=308)``. Each value is read with
``ast.literal_eval`` when it is a Python literal (``308``, ``true``/``false``
spelled ``True``/``False``, ``'quoted'``, ``["a", "b"]``) and is otherwise the
plain string as written (``/new``). Nothing is ever evaluated as code.

``module:attribute`` may name an ``IHandlerFactory``, a ``WebSocketHandler``
subclass (mounted as a WebSocket endpoint), a handler instance (no options), or
any callable that takes the options and returns an ``IRequestHandler``.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..channel.interfaces import IRequestHandler
from . import registry

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
_OPTION = re.compile(r"\s*([A-Za-z_]\w*)\s*=(.*)\Z", re.DOTALL)


@attrs.frozen
class HandlerSpec:
    """One handler mount as written: where, what, and its keyword options."""

    prefix: str
    target: str  # a registered name, or "module:attribute"
    options: Mapping[str, Any] = attrs.field(factory=dict)


def parse(text: str) -> HandlerSpec:
    """``[PREFIX=]SPEC[(key=value, ...)]`` -> HandlerSpec; ValueError saying what is wrong."""
    prefix = "/"
    spec = text.strip()
    if spec.startswith("/"):
        prefix, equals, spec = spec.partition("=")
        if not equals:
            raise ValueError(f"{text!r} has a prefix but no handler: use PREFIX=SPEC")
    target, paren, arguments = spec.partition("(")
    target = target.strip()
    check_target(target, text)
    options: dict[str, Any] = {}
    if paren:
        if not arguments.rstrip().endswith(")"):
            raise ValueError(f"{text!r}: the options in parentheses are not closed")
        options = parse_options(arguments.rstrip()[:-1], text)
    return HandlerSpec(prefix, target, options)


def check_target(target: str, text: str) -> None:
    if not (_NAME.match(target) or _REFERENCE.match(target)):
        raise ValueError(
            f"{text!r}: {target!r} is neither a handler name (see --list-handlers)"
            " nor MODULE:FACTORY"
        )


def parse_options(arguments: str, text: str) -> dict[str, Any]:
    """``key=value, key=value`` -> dict. Values are literals or plain strings, never code."""
    options: dict[str, Any] = {}
    for item in _split_top_level(arguments, text):
        if not item.strip():
            continue
        match = _OPTION.match(item)
        if match is None:
            raise ValueError(f"{text!r}: {item.strip()!r} is not KEY=VALUE")
        key, raw = match.group(1), match.group(2).strip()
        if key in options:
            raise ValueError(f"{text!r}: option {key!r} is given twice")
        options[key] = literal(raw)
    return options


def literal(raw: str) -> Any:
    """A Python literal's value, or the text itself when it is none (``/new``).

    ``true`` and ``false`` are booleans too, as in the config file.
    """
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return raw


def _split_top_level(arguments: str, text: str) -> Iterable[str]:
    """Split on commas outside quotes and brackets."""
    depth, quote, start = 0, "", 0
    for index, char in enumerate(arguments):
        if quote:
            if char == quote and arguments[index - 1] != "\\":
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"{text!r}: unbalanced {char!r} in the options")
        elif char == "," and depth == 0:
            yield arguments[start:index]
            start = index + 1
    if quote or depth:
        raise ValueError(f"{text!r}: unclosed quote or bracket in the options")
    yield arguments[start:]


def from_table(table: Mapping[str, Any]) -> HandlerSpec:
    """A ``[[handler]]`` table: ``prefix``, ``handler`` (the SPEC), the rest are options."""
    table = dict(table)
    target = table.pop("handler", None)
    if not isinstance(target, str):
        raise ValueError('a [[handler]] table needs handler = "NAME" or "MODULE:FACTORY"')
    prefix = str(table.pop("prefix", "/"))
    inline = parse(target)
    if inline.prefix != "/" and "prefix" in table:
        raise ValueError(f"[[handler]] {target!r}: give the prefix once")
    clash = sorted(set(inline.options) & set(table))
    if clash:
        raise ValueError(f"[[handler]] {target!r}: option {clash[0]!r} is given twice")
    return HandlerSpec(
        inline.prefix if inline.prefix != "/" else prefix, inline.target,
        {**inline.options, **{key.replace("-", "_"): value for key, value in table.items()}},
    )


def build(spec: HandlerSpec, pythonpath: Iterable[str] = ()) -> IRequestHandler:
    """The handler ``spec`` names, built with its options; ValueError in one line if not."""
    what = spec.target
    try:
        if ":" not in spec.target:
            handler = registry.find(spec.target).build(**spec.options)
        else:
            handler = _build_reference(spec, pythonpath)
    except (TypeError, ValueError) as error:
        message = str(error)
        raise ValueError(message if message.startswith("no handler") else f"{what}: {message}")\
            from None
    if not IRequestHandler.providedBy(handler):
        raise ValueError(f"{what}: built {handler!r}, which does not provide IRequestHandler")
    return handler


def _build_reference(spec: HandlerSpec, pythonpath: Iterable[str]) -> Any:
    module_name, _, attribute = spec.target.partition(":")
    for directory in reversed(list(pythonpath)):
        directory = os.path.abspath(directory)
        if directory not in sys.path:
            sys.path.insert(0, directory)
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as error:
        raise ValueError(
            f"cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from None
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise ValueError(f"module {module_name!r} has no {attribute!r}")
    if registry.IHandlerFactory.providedBy(found):
        return found.build(**spec.options)
    from .websocket import WebSocketHandler, WebSocketResource

    if isinstance(found, type) and issubclass(found, WebSocketHandler):
        return WebSocketResource(found, **spec.options)
    if IRequestHandler.providedBy(found):
        if spec.options:
            raise ValueError("is a handler instance, which takes no options")
        return found
    if not callable(found):
        raise ValueError("is not a handler, a handler factory or a callable")
    return found(**spec.options)
