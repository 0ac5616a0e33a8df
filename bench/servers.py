"""The servers under test: how each is started, checked for life, measured and stopped.

Every server starts fresh for every run, on 127.0.0.1 and a port the kernel
just handed out, in a process group of its own (``start_new_session``), pinned
with ``taskset`` to core 0 when the machine has a second core for the load
generator. ``stop`` ends that group by its id: SIGTERM, then SIGKILL.

Each server is run with its own defaults and one process, except where a
default would change what is measured: gunicorn's gthread worker gets
minihttp's ten threads, nginx keeps connections for as many requests as the
client sends.

The access log is run three ways (``LOG_MODES``), since it costs as much as
the HTTP layer itself in some servers:

- ``installed``: as the server comes. minihttp logs each request (combined
  format) to where twistd logs (stdout with ``twistd -n``, as ``make run`` and
  the docs run it), written to that stream in batches; ``twistd web`` too;
  nginx's packaged config logs every request to a file (``access_log`` in
  ``/etc/nginx/nginx.conf``); gunicorn's default has
  no access log (``--access-logfile`` is unset), and waitress and cheroot have
  none at all; the ceiling logs nothing.
- ``off``: no access log anywhere: ``--no-access-log``; for twistd web, which
  has no option for it, ``twistd_web_nolog.tac`` (its own plugin's site with
  ``Site.log`` doing nothing); ``access_log off`` for nginx.
- ``on``: an access log to a file everywhere a server has one: minihttp's
  ``--access-log FILE`` (combined, as nginx's), ``twistd web --logfile FILE``, nginx's
  ``access_log FILE``, ``gunicorn --access-logfile FILE``. waitress, cheroot
  and the ceiling have none, and are left out of this table.

A server whose ``installed`` command is the same as its ``off`` or ``on`` one
is run once and its figures are shown in both tables.
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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WORKER_READY = "minihttp worker listening"  # each --workers process logs it once it listens


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
    minihttp_log_file: bool = False  # --access-log FILE


Argv = tuple[list[str], dict[str, str]]  # the command line, and what to add to the environment
Command = Callable[[Context, int, str, int, str], Argv]  # ..., port, kind, workers, log
LOG_MODES = ("installed", "off", "on")
LOG_TITLES = {
    "installed": "as installed (each server's own defaults, its access log as it comes)",
    "off": "access logs off everywhere",
    "on": "access logs on everywhere, to a file (servers that have one)",
}


@dataclass(frozen=True)
class Server:
    name: str
    serves: frozenset[str]  # "static", "wsgi"
    command: Command
    needs: str = ""  # "nginx" or "bench-venv": skipped without it
    note: str = ""
    # What each log mode runs: "default", "off" or "file"; a mode missing is not run.
    logs: tuple[tuple[str, str], ...] = (("installed", "off"), ("off", "off"))
    optional: bool = False  # run only when named in --servers

    def log_setting(self, mode: str) -> str | None:
        """How this server logs in ``mode`` ("default", "off", "file"), or None: not run."""
        return dict(self.logs).get(mode)

    def unavailable(self, context: Context) -> str:
        """Why this server cannot run here, or ''."""
        if self.needs == "nginx" and not context.tools.get("nginx"):
            return "nginx not installed"
        if self.needs == "bench-venv" and not context.bench_venv:
            return "bench venv not built"
        return ""


def _twistd() -> list[str]:
    # No --logfile: twistd -n logs to stdout (the run's .out file), as `make run` does.
    return [str(PROJECT_BIN / "twistd"), "--nodaemon", "--pidfile="]


def access_log_path(context: Context, port: int) -> str:
    return str(context.scratch / f"access-{port}.log")


def _minihttp(context: Context, port: int, kind: str, workers: int, log: str) -> Argv:
    argv = [*_twistd(), "minihttp", "--port", f"tcp:{port}:interface=127.0.0.1"]
    if log == "off":
        argv.append("--no-access-log")
    elif log == "file":
        argv += ["--access-log", access_log_path(context, port)]
    if kind == "static":
        argv += ["--static", str(context.www)]
    else:
        argv += ["--wsgi", "/app=benchapp:app", "--pythonpath", str(BENCH),
                 "--threads", str(THREADS)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return argv, {}


def _minihttp_metrics(context: Context, port: int, kind: str, workers: int,
                      log: str) -> Argv:
    argv, env = _minihttp(context, port, kind, workers, log)
    return [*argv, "--metrics", "/metrics"], env


def _twistd_web(context: Context, port: int, kind: str, workers: int, log: str) -> Argv:
    web = ["--listen", f"tcp:{port}:interface=127.0.0.1"]
    if kind == "static":
        web += ["--path", str(context.www)]
    else:
        web += ["--wsgi", "benchapp.app"]
    env = {"PYTHONPATH": str(BENCH)}
    if log == "off":
        tac = str(BENCH / "twistd_web_nolog.tac")
        return [*_twistd(), "--python", tac], {**env, "BENCH_TWISTD_WEB_ARGS": "\n".join(web)}
    if log == "file":
        web += ["--logfile", access_log_path(context, port)]
    return [*_twistd(), "web", *web], env


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {scratch}/nginx-{port}.pid;
error_log {scratch}/nginx-{port}.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {access_log};
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


def _nginx(context: Context, port: int, kind: str, workers: int, log: str) -> Argv:
    conf = context.scratch / f"nginx-{port}.conf"
    access_log = "off" if log == "off" else f"{access_log_path(context, port)} combined"
    conf.write_text(NGINX_CONF.format(scratch=context.scratch, port=port, www=context.www,
                                      access_log=access_log))
    return [str(context.tools["nginx"]), "-c", str(conf), "-p", str(context.scratch)], {}


def _gunicorn(worker: str) -> Command:
    def command(context: Context, port: int, kind: str, workers: int, log: str) -> Argv:
        argv = [str(bench_bin("gunicorn")), "--workers", "1", "--worker-class", worker,
                "--bind", f"127.0.0.1:{port}", "--pythonpath", str(BENCH),
                "--log-level", "warning", "--backlog", "2048"]
        if log == "file":
            argv += ["--access-logfile", access_log_path(context, port)]
        if worker == "gthread":
            argv += ["--threads", str(THREADS)]
        return [*argv, "benchapp:app"], {}
    return command


def _waitress(context: Context, port: int, kind: str, workers: int, log: str) -> Argv:
    return [str(bench_bin("waitress-serve")), f"--listen=127.0.0.1:{port}",
            "benchapp:app"], {"PYTHONPATH": str(BENCH)}


def _cheroot(context: Context, port: int, kind: str, workers: int, log: str) -> Argv:
    return [str(bench_bin("cheroot")), "--bind", f"127.0.0.1:{port}", "--chdir", str(BENCH),
            "benchapp:app"], {"PYTHONPATH": str(BENCH)}


def _canned(context: Context, port: int, kind: str, workers: int, log: str) -> Argv:
    return [str(PROJECT_BIN / "python"), str(BENCH / "canned.py"), str(port)], {
        "PYTHONPATH": str(BENCH)}


BOTH = frozenset({"static", "wsgi"})
LOGS_THREE_WAYS = (("installed", "default"), ("off", "off"), ("on", "file"))
LOGS_OFF_BY_DEFAULT = (("installed", "off"), ("off", "off"), ("on", "file"))
SERVERS = [
    Server("minihttp", BOTH, _minihttp, logs=LOGS_THREE_WAYS),
    Server("minihttp metrics", BOTH, _minihttp_metrics, logs=LOGS_THREE_WAYS, optional=True,
           note="minihttp with --metrics /metrics: what the figures cost"),
    Server("twistd web", BOTH, _twistd_web, logs=LOGS_THREE_WAYS,
           note="Twisted's own `twistd web`, same Twisted"),
    Server("nginx", frozenset({"static"}), _nginx, needs="nginx", note="1 worker, sendfile",
           logs=(("installed", "file"), ("off", "off"), ("on", "file"))),
    Server("gunicorn sync", frozenset({"wsgi"}), _gunicorn("sync"), needs="bench-venv",
           note="1 worker; the sync worker closes every connection", logs=LOGS_OFF_BY_DEFAULT),
    Server("gunicorn gthread", frozenset({"wsgi"}), _gunicorn("gthread"), needs="bench-venv",
           note=f"1 worker, {THREADS} threads", logs=LOGS_OFF_BY_DEFAULT),
    Server("waitress", frozenset({"wsgi"}), _waitress, needs="bench-venv",
           note="defaults; no access log"),
    Server("cheroot", frozenset({"wsgi"}), _cheroot, needs="bench-venv",
           note="defaults; no access log"),
    Server("ceiling", BOTH, _canned,
           note="bare Twisted reactor writing canned responses: no HTTP layer, no log"),
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
              log: str = "off", timeout: float = 20.0) -> Running:
        port = free_port()
        argv, env = server.command(context, port, kind, workers, log)
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
            if workers > 1:
                running._wait_workers(workers, timeout)
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

    def _wait_workers(self, workers: int, timeout: float) -> None:
        """Until every ``--workers`` process says it listens. The parent opens the
        sockets, so the port accepts before the workers have started; connections
        the kernel puts on a worker still importing would wait for it, and its start
        would be counted in the run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"exited with {self.process.returncode}: {self.log_tail()}")
            text = self.log.read_text(errors="replace")
            if text.count(WORKER_READY) >= workers:
                return
            time.sleep(0.05)
        raise ServerFailed(f"not {workers} workers listening after {timeout:.0f}s: "
                           f"{self.log_tail()}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 3) -> str:
        """The last lines of what the server wrote, its twistd log included."""
        texts = []
        logs = [p for p in self.log.parent.glob(f"*-{self.port}.log")
                if not p.name.startswith("access-")]
        for path in [self.log, *logs]:
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

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's process group.

        Each member's utime + stime from ``/proc/PID/stat``, plus cutime +
        cstime for children it has already reaped, so a worker that ended
        still counts.
        """
        ticks = 0
        for pid in self.group():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        return ticks / CLOCK_TICKS

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
