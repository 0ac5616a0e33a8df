"""The drain, restarts and recycling with real twistd processes and real clients, on loopback.

Every client here is bounded (a count of requests, a timeout on each) and every
process is ended by pid afterwards. ``make test`` runs the drain and a SIGHUP
under load; the rest (marked ``cluster``) run with ``make cluster``, which CI
runs too, to keep ``make test`` short.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .processes import can_connect, get, running, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's"),
]

SLOW = ["--wsgi", "tests.apps.slow:app", "--health", "/healthz"]


def drained(text: str) -> int:
    return sum(int(count) for count in re.findall(r"minihttp drained (\d+) requests", text))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_answers_every_request_received_and_exits_0(tmp_path: Path,
                                                            workers: str) -> None:
    """SIGTERM with four slow requests in the apps and an idle keep-alive connection: the
    ports close at once (a new connection is refused, not reset), the idle connection
    closes, the four are answered in full with Connection: close, and twistd exits 0
    saying how many requests it drained."""
    ready = "minihttp worker listening" if workers == "2" else "HTTPFactory starting"
    with running(tmp_path, *SLOW, "--workers", workers, ready=ready) as server:
        if workers == "2":
            assert server.wait_log(ready, 2)
        idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        assert get(server.port, "/healthz", connection=idle)[0] == 200
        marks = [tmp_path / f"mark{n}" for n in range(4)]
        with ThreadPoolExecutor(4) as clients:
            answers = [clients.submit(get, server.port, f"/?seconds=1.5&mark={mark}")
                       for mark in marks]
            assert wait_for(lambda: all(mark.exists() for mark in marks))
            server.signal(signal.SIGTERM)
            assert wait_for(lambda: not can_connect(server.port)), "the port stayed open"
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", server.port), timeout=5)
            with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
                get(server.port, "/healthz", connection=idle)  # closed while idle
            results = [answer.result(timeout=60) for answer in answers]
        assert [(status, headers.get("connection")) for status, headers, _ in results] == [
            (200, "close")] * 4
        assert server.wait(60) == 0
        text = server.text()
        assert drained(text) == 4, text
        assert "Traceback" not in text


def metric(port: int, name: str) -> float:
    """One figure of ``--metrics /metrics`` (a gauge without labels)."""
    body = get(port, "/metrics")[2].decode()
    found = re.search(rf"^{name} (\S+)$", body, re.MULTILINE)
    return float(found.group(1)) if found else -1.0


def test_requests_queued_for_a_wsgi_thread_are_answered_in_the_drain(tmp_path: Path) -> None:
    """One WSGI thread, one request in it and two waiting for it at SIGTERM: the drain
    runs the waiting two as well, and all three get 200 with Connection: close."""
    with running(tmp_path, *SLOW, "--threads", "1", "--metrics", "/metrics",
                 ready="HTTPFactory starting") as server:
        with ThreadPoolExecutor(3) as clients:
            answers = [clients.submit(get, server.port, "/?seconds=0.5") for _ in range(3)]
            assert wait_for(lambda: metric(server.port, "minihttp_wsgi_requests_queued") == 2)
            server.signal(signal.SIGTERM)
            results = [answer.result(timeout=60) for answer in answers]
        assert [(status, headers.get("connection")) for status, headers, _ in results] == [
            (200, "close")] * 3
        assert server.wait(60) == 0
        assert drained(server.text()) == 3, server.text()


@pytest.mark.cluster
@pytest.mark.parametrize("workers", ["1", "2"])
def test_measure_requests_in_flight_at_sigterm_and_how_many_complete(tmp_path: Path,
                                                                    workers: str) -> None:
    """The figure for issue 11: 20 slow WSGI requests (2 s each) in flight at SIGTERM.
    One process has 10 threads, so 10 run and 10 wait for a thread; two workers get
    20 threads each and every request is in an app. Every one must be answered 200."""
    extra = ["--metrics", "/metrics"] if workers == "1" else ["--threads", "20"]
    ready = "minihttp worker listening" if workers == "2" else "HTTPFactory starting"
    with running(tmp_path, *SLOW, "--workers", workers, *extra, ready=ready) as server:
        assert server.wait_log(ready, int(workers))
        marks = [tmp_path / f"mark{n}" for n in range(20)]
        with ThreadPoolExecutor(20) as clients:
            answers = [clients.submit(get, server.port, f"/?seconds=2&mark={mark}")
                       for mark in marks]
            if workers == "1":
                # 20 and the scrape itself, 10 of them in threads: the rest wait for one.
                assert wait_for(lambda: metric(server.port, "minihttp_requests_in_flight") == 21
                                and metric(server.port, "minihttp_wsgi_threads_busy") == 10)
                queued = metric(server.port, "minihttp_wsgi_requests_queued")
            else:
                assert wait_for(lambda: all(mark.exists() for mark in marks))
                queued = 0
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            statuses = []
            for answer in answers:
                try:
                    statuses.append(answer.result(timeout=60)[0])
                except (OSError, http.client.HTTPException):
                    statuses.append(0)
        status = server.wait(60)
        seconds = time.monotonic() - started
        print(f"\nSIGTERM with --workers {workers}: 20 requests in flight ({queued:.0f} waiting"
              f" for a thread), {statuses.count(200)} answered 200, exit status {status},"
              f" {seconds:.1f}s from SIGTERM to exit; log: drained {drained(server.text())}")
        assert statuses == [200] * 20 and status == 0


@pytest.mark.cluster
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_second_sigterm_cuts_the_drain_and_exits_non_zero(tmp_path: Path,
                                                            workers: str) -> None:
    """SIGTERM, then SIGTERM again while a request is stuck in the app: the drain is cut,
    the client's connection dropped, the log says so and twistd's exit status is not 0."""
    ready = "minihttp worker listening" if workers == "2" else "HTTPFactory starting"
    with running(tmp_path, *SLOW, "--workers", workers, ready=ready) as server:
        assert server.wait_log(ready, int(workers))
        mark = tmp_path / "mark"
        with ThreadPoolExecutor(1) as clients:
            answer = clients.submit(get, server.port, f"/?seconds=60&mark={mark}")
            assert wait_for(mark.exists)
            server.signal(signal.SIGTERM)
            assert server.wait_log("minihttp draining", int(workers))
            server.signal(signal.SIGTERM)
            assert server.wait(30) != 0
            with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
                answer.result(timeout=30)
        text = server.text()
        assert "Received SIGTERM again: cutting the drain short" in text
        assert "1 connections cut" in text


@pytest.mark.cluster
def test_the_shutdown_timeout_cuts_what_still_runs_and_counts_it(tmp_path: Path) -> None:
    with running(tmp_path, *SLOW, "--shutdown-timeout", "1",
                 ready="HTTPFactory starting") as server:
        mark = tmp_path / "mark"
        with ThreadPoolExecutor(1) as clients:
            answer = clients.submit(get, server.port, f"/?seconds=60&mark={mark}")
            assert wait_for(mark.exists)
            server.signal(signal.SIGTERM)
            assert server.wait(30) == 0
            with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
                answer.result(timeout=30)
        text = server.text()
        assert "minihttp shutdown timeout (1.0s) reached" in text
        assert "0 requests finished, 1 connections cut" in text


class Load:
    """Clients asking in a loop until stopped (or a bounded count), counting failures.

    Half of them keep their connection alive. Like every HTTP client that reuses
    connections (urllib3, browsers, nginx), one whose *reused* connection closes
    before any byte of the answer sends the request again once on a new one
    (RFC 9112 §9.3.1): a server closing an idle connection and a client sending on
    it can always cross. Those are counted in ``retried``; anything else fails.
    """

    def __init__(self, port: int, clients: int = 4, most: int = 5000,
                 post: bool = False) -> None:
        self.port = port
        self.post = post  # half the clients POST (a proxy does not resend those once sent)
        self.ok = 0
        self.retried = 0
        self.failed: list[str] = []
        self.pids: set[bytes] = set()
        self._stop = threading.Event()
        self._left = most
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client,
                                          args=(n % 2 == 0, post and n % 4 >= 2))
                         for n in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _ask(self, connection: http.client.HTTPConnection | None, post: bool,
             ) -> tuple[http.client.HTTPConnection, int, dict[str, str], bytes]:
        reused = connection is not None
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            if post:
                connection.request("POST", "/?seconds=0.01", body=b"x" * 100)
                response = connection.getresponse()
                headers = {name.lower(): value for name, value in response.getheaders()}
                return connection, response.status, headers, response.read()
            return (connection, *get(self.port, "/?seconds=0.01", connection=connection))
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            connection.close()
            if not reused:
                raise
        with self._lock:
            self.retried += 1
        return self._ask(None, post)

    def _client(self, keep_alive: bool, post: bool) -> None:
        connection = None
        while not self._stop.is_set():
            with self._lock:
                if self._left == 0:
                    return
                self._left -= 1
            try:
                connection, status, headers, body = self._ask(connection, post)
            except (OSError, http.client.HTTPException) as error:
                with self._lock:
                    self.failed.append(repr(error))
                connection = None
                continue
            with self._lock:
                if status == 200:
                    self.ok += 1
                    self.pids.add(body)
                else:
                    self.failed.append(str(status))
            if not keep_alive or headers.get("connection") == "close":
                connection.close()
                connection = None
        if connection is not None:
            connection.close()


def test_sighup_under_load_replaces_every_worker_and_fails_no_request(tmp_path: Path) -> None:
    """SIGHUP while four clients (two keep-alive, two a connection per request) ask without
    pause: new workers take over, the old ones drain, and no request fails."""
    with running(tmp_path, *SLOW, "--workers", "2",
                 ready="minihttp worker listening") as server:
        assert server.wait_log("minihttp worker listening", 2)
        before = server.workers()
        with Load(server.port) as load:
            assert wait_for(lambda: load.ok > 50)
            server.signal(signal.SIGHUP)
            assert server.wait_log("minihttp restart done", seconds=60), server.text()
            assert server.wait_log("drained and ended", 2)
            seen = load.ok
            assert wait_for(lambda: load.ok > seen + 50)
        after = server.workers()
        assert load.failed == [] and load.ok > 100
        assert len(after) == 2 and not after & before
        print(f"SIGHUP under load: {load.ok} requests, {len(load.failed)} failed,"
              f" {load.retried} sent again after a keep-alive close")


@pytest.mark.cluster
def test_measure_failed_requests_during_sighups_under_ten_seconds_of_load(
        tmp_path: Path) -> None:
    """The figure for issue 11: --workers 2, four clients asking without pause for 10 s,
    and a SIGHUP every 3 s (three restarts): how many requests failed."""
    with running(tmp_path, *SLOW, "--workers", "2", "--no-access-log",
                 ready="minihttp worker listening") as server:
        assert server.wait_log("minihttp worker listening", 2)
        started = time.monotonic()
        with Load(server.port, most=10**6) as load:
            for restart in range(1, 4):
                time.sleep(max(0.0, started + 3 * restart - 2 - time.monotonic()))
                server.signal(signal.SIGHUP)
                assert server.wait_log("minihttp restart done", restart, 60), server.text()
            time.sleep(max(0.0, started + 10 - time.monotonic()))
        seconds = time.monotonic() - started
        print(f"\nSIGHUP x3 under load, --workers 2, {seconds:.1f}s: {load.ok} requests"
              f" answered 200, {len(load.failed)} failed, {load.retried} sent again after"
              f" a reused keep-alive connection closed; workers seen {len(load.pids)}")
        assert load.failed == [], load.failed[:5]
        assert len(load.pids) == 8  # 2 workers, then 2 more after each of 3 restarts


@pytest.mark.cluster
def test_a_bad_config_file_on_sighup_leaves_the_old_workers_serving(tmp_path: Path) -> None:
    """SIGHUP after the config file was broken: the restart is refused with the reason in
    the log, no worker is started or stopped, and the old ones keep serving."""
    config = tmp_path / "minihttp.toml"
    config.write_text('workers = 2\nwsgi = ["tests.apps.slow:app"]\n')
    with running(tmp_path, "--config", str(config),
                 ready="minihttp worker listening") as server:
        assert server.wait_log("minihttp worker listening", 2)
        before = server.workers()
        config.write_text('workers = 2\nwsgi = ["tests.apps.slow:app"]\nthreads = "many"\n')
        server.signal(signal.SIGHUP)
        assert server.wait_log("minihttp restart refused", seconds=30), server.text()
        assert "threads" in server.text().split("minihttp restart refused")[1]
        assert server.workers() == before
        assert get(server.port)[0] == 200
        assert server.text().count("minihttp worker listening") == 2


@pytest.mark.cluster
def test_a_hup_storm_leaves_exactly_n_workers(tmp_path: Path) -> None:
    with running(tmp_path, *SLOW, "--workers", "2",
                 ready="minihttp worker listening") as server:
        assert server.wait_log("minihttp worker listening", 2)
        for _ in range(10):
            server.signal(signal.SIGHUP)
            time.sleep(0.1)
        assert server.wait_log("minihttp restart done", 2, seconds=90), server.text()
        assert wait_for(lambda: len(server.workers()) == 2, 60)
        time.sleep(1)
        assert len(server.workers()) == 2
        assert get(server.port)[0] == 200


@pytest.mark.cluster
def test_an_app_broken_before_sighup_leaves_the_old_workers_serving(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'old']\n")
    with running(tmp_path, "--workers", "2", "--wsgi", "myapp:app", "--pythonpath",
                 str(tmp_path), ready="minihttp worker listening") as server:
        assert server.wait_log("minihttp worker listening", 2)
        before = server.workers()
        (tmp_path / "myapp.py").write_text("raise ImportError('broken on purpose')\n")
        server.signal(signal.SIGHUP)
        assert server.wait_log("minihttp restart abandoned", seconds=60), server.text()
        assert "broken on purpose" in server.text()
        assert wait_for(lambda: server.workers() == before)
        assert get(server.port)[2] == b"old"


@pytest.mark.cluster
def test_max_requests_recycles_workers_without_a_failed_request(tmp_path: Path) -> None:
    with running(tmp_path, *SLOW, "--workers", "2", "--max-requests", "20",
                 "--max-requests-jitter", "5", ready="minihttp worker listening") as server:
        assert server.wait_log("minihttp worker listening", 2)
        with Load(server.port, clients=2, most=400) as load:
            assert server.wait_log("minihttp recycling of worker", 2, seconds=90)
            assert server.wait_log("drained and ended", 2, seconds=60)
        assert load.failed == []
        assert len(load.pids) >= 3


@pytest.mark.cluster
def test_a_worker_killed_during_the_drain_does_not_hang_the_parent(tmp_path: Path) -> None:
    """SIGKILL to a worker busy draining: the parent notices its end like any other and
    exits once the other worker has drained."""
    with running(tmp_path, *SLOW, "--workers", "2",
                 ready="minihttp worker listening") as server:
        assert server.wait_log("minihttp worker listening", 2)
        workers = server.workers()
        marks = [tmp_path / f"mark{n}" for n in range(6)]
        with ThreadPoolExecutor(6) as clients:
            answers = [clients.submit(get, server.port, f"/?seconds=3&mark={mark}")
                       for mark in marks]
            assert wait_for(lambda: all(mark.exists() for mark in marks))
            server.signal(signal.SIGTERM)
            assert server.wait_log("minihttp draining", 2)
            os.kill(min(workers), signal.SIGKILL)
            assert server.wait(60) == 0
            results = []
            for answer in answers:
                try:
                    results.append(answer.result(timeout=30)[0])
                except (OSError, http.client.HTTPException):
                    results.append(0)
        assert 200 in results  # the other worker's requests were answered
        assert f"minihttp worker {min(workers)} drained and ended (signal 9)" in server.text()


@pytest.mark.cluster
def test_sighup_to_one_process_is_logged_not_fatal(tmp_path: Path) -> None:
    with running(tmp_path, *SLOW, ready="HTTPFactory starting") as server:
        server.signal(signal.SIGHUP)
        assert server.wait_log("minihttp ignores SIGHUP in one process")
        assert get(server.port)[0] == 200


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.cluster)])
def test_a_shutdown_delay_says_503_on_open_ports_then_closes_them(tmp_path: Path,
                                                                  workers: str) -> None:
    """--shutdown-delay: from SIGTERM a new connection is still accepted and its health
    check answered 503 (a balancer's cue to stop sending), until the delay ends and the
    ports close; twistd then exits 0."""
    ready = "minihttp worker listening" if workers == "2" else "HTTPFactory starting"
    with running(tmp_path, *SLOW, "--shutdown-delay", "2", "--workers", workers,
                 ready=ready) as server:
        if workers == "2":
            assert server.wait_log(ready, 2)
        assert get(server.port, "/healthz")[0] == 200
        server.signal(signal.SIGTERM)
        assert wait_for(lambda: get(server.port, "/healthz")[0] == 503, 5)
        assert get(server.port, "/?seconds=0")[0] == 200  # still served meanwhile
        assert wait_for(lambda: not can_connect(server.port), 10), "the port stayed open"
        assert server.wait(60) == 0
        assert "Traceback" not in server.text()
