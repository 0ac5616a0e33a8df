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
    # Every layer folder is in the wheel, not only the top package.
    for module in ("wire/parser", "channel/protocol", "static/handler", "wsgi/handler",
                   "handlers/registry", "serve/tap"):
        assert f"twisted_http/{module}.py" in names
    assert not {"twisted/__init__.py", "twisted/plugins/__init__.py"} & names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
