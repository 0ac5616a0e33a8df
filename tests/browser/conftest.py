"""Browser tests: headless Chromium (Debian's chromium and chromium-driver) driven by Selenium.

They run under `make browser-test`, which installs Chromium and Selenium, and
not under `make test`: this folder is only collected with MINIHTTP_BROWSER=1,
so the plain suite stays fast and needs no browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if not os.environ.get("MINIHTTP_BROWSER"):
    collect_ignore_glob = ["test_*.py"]
# The driver is Debian's chromedriver, named below: Selenium has nothing to
# look up or download, and nothing to report.
os.environ.setdefault("SE_AVOID_STATS", "true")


# Headless Chromium as root, with nothing of its own going on: no sandbox (root
# cannot have one), no GPU, no QUIC or background fetches that could leave
# loopback, no first-run or sync, and a fresh profile each test.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,900",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium session; the profile lives in the test's own folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.fail("chromium and chromedriver are needed: run make browser-test")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    session.set_page_load_timeout(30)
    try:
        yield session
    finally:
        session.quit()
