"""curl against a real ``twistd -n minihttp``: a conditional request and range requests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from twisted_http.testing import RecordedResponse, parse_responses

from .support import free_port, wait_until_serving

CURL = shutil.which("curl")
TWISTD = Path(sys.executable).parent / "twistd"


def curl(*args: str) -> RecordedResponse:
    """One curl request with -i; the response as parse_responses reads it."""
    assert CURL is not None
    output = subprocess.run([CURL, "--silent", "--show-error", "--include", *args],
                            check=True, capture_output=True, timeout=30).stdout
    (response,) = parse_responses(output)
    return response


@pytest.mark.slow
@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_conditional_and_range_requests(tmp_path: Path) -> None:
    """twistd -n minihttp with static options: curl gets 200 with validators, 304 for
    If-None-Match and If-Modified-Since, 206 for -r, multipart for two ranges, 416 past the end."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "hello.txt").write_bytes(b"hello world\n")
    port = free_port()
    process = subprocess.Popen(
        [str(TWISTD), "--nodaemon", "--pidfile=", f"--logfile={tmp_path / 'twistd.log'}",
         "minihttp", "--port", f"tcp:{port}:interface=127.0.0.1", "--static", str(site),
         "--static-max-age", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(port, process)
        url = f"http://127.0.0.1:{port}/hello.txt"
        full = curl(url)
        assert full.status == 200 and full.body == b"hello world\n"
        etag, modified = full.header(b"etag"), full.header(b"last-modified")
        assert etag is not None and modified is not None
        assert full.header(b"cache-control") == b"max-age=60"

        cached = curl("-H", f"If-None-Match: {etag.decode()}", url)
        assert cached.status == 304 and cached.header(b"etag") == etag
        since = curl("-z", modified.decode(), url)  # curl sends If-Modified-Since
        assert since.status == 304

        part = curl("-r", "0-4", url)
        assert part.status == 206
        assert part.header(b"content-range") == b"bytes 0-4/12"
        assert part.body == b"hello"
        stale = curl("-r", "0-4", "-H", 'If-Range: "stale"', url)
        assert stale.status == 200 and stale.body == b"hello world\n"
        two = curl("-r", "0-4,6-10", url)
        assert two.status == 206
        assert (two.header(b"content-type") or b"").startswith(b"multipart/byteranges")
        assert b"Content-Range: bytes 6-10/12\r\n\r\nworld" in two.body
        past = curl("-r", "100-", url)
        assert past.status == 416 and past.header(b"content-range") == b"bytes */12"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
