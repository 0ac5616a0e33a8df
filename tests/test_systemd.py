"""systemd: socket activation through ``--port systemd:...`` and ``Type=notify``, for real.

With ``systemd-socket-activate`` (Debian's ``systemd`` package) where it is
installed: it listens, starts twistd on the first connection with the socket
as fd 3 and ``LISTEN_FDS``/``LISTEN_PID`` set, exactly as systemd does. Without
it, the test sets up the same itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .processes import ROOT, TWISTD, can_connect, get, wait_for
from .support import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd is Linux's"),
]
ACTIVATE = shutil.which("systemd-socket-activate")


def start(tmp_path: Path, port: int, notify: str, *extra: str) -> subprocess.Popen[bytes]:
    log = tmp_path / "twistd.log"
    command = [TWISTD, "--nodaemon", "--pidfile=", f"--logfile={log}", "minihttp",
               "--port", "systemd:domain=INET:index=0", "--wsgi", "tests.apps.slow:app",
               "--pythonpath", str(ROOT), *extra]
    if ACTIVATE is not None:
        return subprocess.Popen([ACTIVATE, "-l", f"127.0.0.1:{port}",
                                 "-E", f"NOTIFY_SOCKET={notify}", *command],
                                cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen()
    fd = listener.fileno()
    env = {**os.environ, "LISTEN_FDS": "1", "NOTIFY_SOCKET": notify}
    # The socket as fd 3, and LISTEN_PID the exec'd process's own pid (the shell's $$).
    process = subprocess.Popen(
        ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", *command], env=env, cwd=tmp_path,
        pass_fds=[3], preexec_fn=lambda: os.dup2(fd, 3),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener.close()
    return process


@pytest.mark.parametrize("workers", ["1", "2"])
def test_socket_activation_and_notify(tmp_path: Path, workers: str) -> None:
    """Started by socket activation, twistd serves the passed socket (with --workers too,
    every worker sharing it), says READY=1 once it listens, STOPPING=1 when it drains,
    and exits 0 on SIGTERM."""
    port = free_port()
    notify = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(notify)
        systemd.settimeout(60)
        process = start(tmp_path, port, notify, "--workers", workers)
        try:
            assert wait_for(lambda: can_connect(port))  # the first connection starts it
            status, _, body = get(port, "/")
            assert status == 200
            assert systemd.recv(100) == b"READY=1"
            if workers == "2":
                assert wait_for(lambda: len({get(port, "/")[2] for _ in range(8)}) == 2)
            process.send_signal(signal.SIGTERM)
            assert systemd.recv(100) == b"STOPPING=1"
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = (tmp_path / "twistd.log").read_text()
    assert "Traceback" not in text
