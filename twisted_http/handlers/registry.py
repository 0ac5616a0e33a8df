"""Handler factories and how they are found by name: Twisted plugins.

A package makes a handler available to ``--handler NAME`` by dropping a module
into its ``twisted/plugins/`` folder that holds an object providing both
``twisted.plugin.IPlugin`` and ``IHandlerFactory``. ``twisted.plugin.getPlugins``
imports every such module whenever plugins are looked up (also by plain
``twistd``), so a plugin module must be cheap to import: ``HandlerPlugin``
names its factory as ``"module:attribute"`` and imports it only when built.

This module is what plugin files import. It imports nothing else of minihttp
(the package's face, ``twisted_http``, is lazy too), so loading every plugin
costs a twistd run about a millisecond, not the server's modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface, implementer

if TYPE_CHECKING:
    from ..channel.interfaces import IRequestHandler


class IHandlerFactory(Interface):
    """Something that builds a request handler from keyword options, found by ``name``."""

    name = Attribute("The name ``--handler`` uses: lower-case letters, digits, '-', '_', '.'.")
    description = Attribute("One line saying what the handler does, for --list-handlers.")

    def build(**options: Any) -> IRequestHandler:
        """A new handler for one mount. Raise ValueError or TypeError for a bad option."""


@implementer(IPlugin, IHandlerFactory)
class HandlerPlugin:
    """An ``IHandlerFactory`` whose code is imported only when a handler is built.

    ``target`` is ``"module:attribute"``: a callable taking the options as keyword
    arguments and returning an ``IRequestHandler`` (a handler class will do).
    """

    def __init__(self, name: str, description: str, target: str) -> None:
        self.name = name
        self.description = description
        self.target = target

    def build(self, **options: Any) -> IRequestHandler:
        module_name, _, attribute = self.target.partition(":")
        factory: Callable[..., IRequestHandler] = getattr(
            importlib.import_module(module_name), attribute
        )
        return factory(**options)

    def __repr__(self) -> str:
        return f"<HandlerPlugin {self.name} -> {self.target}>"


def handler_plugins() -> Iterator[IHandlerFactory]:
    """Every installed handler factory (twisted/plugins/ on sys.path), in no set order."""
    from twisted.plugin import getPlugins

    import twisted.plugins

    yield from getPlugins(IHandlerFactory, twisted.plugins)


def available() -> dict[str, IHandlerFactory]:
    """Installed handler factories by name. Two of the same name is a ValueError:
    which one ``--handler`` meant could only be guessed."""
    found: dict[str, IHandlerFactory] = {}
    for factory in handler_plugins():
        name = str(factory.name)
        if name in found and found[name] is not factory:
            raise ValueError(
                f"two installed handler plugins are named {name!r}: {found[name]!r}, {factory!r}"
            )
        found[name] = factory
    return found


def find(name: str) -> IHandlerFactory:
    """The installed handler factory called ``name``; ValueError naming the choices if none."""
    found = available()
    if name not in found:
        raise ValueError(
            f"no handler named {name!r}; installed: {', '.join(sorted(found)) or 'none'}"
            " (twistd minihttp --list-handlers)"
        )
    return found[name]


def listing() -> str:
    """``--list-handlers``: one line per installed handler, name then description."""
    found = available()
    width = max((len(name) for name in found), default=0)
    return "".join(
        f"{name.ljust(width)}  {found[name].description}\n" for name in sorted(found)
    )
