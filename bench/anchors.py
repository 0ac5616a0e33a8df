"""Installs what minihttp is compared against, into places of the bench's own.

- ``bench/.venv``: gunicorn, waitress, cheroot, matplotlib (the chart) and
  py-spy (profiles), from PyPI, built on first use and rebuilt when the list
  below changes. ``twistd web`` runs from the project's ``.venv``, so it uses
  the very Twisted that minihttp runs on.
- nginx and wrk from the system's packages (``apt-get install nginx-light
  wrk``) when they are missing and we are root on a Debian-like system;
  otherwise a message says what is missing, and the columns that need it are
  skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BENCH_VENV = BENCH / ".venv"
PROJECT_BIN = ROOT / ".venv" / "bin"

PYPI_PACKAGES = [
    "gunicorn>=23",
    "waitress>=3",
    "cheroot>=10",
    "matplotlib>=3.8",
    "py-spy>=0.4",
]
SYSTEM_PACKAGES = {"nginx": "nginx-light", "wrk": "wrk"}


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def bench_bin(name: str) -> Path:
    return BENCH_VENV / "bin" / name


def ensure_bench_venv() -> bool:
    """Build bench/.venv with the PyPI anchors; False (and a message) on failure."""
    stamp = BENCH_VENV / ".installed-stamp"
    wanted = hashlib.sha256("\n".join(PYPI_PACKAGES).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return True
    say(f"installing {', '.join(PYPI_PACKAGES)} into {BENCH_VENV.relative_to(ROOT)}")
    try:
        if not (BENCH_VENV / "bin" / "python").exists():
            venv.create(BENCH_VENV, with_pip=True)
        subprocess.run(
            [str(bench_bin("python")), "-m", "pip", "install", "--quiet", *PYPI_PACKAGES],
            check=True, timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as error:
        say(f"could not build the bench venv ({error}); its servers and the chart are skipped")
        return False
    stamp.write_text(wanted)
    return True


def ensure_system_tools() -> dict[str, str | None]:
    """Paths of nginx and wrk, installing them with apt-get when possible."""
    found = {tool: _which(tool) for tool in SYSTEM_PACKAGES}
    missing = [tool for tool, path in found.items() if path is None]
    if not missing:
        return found
    packages = [SYSTEM_PACKAGES[tool] for tool in missing]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        say(f"{' and '.join(missing)} not found and cannot be installed here "
            f"(needs root and apt-get: apt-get install {' '.join(packages)}); "
            "the columns that need them are skipped")
        return found
    say(f"installing {' '.join(packages)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300, env=env,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                       check=True, timeout=600, env=env, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as error:
        say(f"apt-get failed ({error}); the columns that need {' and '.join(missing)} are skipped")
    return {tool: _which(tool) for tool in SYSTEM_PACKAGES}


def _which(tool: str) -> str | None:
    return shutil.which(tool) or next(
        (str(path) for path in (Path("/usr/sbin") / tool, Path("/usr/bin") / tool)
         if path.exists()), None)


def versions(tools: dict[str, str | None]) -> dict[str, str]:
    """The version of everything measured, for the report."""
    out: dict[str, str] = {"python": sys.version.split()[0]}
    out.update(_pip_versions(PROJECT_BIN / "python", ["twisted", "minihttp"]))
    if bench_bin("python").exists():
        out.update(_pip_versions(bench_bin("python"),
                                 ["gunicorn", "waitress", "cheroot", "matplotlib", "py-spy"]))
    if tools.get("nginx"):
        text = _run([str(tools["nginx"]), "-v"])
        out["nginx"] = text.strip().rsplit("/", 1)[-1]
    if tools.get("wrk"):
        text = _run([str(tools["wrk"]), "--version"])
        out["wrk"] = text.split()[1] if len(text.split()) > 1 else text.strip()
    return out


def _pip_versions(python: Path, names: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, sys\n"
        "for n in sys.argv[1:]:\n"
        "    try: print(n, m.version(n))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    text = _run([str(python), "-c", code, *names])
    return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr
