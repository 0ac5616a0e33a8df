"""The bundled site's app is imported from its folder, as web_server.toml says (``path``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .kit import Site

APP_FOLDER = Path(__file__).resolve().parents[2] / "dynamic"
if str(APP_FOLDER) not in sys.path:
    sys.path.insert(0, str(APP_FOLDER))


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """The app with its data in a folder of the test's own, on fakes."""
    from .kit import Site  # imports mini_frame: only once the path above is set

    return Site(tmp_path / "data")
