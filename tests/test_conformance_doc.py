"""docs/conformance.md names the tests that hold each requirement: every one must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_test_named_in_the_conformance_table_exists() -> None:
    """A renamed or deleted test leaves the table pointing at nothing: caught here."""
    text = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    named = NODE.findall(text)
    assert len(named) > 100
    defined: dict[str, set[str]] = {}
    missing = []
    for path, name in named:
        if path not in defined:
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            defined[path] = {
                node.name for node in tree.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
        if name not in defined[path]:
            missing.append(f"{path}::{name}")
    assert missing == []
