"""Real ``twistd minihttp`` processes for the lifecycle tests: start, watch, signal, clean up."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .support import free_port

ROOT = Path(__file__).parent.parent
TWISTD = str(Path(sys.executable).parent / "twistd")


def wait_for(condition: Callable[[], object], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def children(pid: int) -> set[int]:
    """Process ids whose parent is ``pid`` and that are running (not zombies)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == pid and stat[0] != "Z":
            found.add(int(entry.name))
    return found


class Twistd:
    """One ``twistd -n minihttp`` on a loopback port, logging to ``log``."""

    def __init__(self, tmp: Path, *args: str, port: int | None = None,
                 prefix: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.log = tmp / f"twistd-{self.port}-{time.monotonic_ns()}.log"
        self.args = args
        self.prefix = prefix
        self.env = env
        self.cwd = tmp
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()  # every worker pid seen, to clean up

    def start(self) -> Twistd:
        command = [*self.prefix, TWISTD, "--nodaemon", "--pidfile=", f"--logfile={self.log}",
                   "minihttp", "--pythonpath", str(ROOT), *self.args]
        if not any(arg.startswith(("--port", "systemd:")) for arg in self.args):
            command += ["--port", f"tcp:{self.port}:interface=127.0.0.1"]
        self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def text(self) -> str:
        try:
            return self.log.read_text()
        except FileNotFoundError:
            return ""

    def wait_log(self, fragment: str, count: int = 1, seconds: float = 60) -> bool:
        return wait_for(lambda: self.text().count(fragment) >= count, seconds)

    def workers(self) -> set[int]:
        pids = children(self.pid)
        self.seen |= pids
        return pids

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, seconds: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout=seconds)

    def kill(self) -> None:
        """End it and every worker it started, by pid."""
        if self.process is not None and self.process.poll() is None:
            self.seen |= children(self.pid)
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in self.seen:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"twisted_http.serve.worker" in cmdline:
                os.kill(pid, signal.SIGKILL)


@contextmanager
def running(tmp: Path, *args: str, ready: str | None = None, **kwargs: object) -> Iterator[Twistd]:
    """A started Twistd, serving once ``ready`` is in its log (or a connection succeeds)."""
    server = Twistd(tmp, *args, **kwargs).start()  # type: ignore[arg-type]
    try:
        if ready is not None:
            assert server.wait_log(ready), server.text()
        else:
            process = server.process
            assert process is not None
            assert wait_for(lambda: can_connect(server.port) or process.poll() is not None)
            assert process.poll() is None, server.text()
        yield server
    finally:
        server.kill()


def can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def get(port: int, path: str = "/", timeout: float = 30,
        connection: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET; on a connection of its own unless ``connection`` is given."""
    own = connection is None
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        if own:
            conn.close()
