"""The bundled site in a real browser: headless Chromium against twistd on loopback.

Each test starts ``twistd -n minihttp --config web_server.toml`` (on a free
127.0.0.1 port, its data in the test's folder) and drives Chromium through
Selenium. The screenshots are saved in docs/screenshots/ for the README and
the documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

from tests.site.server import ROOT, running_site

SCREENSHOTS = ROOT / "docs" / "screenshots"
INK = "rgb(31, 35, 40)"  # --ink of static/style.css, the header's background


def screenshot(browser: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / name))


def picture_width(browser: Any) -> int:
    """The decoded width of the page's picture: 0 unless the image arrived and decoded."""
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return document.getElementById('picture').complete"))
    return int(browser.execute_script(
        "return document.getElementById('picture').naturalWidth"))


def header_background(browser: Any) -> str:
    return str(browser.execute_script(
        "return getComputedStyle(document.querySelector('header.site')).backgroundColor"))


def submit(browser: Any, base: str, first: str, last: str) -> None:
    """Fill in the registration form as a person would, and send it."""
    browser.get(base + "/register")
    browser.find_element(By.ID, "first_name").send_keys(first)
    browser.find_element(By.ID, "last_name").send_keys(last)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))


def click_and_wait(browser: Any, button: Any) -> None:
    """Click a button that sends a form, and wait for the page that answers it.

    The old page going stale is the sign: its readyState is already "complete",
    so waiting on that alone could read the old page.
    """
    old = browser.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(browser, 10).until(staleness_of(old))
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return document.readyState") == "complete")


def listed(browser: Any) -> list[tuple[str, str]]:
    return [(item.find_element(By.CLASS_NAME, "first").text,
             item.find_element(By.CLASS_NAME, "last").text)
            for item in browser.find_elements(By.CSS_SELECTOR, "ol.people li")]


def test_home_page_picture_and_stylesheet(chromium: Any, tmp_path: Path) -> None:
    """/ loads, the picture decodes (naturalWidth > 0), and the stylesheet applies."""
    with running_site(tmp_path) as base:
        chromium.get(base + "/")
        assert chromium.title == "Home · minihttp"
        assert picture_width(chromium) == 480
        assert header_background(chromium) == INK
        screenshot(chromium, "home.png")

        click_and_wait(chromium, chromium.find_element(By.LINK_TEXT, "The time"))
        assert chromium.title == "Time · minihttp"
        assert chromium.find_element(By.CSS_SELECTOR, "p.clock time").text
        assert header_background(chromium) == INK

        chromium.get(base + "/no-such-page")
        assert chromium.find_element(By.TAG_NAME, "h1").text == "Not found"
        assert header_background(chromium) == INK
        screenshot(chromium, "not-found.png")


def test_register_a_valid_entry_then_see_it_listed(chromium: Any, tmp_path: Path) -> None:
    """A filled form is stored, and after the 303 the list shows the person."""
    with running_site(tmp_path) as base:
        submit(chromium, base, "Ada", "Lovelace")
        assert chromium.current_url == base + "/register"
        submit(chromium, base, "Grace", "Hopper")
        assert listed(chromium) == [("Ada", "Lovelace"), ("Grace", "Hopper")]
        assert not chromium.find_elements(By.CLASS_NAME, "error")
        screenshot(chromium, "register.png")


def test_an_empty_entry_shows_the_errors(chromium: Any, tmp_path: Path) -> None:
    """An empty form comes back with an error for each field, and nobody is listed."""
    with running_site(tmp_path) as base:
        submit(chromium, base, "", "")
        assert chromium.find_element(By.ID, "first_name-error").text == "First name is required."
        assert chromium.find_element(By.ID, "last_name-error").text == "Last name is required."
        assert listed(chromium) == []
        screenshot(chromium, "register-errors.png")


def test_script_laden_names_are_shown_as_text(chromium: Any, tmp_path: Path) -> None:
    """Markup in a name is shown as the characters typed, and no script runs."""
    first = "<script>document.title='owned'</script>"
    last = '<img src=x onerror="document.title=\'owned\'">'
    with running_site(tmp_path) as base:
        submit(chromium, base, first, last)
        assert listed(chromium) == [(first, last)]
        assert chromium.title == "Register · minihttp"
        assert not chromium.find_elements(By.CSS_SELECTOR, "ol.people script, ol.people img")


def test_create_an_account_log_out_and_log_in(chromium: Any, tmp_path: Path) -> None:
    """The login page by clicking: a new account signs in, log out, log in again."""

    def fill(username: str, password: str, button: str) -> None:
        chromium.get(base + "/login")
        chromium.find_element(By.ID, "username").send_keys(username)
        chromium.find_element(By.ID, "password").send_keys(password)
        click_and_wait(chromium, chromium.find_element(By.ID, button))

    def user() -> str:
        return str(chromium.find_element(By.ID, "user").text)

    with running_site(tmp_path) as base:
        chromium.get(base + "/login")
        screenshot(chromium, "login.png")
        fill("ada", "analytical engine", "create")
        assert user() == "ada"
        click_and_wait(chromium, chromium.find_element(By.ID, "logout"))
        assert chromium.find_element(By.TAG_NAME, "h1").text == "Log in"
        fill("ada", "wrong password", "login")
        assert chromium.find_element(By.CSS_SELECTOR, "p.error").text == (
            "Unknown user name or wrong password.")
        fill("ada", "analytical engine", "login")
        assert user() == "ada"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A test CA's certificate for localhost and 127.0.0.1: (key, chain) PEM files."""
    authority = trustme.CA()
    issued = authority.issue_cert("localhost", "127.0.0.1")
    key, chain = tmp_path / "key.pem", tmp_path / "cert.pem"
    issued.private_key_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(chain))
    return key, chain


@pytest.fixture
def chromium_tls(chromium: Any) -> Any:
    """The browser, told to take the test CA's certificate (it is not in its store)."""
    chromium.execute_cdp_cmd("Security.setIgnoreCertificateErrors", {"ignore": True})
    return chromium


def test_the_site_over_tls(chromium_tls: Any, tmp_path: Path,
                           certificate: tuple[Path, Path]) -> None:
    """Over TLS the browser completes the handshake (ALPN included) and the site works."""
    with running_site(tmp_path, tls=certificate) as base:
        chromium_tls.get(base + "/")
        assert chromium_tls.execute_script("return location.protocol") == "https:"
        assert chromium_tls.title == "Home · minihttp"
        assert picture_width(chromium_tls) == 480
        assert header_background(chromium_tls) == INK
        submit(chromium_tls, base, "Ada", "over TLS")
        assert listed(chromium_tls) == [("Ada", "over TLS")]
