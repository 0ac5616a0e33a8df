"""``--access-log FILE`` in real ``twistd -n minihttp`` processes on loopback: the lines,
their escaping, SIGUSR1 reopening a moved file, and ``--workers 2`` sharing one file.

Every client is bounded (a count of requests, a timeout on each); every process is
ended by pid afterwards.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .processes import Twistd, get, running, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's"),
]

# nginx's combined, then the duration: client - - [time] "request" status bytes "ref" "ua" s
COMBINED = re.compile(r'^(\S+) - - \[[^\]]+\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"'
                      r' (\d+\.\d{6})$')
# A client sends quotes and backslashes in its target (all the parser lets through), and
# a byte past ASCII too in its User-Agent.
HOSTILE = (b'GET /a"b?q=\\c%FF HTTP/1.1\r\nHost: x\r\nReferer: http://r/\r\n'
           b'User-Agent: evil" \\ \xfe agent\r\nConnection: close\r\n\r\n')


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(data)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def site(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_bytes(b"x" * 1024)


def lines_of(*paths: Path) -> list[str]:
    text = "".join(path.read_text("ascii") if path.exists() else "" for path in paths)
    assert text == "" or text.endswith("\n"), "a line was cut"
    return text.splitlines()


def rotate(server: Twistd, log: Path, number: int) -> tuple[Path, int]:
    """logrotate's way: move the file, send SIGUSR1; then requests until one lands in a
    fresh file at the old path. Returns where the old lines now are, and how many
    requests that took."""
    moved = log.with_name(f"{log.name}.{number}")
    log.rename(moved)
    server.signal(signal.SIGUSR1)
    sent = []

    def one() -> bool:
        sent.append(get(server.port, "/index.html")[0])
        return log.exists() and bool(lines_of(log))

    assert wait_for(one, 20), server.text()
    assert set(sent) == {200}
    return moved, len(sent)


def test_combined_lines_escaped_and_reopened_on_sigusr1(tmp_path: Path) -> None:
    """A combined line per request in FILE; a hostile target and User-Agent come out
    escaped on one line; the health check is not logged; after mv + SIGUSR1 the next
    lines go to a fresh file, none lost or cut; SIGTERM writes what waits."""
    site(tmp_path)
    log = tmp_path / "access.log"
    with running(tmp_path, "--access-log", str(log), "--health", "/healthz") as server:
        assert get(server.port, "/healthz")[0] == 200
        assert get(server.port, "/index.html")[0] == 200
        assert raw_request(server.port, HOSTILE).startswith(b"HTTP/1.1 404")
        assert wait_for(lambda: len(lines_of(log)) >= 2), server.text()
        first, hostile = lines_of(log)
        assert COMBINED.match(first), first
        assert COMBINED.match(first).groups()[:4] == (  # type: ignore[union-attr]
            "127.0.0.1", "GET /index.html HTTP/1.1", "200", "1024")
        assert hostile.split(" ", 5)[5] == (
            r'"GET /a\x22b?q=\x5Cc%FF HTTP/1.1" 404 ' + hostile.split(" ")[9] +
            r' "http://r/" "evil\x22 \x5C \xFE agent" ' + hostile.rsplit(" ", 1)[1])
        moved, rotating = rotate(server, log, 1)
        for _ in range(5):
            assert get(server.port, "/index.html")[0] == 200
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    assert len(lines_of(moved, log)) == 2 + rotating + 5
    assert all(COMBINED.match(line) for line in lines_of(moved, log))
    assert lines_of(moved)[:2] == [first, hostile]


def test_by_default_the_lines_go_to_twistds_log_as_they_are(tmp_path: Path) -> None:
    """No --access-log: the combined lines are written into twistd's --logfile between
    its own lines, without its time stamp and namespace, and the last of them by exit."""
    site(tmp_path)
    with running(tmp_path) as server:
        for _ in range(3):
            assert get(server.port, "/index.html")[0] == 200
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    lines = [line for line in server.text().splitlines() if "GET /index.html" in line]
    assert len(lines) == 3 and all(COMBINED.match(line) for line in lines), server.text()
    assert "minihttp drained" in server.text()


def test_workers_share_one_json_file_whole_lines_none_lost(tmp_path: Path) -> None:
    """--workers 2 --access-log-format json: every worker appends to the file itself;
    after N requests on several connections, a SIGUSR1 the parent passes on (mv, then
    lines in the fresh file) and a SIGTERM, there are N + the rotation's lines, each one
    whole JSON."""
    site(tmp_path)
    log = tmp_path / "access.log"
    ready = "minihttp worker listening"
    with running(tmp_path, "--workers", "2", "--access-log", str(log),
                 "--access-log-format", "json", ready=ready) as server:
        assert server.wait_log(ready, 2), server.text()

        def client(number: int) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                for _ in range(50):
                    assert get(server.port, f"/index.html?c={number}", connection=conn)[0] == 200
            finally:
                conn.close()
            return 50

        with ThreadPoolExecutor(4) as clients:
            sent = sum(clients.map(client, range(8)))
        moved, rotating = rotate(server, log, 1)
        assert get(server.port, "/index.html?last")[0] == 200
        server.signal(signal.SIGTERM)
        assert server.wait() == 0, server.text()
    records = [json.loads(line) for line in lines_of(moved, log)]
    assert len(records) == sent + rotating + 1
    assert sum(1 for r in records if r["target"].startswith("/index.html?c=")) == sent
    assert [r["target"] for r in records].count("/index.html?last") == 1
    assert set(records[0]) == {"time", "client", "method", "target", "version", "status",
                               "bytes", "duration", "referer", "user_agent"}
    assert {r["status"] for r in records} == {200}
