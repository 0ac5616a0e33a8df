"""A Sphinx directive documenting every name a module exports, from its ``__all__``.

``{public-api} twisted_http`` emits the autodoc directive that fits each
exported name (``autointerface`` for zope interfaces, ``autoexception``,
``autoclass``, ``autofunction``, ``autodata``), grouped by kind. The API reference so
follows the public face: a name added to ``__all__`` appears without editing
the page, and one removed disappears.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from zope.interface.interface import InterfaceClass

GROUPS = [
    ("interfaces", "Interfaces", "autointerface"),
    ("classes", "Classes", "autoclass"),
    ("exceptions", "Errors", "autoexception"),
    ("functions", "Functions", "autofunction"),
    ("data", "Constants", "autodata"),
]


def kind_of(value: Any) -> str:
    if isinstance(value, InterfaceClass):
        return "interfaces"
    if inspect.isclass(value):
        return "exceptions" if issubclass(value, BaseException) else "classes"
    return "functions" if callable(value) else "data"


class PublicAPI(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        module = importlib.import_module(name)
        exported = list(getattr(module, "__all__", []))
        groups: dict[str, list[str]] = {}
        for export in exported:
            groups.setdefault(kind_of(getattr(module, export)), []).append(export)
        lines = [f".. automodule:: {name}", "   :no-members:", ""]
        for key, title, directive in GROUPS:
            if key not in groups:
                continue
            lines += [".. rubric:: " + title, ""]
            for export in groups[key]:
                lines += [f".. {directive}:: {name}.{export}", ""]
        content = StringList(lines, source=f"<public-api {name}>")
        container = nodes.container()
        self.state.nested_parse(content, self.content_offset, container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("public-api", PublicAPI)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
