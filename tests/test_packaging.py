"""What `pip install .` installs: the package, and the plugin inside Twisted's plugin folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_carries_the_plugin_without_shadowing_twisted(tmp_path: Path) -> None:
    """The wheel has twisted/plugins/minihttp_plugin.py but no twisted/__init__.py of its own."""
    pytest.importorskip("setuptools")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("minihttp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "twisted/plugins/minihttp_plugin.py" in names
    assert "twisted_http/py.typed" in names
    assert "twisted/plugins/minihttp_handlers.py" in names
    # Every module of every layer folder: a folder left out of pyproject's list is not.
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "twisted_http").rglob("*.py")}
    assert modules - names == set()
    assert not {"twisted/__init__.py", "twisted/plugins/__init__.py"} & names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
