"""Sphinx configuration: the docs/ Markdown pages (MyST) as a site, with the API reference.

Sphinx because it is the Twisted ecosystem's tool (Twisted, treq and klein
document with it), autodoc reads the public face's docstrings, and MyST keeps
the pages Markdown, readable on a code host as they are. `make docs` builds it
with warnings as errors into docs/_build/html.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

project = "minihttp"
author = "the minihttp authors"
copyright = "minihttp authors"  # noqa: A001 - Sphinx's name

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.graphviz",
    "sphinx.ext.intersphinx",
    "repoze.sphinx.autointerface",
    "parser_states",
    "public_api",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "screenshots", "Thumbs.db", ".DS_Store"]

# MyST: `#the-config-file`-style links between pages, and ::: fences.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

html_theme = "furo"
html_title = "minihttp"
html_static_path: list[str] = []

graphviz_output_format = "svg"

autodoc_member_order = "bysource"
# Overrides of Twisted methods (buildProtocol) would inherit Twisted's epytext docstrings.
autodoc_inherit_docstrings = False
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
intersphinx_mapping: dict[str, tuple[str, Any]] = {}

# The table of contents, in reading order. A page named here but missing (a
# page another change has not landed yet) is left out; a page in docs/ named
# nowhere is listed under "More", so adding a page never breaks the build.
SECTIONS = [
    ("Start here", ["quickstart", "lesson"]),
    ("Using minihttp", ["running", "configuration", "static", "wsgi", "extending", "handlers",
                        "testing", "tls", "proxies", "logs", "metrics", "deploy", "security"]),
    ("How it works", ["architecture", "parser", "benchmarks"]),
    ("Reference", ["api", "conformance"]),
]


def _toctrees() -> str:
    pages = {path.stem for path in HERE.glob("*.md")} - {"index"}
    named = {page for _, section in SECTIONS for page in section}
    sections = SECTIONS + [("More", sorted(pages - named))]
    out = []
    for caption, section in sections:
        present = [page for page in section if page in pages]
        if present:
            out.append(f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 2\n\n"
                       + "\n".join(present) + "\n```\n")
    return "\n".join(out)


def _fill_index(app: Any, docname: str, source: list[str]) -> None:
    if docname == "index":
        source[0] = source[0].replace("<!-- toctrees -->", _toctrees())


def setup(app: Any) -> None:
    app.connect("source-read", _fill_index)
