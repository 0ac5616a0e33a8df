"""--metrics on a real `twistd minihttp`, one process and --workers 2: known traffic, then
the exposition parsed with prometheus_client's parser."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .support import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
TWISTD = Path(sys.executable).parent / "twistd"

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@contextmanager
def twistd(tmp_path: Path, *extra: str) -> Iterator[int]:
    """`twistd minihttp --metrics /metrics` serving a folder at / and an app at /app."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>hello</p>")
    port = free_port()
    process = subprocess.Popen(
        [str(TWISTD), "--nodaemon", "--pidfile=", f"--logfile={tmp_path / 'twistd.log'}",
         "minihttp", "--port", f"tcp:{port}:interface=127.0.0.1", "--static", str(site),
         "--pythonpath", str(ROOT / "tests" / "apps"), "--wsgi", "/app=simple:hello",
         "--metrics", "/metrics", *extra],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp_path)})  # where --workers keeps its figures
    try:
        wait_until_serving(port, process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def fetch(port: int, path: str, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", data=data,
                                    timeout=10) as page:
            page.read()
            return int(page.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        return connection.recv(65536)


def known_traffic(port: int) -> None:
    """3 pages, 2 misses, 1 POST to the app, a malformed Host (400), a huge header (431)."""
    statuses = [fetch(port, "/") for _ in range(3)] + [fetch(port, "/missing") for _ in range(2)]
    statuses.append(fetch(port, "/app", data=b"x=1"))
    assert statuses == [200, 200, 200, 404, 404, 200]
    assert raw(port, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    big = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * 70000 + b"\r\n\r\n"
    assert raw(port, big).startswith(b"HTTP/1.1 431 ")


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
        assert page.headers["Content-Type"].startswith("text/plain")
        text = page.read().decode("utf-8")
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def expected(samples: Samples) -> dict[str, float]:
    """The figures the known traffic must give."""
    def get(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    return {
        "static 2xx": get("minihttp_requests_total", method="GET", status_class="2xx",
                          mount="/"),
        "static 4xx": get("minihttp_requests_total", method="GET", status_class="4xx",
                          mount="/"),
        "app 2xx": get("minihttp_requests_total", method="POST", status_class="2xx",
                       mount="/app"),
        "app durations": get("minihttp_request_duration_seconds_count", mount="/app"),
        "app bytes": get("minihttp_response_bytes_total", mount="/app"),
        "400": get("minihttp_refusals_total", reason="400"),
        "431": get("minihttp_refusals_total", reason="431"),
        "503": get("minihttp_refusals_total", reason="503"),
        "cache hits+misses": get("minihttp_static_cache_hits_total", mount="/")
        + get("minihttp_static_cache_misses_total", mount="/"),
    }


WANTED = {"static 2xx": 3, "static 4xx": 2, "app 2xx": 1, "app durations": 1,
          "app bytes": len(b"hello world"), "400": 1, "431": 1, "503": 0,
          "cache hits+misses": 5}


def test_metrics_count_known_traffic(tmp_path: Path) -> None:
    """One process: every figure after known traffic, and the gauges during a scrape."""
    with twistd(tmp_path) as port:
        known_traffic(port)
        samples = scrape(port)
    assert expected(samples) == WANTED
    assert samples[("minihttp_requests_in_flight", ())] == 1  # the scrape itself
    assert samples[("minihttp_open_connections", ())] == 1
    assert samples[("minihttp_wsgi_requests_queued", ())] == 0


def test_metrics_with_two_workers_are_the_whole_servers(tmp_path: Path) -> None:
    """--workers 2: whichever worker answers, the figures add up both workers' traffic
    (each worker's reach the others within a second)."""
    with twistd(tmp_path, "--workers", "2") as port:
        known_traffic(port)
        deadline = time.monotonic() + 15
        figures: dict[str, float] = {}
        while time.monotonic() < deadline:
            figures = expected(scrape(port))
            if figures == WANTED:
                break
            time.sleep(0.3)
        assert figures == WANTED
        # Several scrapes in a row agree, whichever worker each one reaches.
        assert all(expected(scrape(port)) == WANTED for _ in range(6))
        [folder] = tmp_path.glob("minihttp-metrics-*")
        assert len({path.name.rsplit("_", 1)[-1] for path in folder.glob("*.db")}) == 2
    assert not list(tmp_path.glob("minihttp-metrics-*"))  # removed at shutdown
