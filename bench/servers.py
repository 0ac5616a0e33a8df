"""The servers under test: how each is started, checked for life, measured and stopped.

Every server starts fresh for every run, on 127.0.0.1 and a port the kernel
just handed out, in a process group of its own (``start_new_session``), pinned
with ``taskset`` to core 0 when the machine has a second core for the load
generator. ``stop`` ends that group by its id: SIGTERM, then SIGKILL.

Each server is run with its own defaults and one process, except where a
default would change what is measured: no access logs anywhere, gunicorn's
gthread worker gets minihttp's ten threads, nginx keeps connections for as
many requests as the client sends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from anchors import BENCH, PROJECT_BIN, bench_bin

SERVER_CORE = "0"
LOAD_CORE = "1"
THREADS = 10  # minihttp's and Twisted's default WSGI thread pool


class ServerFailed(Exception):
    """The server did not come up, or died; the message ends with its log."""


@dataclass
class Context:
    """What every run shares: the served folder, a scratch folder, the tools found."""

    www: Path
    scratch: Path
    tools: dict[str, str | None]
    bench_venv: bool
    pin: bool
    minihttp_workers: bool = False


Argv = tuple[list[str], dict[str, str]]  # the command line, and what to add to the environment
Command = Callable[[Context, int, str, int], Argv]


@dataclass(frozen=True)
class Server:
    name: str
    serves: frozenset[str]  # "static", "wsgi"
    command: Command
    needs: str = ""  # "nginx" or "bench-venv": skipped without it
    note: str = ""

    def unavailable(self, context: Context) -> str:
        """Why this server cannot run here, or ''."""
        if self.needs == "nginx" and not context.tools.get("nginx"):
            return "nginx not installed"
        if self.needs == "bench-venv" and not context.bench_venv:
            return "bench venv not built"
        return ""


def _twistd(context: Context, log: str) -> list[str]:
    return [str(PROJECT_BIN / "twistd"), "--nodaemon", "--pidfile=", f"--logfile={log}"]


def _minihttp(context: Context, port: int, kind: str, workers: int) -> Argv:
    log = str(context.scratch / f"minihttp-{port}.log")
    argv = [*_twistd(context, log), "minihttp", "--port", f"tcp:{port}:interface=127.0.0.1",
            "--no-access-log"]
    if kind == "static":
        argv += ["--static", str(context.www)]
    else:
        argv += ["--wsgi", "/app=benchapp:app", "--pythonpath", str(BENCH),
                 "--threads", str(THREADS)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return argv, {}


def _twistd_web(context: Context, port: int, kind: str, workers: int) -> Argv:
    log = str(context.scratch / f"twistd-web-{port}.log")
    argv = [*_twistd(context, log), "web", "--listen", f"tcp:{port}:interface=127.0.0.1"]
    if kind == "static":
        argv += ["--path", str(context.www)]
    else:
        argv += ["--wsgi", "benchapp.app"]
    return argv, {"PYTHONPATH": str(BENCH)}


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {scratch}/nginx-{port}.pid;
error_log {scratch}/nginx-{port}.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    default_type application/octet-stream;
    client_body_temp_path {scratch}/nginx-body;
    proxy_temp_path {scratch}/nginx-proxy;
    fastcgi_temp_path {scratch}/nginx-fastcgi;
    uwsgi_temp_path {scratch}/nginx-uwsgi;
    scgi_temp_path {scratch}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {www};
    }}
}}
"""


def _nginx(context: Context, port: int, kind: str, workers: int) -> Argv:
    conf = context.scratch / f"nginx-{port}.conf"
    conf.write_text(NGINX_CONF.format(scratch=context.scratch, port=port, www=context.www))
    return [str(context.tools["nginx"]), "-c", str(conf), "-p", str(context.scratch)], {}


def _gunicorn(worker: str) -> Command:
    def command(context: Context, port: int, kind: str, workers: int) -> Argv:
        argv = [str(bench_bin("gunicorn")), "--workers", "1", "--worker-class", worker,
                "--bind", f"127.0.0.1:{port}", "--pythonpath", str(BENCH),
                "--log-level", "warning", "--backlog", "2048"]
        if worker == "gthread":
            argv += ["--threads", str(THREADS)]
        return [*argv, "benchapp:app"], {}
    return command


def _waitress(context: Context, port: int, kind: str, workers: int) -> Argv:
    return [str(bench_bin("waitress-serve")), f"--listen=127.0.0.1:{port}",
            "benchapp:app"], {"PYTHONPATH": str(BENCH)}


def _cheroot(context: Context, port: int, kind: str, workers: int) -> Argv:
    return [str(bench_bin("cheroot")), "--bind", f"127.0.0.1:{port}", "--chdir", str(BENCH),
            "benchapp:app"], {"PYTHONPATH": str(BENCH)}


def _canned(context: Context, port: int, kind: str, workers: int) -> Argv:
    return [str(PROJECT_BIN / "python"), str(BENCH / "canned.py"), str(port)], {
        "PYTHONPATH": str(BENCH)}


BOTH = frozenset({"static", "wsgi"})
SERVERS = [
    Server("minihttp", BOTH, _minihttp),
    Server("twistd web", BOTH, _twistd_web, note="Twisted's own `twistd web`, same Twisted"),
    Server("nginx", frozenset({"static"}), _nginx, needs="nginx", note="1 worker, sendfile"),
    Server("gunicorn sync", frozenset({"wsgi"}), _gunicorn("sync"), needs="bench-venv",
           note="1 worker; the sync worker closes every connection"),
    Server("gunicorn gthread", frozenset({"wsgi"}), _gunicorn("gthread"), needs="bench-venv",
           note=f"1 worker, {THREADS} threads"),
    Server("waitress", frozenset({"wsgi"}), _waitress, needs="bench-venv", note="defaults"),
    Server("cheroot", frozenset({"wsgi"}), _cheroot, needs="bench-venv", note="defaults"),
    Server("ceiling", BOTH, _canned,
           note="bare Twisted reactor writing canned responses: no HTTP layer"),
]
BY_NAME = {server.name: server for server in SERVERS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    """One started server process group."""

    server: Server
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    rss_samples: list[int] = field(default_factory=list)

    @classmethod
    def start(cls, server: Server, context: Context, kind: str, workers: int = 1,
              timeout: float = 20.0) -> Running:
        port = free_port()
        argv, env = server.command(context, port, kind, workers)
        if context.pin:
            argv = ["taskset", "-c", SERVER_CORE if workers == 1 else "0-1", *argv]
        log = context.scratch / f"{server.name.replace(' ', '-')}-{port}.out"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=context.scratch, env={**os.environ, **env}, start_new_session=True,
            )
        running = cls(server, port, process, log)
        try:
            running._wait_listening(timeout)
        except BaseException:
            running.stop()
            raise
        return running

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"exited with {self.process.returncode}: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise ServerFailed(f"not listening after {timeout:.0f}s: {self.log_tail()}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 3) -> str:
        """The last lines of what the server wrote, its twistd log included."""
        texts = []
        for path in [self.log, *self.log.parent.glob(f"*-{self.port}.log")]:
            try:
                texts += path.read_text(errors="replace").strip().splitlines()
            except OSError:
                pass
        interesting = [line for line in texts if line.strip()]
        return " | ".join(line.strip()[-200:] for line in interesting[-lines:]) or "(no output)"

    def rss(self) -> int:
        """Resident memory of the whole process group, in bytes."""
        total = 0
        for pid in self.group():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except (OSError, IndexError, ValueError):
                continue
        return total

    def group(self) -> list[int]:
        """Process ids in the server's process group (nginx and gunicorn have workers)."""
        pids = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == self.process.pid:  # fields[2] is the process group
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        """SIGTERM to the process group, then SIGKILL if it lingers; always reaps."""
        pgid = self.process.pid
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            if not _group_alive(pgid):
                break
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
