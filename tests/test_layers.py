"""The package's shape: layers import only downwards, no import circles, no module over
400 lines, and each module opens with a docstring (docs/architecture.md).

Imports are read with ``ast``, nothing is imported: every ``import`` counts,
including those under ``TYPE_CHECKING`` and inside functions, since a circle
hidden there is still a circle for the reader and for mypy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "twisted_http"
MAX_LINES = 400

# Which of our layers each layer may import. The face (``twisted_http/__init__.py``
# and the testing kit) may import any of them.
LOWER = {
    "wire": {"wire"},
    "channel": {"wire", "channel"},
    "static": {"wire", "channel", "static"},
    "wsgi": {"wire", "channel", "wsgi"},
    "handlers": {"wire", "channel", "handlers"},
    "edge": {"wire", "channel", "edge"},
    "serve": {"wire", "channel", "static", "wsgi", "handlers", "edge", "serve"},
}
FACE = "face"

# Modules still over the limit while their owner splits them: each entry is an
# expected failure, strict, so the test says when the entry must go.
PENDING_SPLIT: dict[str, str] = {}

# Layers whose import circles are known and being broken by their owner: the
# circle test of that layer is an expected failure, strict, like PENDING_SPLIT.
PENDING_CIRCLES: dict[str, str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LOWER else FACE


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """(our modules that ``module`` imports, the top-level names of all others)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    ours: set[str] = set()
    others: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # ``from pkg import name``: the submodule pkg.name when there is one.
            names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source
                     for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "twisted_http":
                while name not in MODULES:  # an attribute of a module, not a module
                    name = name.rpartition(".")[0]
                if name != module:
                    ours.add(name)
            else:
                others.add(name.split(".")[0])
    return ours, others


GRAPH = {module: imports_of(module)[0] for module in MODULES}


def test_the_reader_of_imports_sees_relative_and_hidden_imports() -> None:
    """The graph holds the edges this test exists for (so it cannot pass by seeing none)."""
    # Under TYPE_CHECKING:
    assert "twisted_http.channel.request" in GRAPH["twisted_http.channel.interfaces"]
    assert "twisted_http.wire.parser" in GRAPH["twisted_http.channel.reader"]
    assert "twisted_http.channel.protocol" in GRAPH["twisted_http.channel.factory"]
    assert layer_of("twisted_http.channel.protocol") == "channel"
    assert layer_of("twisted_http") == layer_of("twisted_http.testing") == FACE


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m) != FACE))
def test_layers_import_only_downwards(module: str) -> None:
    """wire <- channel <- {static, wsgi, handlers, edge} <- serve <- the face."""
    allowed = LOWER[layer_of(module)]
    upward = sorted(name for name in GRAPH[module]
                    if layer_of(name) == FACE or layer_of(name) not in allowed)
    assert not upward, f"{module} imports above or beside its layer: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m) == "wire"))
def test_the_wire_imports_no_twisted(module: str) -> None:
    """The wire layer is bytes <-> messages: usable, and testable, without Twisted."""
    assert "twisted" not in imports_of(module)[1]


def import_circles() -> list[list[str]]:
    """Every circle found by a depth-first walk, each as [a, b, ..., a]."""
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for imported in sorted(GRAPH[module]):
            if state.get(imported) == 1:
                circles.append(path[path.index(imported):] + [imported])
            elif imported not in state:
                visit(imported)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    return circles


CIRCLES = import_circles()


@pytest.mark.parametrize("layer", [*LOWER, FACE])
def test_no_import_circles(layer: str, request: pytest.FixtureRequest) -> None:
    """No module reaches itself through the modules it imports."""
    if layer in PENDING_CIRCLES:
        request.applymarker(pytest.mark.xfail(
            strict=True,
            reason=f"{PENDING_CIRCLES[layer]}; once it passes, delete its PENDING_CIRCLES entry",
        ))
    circles = [c for c in CIRCLES if layer_of(c[0]) == layer]
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module: str, request: pytest.FixtureRequest) -> None:
    if module in PENDING_SPLIT:
        request.applymarker(pytest.mark.xfail(
            strict=True,
            reason=f"{PENDING_SPLIT[module]}; once it passes, delete its PENDING_SPLIT entry",
        ))
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module]} has {lines} lines"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_opens_with_a_docstring_saying_what_it_owns(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{MODULES[module]} has no module docstring"
