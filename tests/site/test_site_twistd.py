"""The bundled site as `make run` serves it: twistd with web_server.toml, on loopback."""

from __future__ import annotations

import http.cookiejar
import json
import re
import tomllib
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from .server import CONFIG, ROOT, running_site

pytestmark = pytest.mark.slow


class Browser:
    """urllib with a cookie jar, following redirects as a browser does."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def open(self, path: str, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str, str, bytes]:
        request = urllib.request.Request(self.base + path, data, headers or {})
        try:
            with self.opener.open(request, timeout=10) as answer:
                return answer.status, answer.url, answer.headers["Content-Type"], answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.url, error.headers["Content-Type"], error.read()

    def register(self, first: str, last: str) -> tuple[int, str, str, bytes]:
        form = self.open("/register")[3]
        match = re.search(rb'name="csrf_token" value="([^"]+)"', form)
        assert match is not None
        fields = {"first_name": first, "last_name": last, "csrf_token": match.group(1).decode()}
        return self.open("/register", urlencode(fields).encode())


def test_the_config_file_names_what_the_lesson_configured() -> None:
    """web_server.toml names the static folder, the app folder, the port, module and callable."""
    config = tomllib.loads(CONFIG.read_text())
    assert config["port"] == ["tcp:8000"]
    assert config["static"] == [{"prefix": "/", "path": "static"}]
    assert config["wsgi"] == [{"prefix": "/", "path": "dynamic", "module": "mini_frame",
                               "callable": "application"}]
    assert (ROOT / "static" / "index.html").is_file()
    assert (ROOT / "dynamic" / "mini_frame" / "__init__.py").is_file()


def test_twistd_serves_the_site_with_web_server_toml(tmp_path: Path) -> None:
    """Static pages and the app side by side, the register round trip, and the site 404."""
    with running_site(tmp_path) as base:
        client = Browser(base)
        status, _, kind, body = client.open("/")
        assert (status, kind) == (200, "text/html; charset=utf-8")
        assert b'href="/time"' in body and b'href="/register"' in body
        assert client.open("/test.jpg")[2] == "image/jpeg"
        assert client.open("/test.jpg")[3] == (ROOT / "static" / "test.jpg").read_bytes()
        assert client.open("/style.css")[2] == "text/css; charset=utf-8"
        assert json.loads(client.open("/time", headers={"Accept": "application/json"})[3])["iso"]

        status, url, _, body = client.register("Ada", "Lovelace")
        assert (status, url) == (200, base + "/register")  # after the 303
        assert b'<span class="first">Ada</span>' in body
        assert client.register("", "Lovelace")[0] == 400

        status, _, kind, body = client.open("/missing/page")
        assert (status, kind) == (404, "text/html; charset=utf-8")
        assert b'href="/style.css"' in body
    assert (tmp_path / "data" / "people.sqlite3").is_file()


def test_concurrent_registrations_from_the_thread_pool_are_all_stored(tmp_path: Path) -> None:
    """Posts served at once by the WSGI thread pool each reach SQLite (a connection per call)."""
    count = 24
    with running_site(tmp_path) as base:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: Browser(base).register(f"P{i}", "Parallel")[0],
                                    range(count)))
        assert results == [200] * count
        page = Browser(base).open("/register")[3]
    names = re.findall(rb'<span class="first">(P\d+)</span>', page)
    assert sorted(names) == sorted(f"P{i}".encode() for i in range(count))
