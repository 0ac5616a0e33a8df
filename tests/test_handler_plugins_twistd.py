"""Handlers through a real ``twistd``: the example third-party package of docs/extending.md
(docs/examples/minihttp-greeting) on the child's PYTHONPATH is listed and mounted by name,
beside the built-ins, and a WebSocket echo works through the whole stack."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .support import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "minihttp-greeting"
TWISTD = Path(sys.executable).parent / "twistd"


@pytest.fixture
def third_party(tmp_path: Path) -> dict[str, str]:
    """The example package copied to a temporary folder (Twisted writes its plugin cache
    there), and an environment whose PYTHONPATH has it: as if pip had installed it."""
    copy = tmp_path / "site"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("dropin.cache", "__pycache__"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy), env.get("PYTHONPATH")]))
    return env


def twistd(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TWISTD), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.slow
def test_list_handlers_names_builtins_and_the_third_party_plugin(
    third_party: dict[str, str], tmp_path: Path,
) -> None:
    result = twistd("minihttp", "--list-handlers", env=third_party, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == sorted(names)
    assert {"greeting", "redirect", "time", "websocket-echo"} <= set(names)
    assert any(line.startswith("greeting ") and "Says hello" in line for line in lines)


@pytest.mark.slow
def test_a_bad_handler_is_one_line_and_status_2(third_party: dict[str, str],
                                                 tmp_path: Path) -> None:
    """A plugin's own ValueError, from a child process: one line, status 2, no traceback."""
    result = twistd("--nodaemon", "--pidfile=", "minihttp", "--handler",
                    "/x=greeting(style=whisper)", env=third_party, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "minihttp: --handler: greeting: style must be plain or shout, not 'whisper'\n")


@contextmanager
def serving(env: dict[str, str], tmp_path: Path, *mounts: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [str(TWISTD), "--nodaemon", "--pidfile=", f"--logfile={tmp_path / 'twistd.log'}",
         "minihttp", "--port", f"tcp:{port}:interface=127.0.0.1", *mounts],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(port, process)
        yield port
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


@pytest.mark.slow
def test_twistd_mounts_handlers_by_name(third_party: dict[str, str], tmp_path: Path) -> None:
    """The third-party plugin, time, redirect and websocket-echo, all from the command line."""
    websockets_sync = pytest.importorskip("websockets.sync.client")
    with serving(third_party, tmp_path, "--handler", "/hello=greeting(style=shout)",
                 "--handler", "/time=time", "--handler", "/old=redirect(to=/new, status=308)",
                 "--handler", "/echo=websocket-echo") as port:
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/hello/Ann", timeout=10) as page:
            assert page.read() == b"HELLO, ANN!\n"
        request = urllib.request.Request(f"{base}/time",
                                         headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as page:
            assert page.headers["Content-Type"] == "application/json"
            assert b'"utc": "' in page.read()

        class NoFollow(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        with pytest.raises(urllib.error.HTTPError) as moved:
            urllib.request.build_opener(NoFollow).open(f"{base}/old/a?x=1", timeout=10)
        assert moved.value.code == 308 and moved.value.headers["Location"] == "/new/a?x=1"

        with websockets_sync.connect(f"ws://127.0.0.1:{port}/echo", proxy=None,
                                     open_timeout=10, close_timeout=5) as ws:
            ws.send("hello over twistd")
            assert ws.recv(timeout=10) == "hello over twistd"
    log = (tmp_path / "twistd.log").read_text()
    assert '"GET /echo HTTP/1.1" 101' in log
