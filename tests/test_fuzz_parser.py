"""The parser fuzz target (fuzz/fuzz_parser.py), run briefly on every test run.

``make fuzz`` runs it for as long as asked; here a few seconds of seeded
mutations keep the target itself working and catch the shallow findings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

TARGET = Path(__file__).resolve().parent.parent / "fuzz" / "fuzz_parser.py"


def load_target():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fuzz_parser", TARGET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzz_target_short_run() -> None:
    """Three seconds of seeded mutations: no finding, and thousands of inputs checked."""
    target = load_target()
    count = target.random_run(3.0, seed=1234)
    assert count > 1000


def test_fuzz_target_reports_a_finding() -> None:
    """The target is not vacuous: an outcome that depends on the cut is reported."""
    target = load_target()
    original = target.feed

    def lying_feed(pieces, config=None):  # type: ignore[no-untyped-def]
        outcome = original(pieces, config)
        outcome.buffered += b"!"
        return outcome

    target.feed = lying_feed
    with pytest.raises(AssertionError, match="the cut changed the outcome"):
        target.one_input(b"\x00\x01\x02GET / HTTP/1.1\r\nHost: a\r\n\r\n")
