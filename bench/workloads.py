"""The workloads, and one measured run of one workload against one running server.

Load comes from wrk (one thread, 64 connections, pinned to core 1), except
the latency row, which uses ``latency.py`` at a fixed rate. Every run checks
its responses three ways: a request before the load and one after it, each
checked for status and exact body length (and the server still alive); wrk's
own error counts (connect, read, write, timeout, and status >= 400, via the
Lua ``done`` hook, which costs nothing per request); and the bytes wrk read
per response, which must fit the expected body plus a head. Any of these
failing flags the run; its figure is kept but marked.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anchors import BENCH, PROJECT_BIN
from servers import LOAD_CORE, Context, Running

KIB = 1024
MIB = 1024 * 1024
POST_SIZE = 64 * KIB
CONNECTIONS = 64
PAGE = os.sysconf("SC_PAGE_SIZE")
HEAD_ALLOWANCE = 1024  # bytes of response head tolerated per response

REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "bytes": %d, "duration_us": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout))
end
"""
POST_LUA = f"""
wrk.method = "POST"
wrk.body = string.rep("x", {POST_SIZE})
wrk.headers["Content-Type"] = "application/octet-stream"
""" + REPORT_LUA


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    kind: str  # "static" or "wsgi": what the server is started to serve
    path: str
    body_length: int
    unit: str = "req/s"
    close: bool = False
    post: bool = False
    idle: int = 0
    latency: bool = False
    workers: bool = False
    servers: tuple[str, ...] = ()  # only these; empty means every server serving `kind`

    @property
    def expected_body(self) -> bytes | None:
        return b"%d" % POST_SIZE if self.post else None


WORKLOADS = [
    Workload("static-1k", "static 1 KiB, keep-alive", "static", "/1k.bin", KIB),
    Workload("static-1k-close", "static 1 KiB, new connection each", "static", "/1k.bin", KIB,
             close=True),
    Workload("static-1m", "static 1 MiB", "static", "/1m.bin", MIB, unit="GB/s"),
    Workload("wsgi-hello", "WSGI hello, keep-alive", "wsgi", "/app/hello", 14),
    Workload("wsgi-hello-close", "WSGI hello, new connection each", "wsgi", "/app/hello", 14,
             close=True),
    Workload("wsgi-stream", "WSGI 1 MiB streamed in 64 KiB chunks", "wsgi", "/app/stream", MIB,
             unit="GB/s"),
    Workload("wsgi-post", "WSGI POST 64 KiB", "wsgi", "/app/post", len(b"%d" % POST_SIZE),
             post=True),
    Workload("idle-1000", "static 1 KiB, keep-alive, 1,000 idle connections open", "static",
             "/1k.bin", KIB, idle=1000, servers=("minihttp", "twistd web", "nginx")),
    Workload("latency", "static 1 KiB at 1,000 req/s, 10 connections: latency", "static",
             "/1k.bin", KIB, unit="ms", latency=True,
             servers=("minihttp", "twistd web", "nginx", "ceiling")),
    Workload("workers", "static 1 KiB, keep-alive, `--workers 2` / 1 worker (cores 0-1)",
             "static", "/1k.bin", KIB, workers=True, servers=("minihttp",)),
    Workload("workers-wsgi", "WSGI hello, keep-alive, `--workers 2` / 1 worker (cores 0-1)",
             "wsgi", "/app/hello", 14, workers=True, servers=("minihttp",)),
    Workload("workers-wsgi-close",
             "WSGI hello, new connection each, `--workers 2` / 1 worker (cores 0-1)",
             "wsgi", "/app/hello", 14, close=True, workers=True, servers=("minihttp",)),
]
WORKER_ROWS = [workload for workload in WORKLOADS if workload.workers]
BY_NAME = {workload.name: workload for workload in WORKLOADS}


@dataclass
class RunResult:
    server: str
    workload: str
    round: int
    log: str = "off"  # how the server logged: "default", "off" or "file" (servers.LOG_MODES)
    value: float | None = None  # the figure, in the workload's unit
    metrics: dict[str, float] = field(default_factory=dict)  # rss_mib, p50_ms, ...
    errors: int = 0
    problems: list[str] = field(default_factory=list)
    fatal: str = ""  # no figure at all: the server failed, or the load did

    @property
    def flagged(self) -> bool:
        return bool(self.errors or self.problems or self.fatal)

    def problem(self, text: str, count: int = 1) -> None:
        self.errors += count
        if text not in self.problems:
            self.problems.append(text)


def write_scripts(scratch: Path) -> dict[str, Path]:
    scripts = {"report": scratch / "report.lua", "post": scratch / "post.lua"}
    scripts["report"].write_text(REPORT_LUA)
    scripts["post"].write_text(POST_LUA)
    return scripts


def check_once(port: int, workload: Workload) -> str:
    """One request as the workload sends it; '' if the answer is right, else what was wrong."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if workload.post:
            connection.request("POST", workload.path, body=b"x" * POST_SIZE,
                               headers={"Content-Type": "application/octet-stream"})
        else:
            connection.request("GET", workload.path)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        return f"{type(error).__name__}: {error}"
    finally:
        connection.close()
    if response.status != 200:
        return f"status {response.status} {body[:60]!r}"
    if len(body) != workload.body_length:
        return f"body {len(body)} bytes, expected {workload.body_length}"
    if workload.expected_body is not None and body != workload.expected_body:
        return f"body {body[:40]!r}, expected {workload.expected_body!r}"
    return ""


def _pin(context: Context, argv: list[str], workers: int = 1) -> list[str]:
    return ["taskset", "-c", LOAD_CORE, *argv] if context.pin and workers == 1 else argv


def run_wrk(context: Context, scripts: dict[str, Path], port: int, workload: Workload,
            duration: float, result: RunResult, workers: int = 1) -> None:
    """Load with wrk; fills ``result.value`` and its error counts."""
    argv = [str(context.tools["wrk"]), "-t1", f"-c{CONNECTIONS}", f"-d{duration:g}s",
            "--timeout", "10s", "-s", str(scripts["post" if workload.post else "report"])]
    if workload.close:
        argv += ["-H", "Connection: close"]
    argv.append(f"http://127.0.0.1:{port}{workload.path}")
    before = _children_cpu()
    try:
        done = subprocess.run(_pin(context, argv, workers), capture_output=True, text=True,
                              timeout=duration + 60)
    except subprocess.TimeoutExpired:
        result.fatal = "wrk did not finish"
        return
    load_cpu = _children_cpu() - before  # wrk's own CPU: the room it leaves on shared cores
    line = next((text for text in done.stdout.splitlines() if text.startswith("BENCH ")), "")
    if not line:
        result.fatal = f"wrk failed: {(done.stderr or done.stdout).strip()[-200:]}"
        return
    summary: dict[str, int] = json.loads(line[6:])
    requests = summary["requests"]
    seconds = summary["duration_us"] / 1e6
    for kind in ("connect", "read", "write", "timeout"):
        if summary[kind]:
            result.problem(f"{summary[kind]} {kind} errors", summary[kind])
    if summary["status"]:
        result.problem(f"{summary['status']} responses >= 400", summary["status"])
    if not requests:
        result.fatal = "no responses"
        return
    per_response = summary["bytes"] / requests
    # wrk counts bytes of responses still in flight at the end; allow one per connection.
    slack = CONNECTIONS * (workload.body_length + HEAD_ALLOWANCE) / requests
    if not workload.body_length <= per_response <= workload.body_length + HEAD_ALLOWANCE + slack:
        result.problem(f"{per_response:.0f} bytes read per response, body is "
                       f"{workload.body_length}")
    if workload.unit == "GB/s":
        result.value = requests * workload.body_length / seconds / 1e9
    else:
        result.value = requests / seconds
    result.metrics["requests"] = requests
    result.metrics["load_cpu_ms_per_1k"] = load_cpu * 1e6 / requests


def _children_cpu() -> float:
    """User + system seconds of this process's reaped children (wrk, once it has ended)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_latency(context: Context, port: int, workload: Workload, duration: float,
                result: RunResult, rate: float) -> None:
    argv = [str(PROJECT_BIN / "python"), str(BENCH / "latency.py"), str(port), workload.path,
            str(workload.body_length), "--rate", str(rate), "--duration", str(duration)]
    try:
        done = subprocess.run(_pin(context, argv), capture_output=True, text=True,
                              timeout=duration + 60)
        outcome: dict[str, Any] = json.loads(done.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        result.fatal = "latency client failed"
        return
    if outcome["errors"]:
        result.problem(outcome["problem"], outcome["errors"])
    if outcome["rate"] < 0.9 * rate:
        result.problem(f"only {outcome['rate']:.0f} req/s of {rate:.0f}")
    result.value = outcome["p99_ms"]
    result.metrics.update(p50_ms=outcome["p50_ms"], p99_ms=outcome["p99_ms"],
                          rate=outcome["rate"])


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections, each having made one request, then left idle."""
    request = b"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sockets.append(sock)
            sock.sendall(request)
            received = b""
            while b"\r\n\r\n" not in received or len(received) < KIB:
                chunk = sock.recv(65536)
                if not chunk:
                    raise OSError("closed before answering")
                received += chunk
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def count_open(sockets: list[socket.socket]) -> int:
    alive = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            if sock.recv(1):
                alive += 1  # unexpected bytes, but open
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


class RssSampler:
    """Samples a server's RSS every 0.2 s in a thread; ``peak`` is the largest seen.

    The group's members are listed once at the start: scanning /proc on every
    sample would itself disturb the latency row, which shares the load core.
    """

    def __init__(self, running: Running) -> None:
        self._pids = running.group()
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _rss(self) -> int:
        total = 0
        for pid in self._pids:
            try:
                with open(f"/proc/{pid}/statm") as statm:
                    total += int(statm.read().split()[1]) * PAGE
            except (OSError, ValueError, IndexError):
                continue
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self._rss())


def run_one(running: Running, context: Context, scripts: dict[str, Path], workload: Workload,
            duration: float, result: RunResult, latency_rate: float, workers: int = 1) -> None:
    """Check, load, check again; everything lands in ``result``."""
    problem = check_once(running.port, workload)
    if problem:
        result.fatal = f"pre-check: {problem}"
        return
    idle: list[socket.socket] = []
    try:
        if workload.idle:
            try:
                idle = open_idle(running.port, workload.idle)
            except OSError as error:
                result.fatal = f"could not open {workload.idle} idle connections: {error}"
                return
            time.sleep(0.5)
        cpu_before = running.cpu_seconds()
        with RssSampler(running) as sampler:
            if workload.latency:
                run_latency(context, running.port, workload, duration, result, latency_rate)
            else:
                run_wrk(context, scripts, running.port, workload, duration, result, workers)
        cpu = running.cpu_seconds() - cpu_before
        result.metrics["rss_mib"] = sampler.peak / MIB
        if result.metrics.get("requests"):
            # Server CPU seconds per 1,000 requests, in ms: steadier than req/s on a
            # shared machine, since time the server waits or is descheduled is not in it.
            result.metrics["cpu_ms_per_1k"] = cpu * 1e6 / result.metrics["requests"]
        if workload.idle:
            held = count_open(idle)
            result.metrics["idle_held"] = held
            if held < workload.idle:
                result.problem(f"{workload.idle - held} idle connections closed by the server",
                               workload.idle - held)
    finally:
        for sock in idle:
            sock.close()
    if not running.alive():
        result.problem(f"server died: {running.log_tail()}")
        return
    problem = check_once(running.port, workload)
    if problem:
        result.problem(f"post-check: {problem}")
