"""--handler and [[handler]] in the settings model: parsed, built at start-up, mounted in the
one mount table; every mistake one line naming the option or the file's line; --list-handlers."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.python.usage import UsageError

from twisted_http.handlers.echo import EchoHandler
from twisted_http.handlers.redirect import Redirect
from twisted_http.handlers.time import TimeHandler
from twisted_http.handlers.websocket import WebSocketResource
from twisted_http.serve.options import Options
from twisted_http.serve.tap import make_site
from twisted_http.testing import FakeConnection

from .support import parse


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "static").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "chatapp.py").write_text(
        "from twisted_http import WebSocketHandler\n\n"
        "class ChatHandler(WebSocketHandler):\n"
        "    def on_message(self, message):\n"
        "        self.send(message)\n"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_handlers_from_the_command_line(site: Path) -> None:
    settings = parse("--handler", "/time=time", "--handler", "/old=redirect(to=/new, status=308)",
                     "--handler", "/chat=chatapp:ChatHandler(max_message_size=100)",
                     "--pythonpath", "src")
    time, redirect, chat = settings.handler
    assert (time.prefix, time.handler, time.options) == ("/time", "time", {})
    assert isinstance(time.built, TimeHandler)
    assert redirect.options == {"to": "/new", "status": 308}
    assert isinstance(redirect.built, Redirect) and redirect.built.status == 308
    assert isinstance(chat.built, WebSocketResource)
    assert chat.built.limits.max_message_size == 100
    assert settings.static == ()  # a handler is a mount: no default ./static


def test_handler_tables_take_options_as_keys(site: Path) -> None:
    (site / "site.toml").write_text(
        '[[handler]]\nprefix = "/old"\nhandler = "redirect"\nto = "/new"\nstatus = 301\n\n'
        '[[handler]]\nprefix = "/echo"\nhandler = "websocket-echo"\n'
        'origins = ["https://a.example"]\nidle-timeout = 5\n'
    )
    redirect, echo = parse("--config", "site.toml").handler
    assert redirect.options == {"to": "/new", "status": 301}
    assert redirect.built.status == 301
    assert echo.built.origins == frozenset({"https://a.example"})
    assert echo.built.limits.idle_timeout == 5.0
    assert echo.built.handler_class is EchoHandler


@pytest.mark.parametrize(("argv", "message"), [
    (["--handler", "/x=nosuch"], "--handler: no handler named 'nosuch'; installed: redirect,"),
    (["--handler", "/x=redirect(to=/a"], "--handler 'redirect(to=/a': the options in"),
    (["--handler", "/x=redirect(status=308)"], "--handler: redirect: "),
    (["--handler", "/x=time(clock=1)"], "--handler: time: takes no options"),
    (["--handler", "/x=redirect(to=/a, status=200)"], "status must be one of"),
    (["--handler", "/x=chatapp:Missing", "--pythonpath", "src"], "has no 'Missing'"),
    (["--handler", "x=time"], "neither a handler name"),
])
def test_command_line_mistakes_are_one_line(site: Path, argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as error:
        parse(*argv)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_file_mistakes_name_the_line(site: Path) -> None:
    (site / "site.toml").write_text(
        '[[handler]]\nprefix = "/old"\nhandler = "redirect(to=/a)"\nto = "/b"\n')
    with pytest.raises(UsageError) as error:
        parse("--config", "site.toml")
    assert str(error.value) == "site.toml:3: [[handler]] handler: option 'to' is given twice"
    (site / "site.toml").write_text('[[handler]]\nprefix = "/old"\nhandler = "nosuch"\n')
    with pytest.raises(UsageError) as error:
        parse("--config", "site.toml")
    assert str(error.value).startswith("site.toml:3: [[handler]] handler: no handler named")


def test_handlers_share_the_mount_table_with_static_folders(site: Path) -> None:
    """On one prefix a static file is tried first, then the handler."""
    (site / "static" / "page.txt").write_text("a file")
    settings = parse("--static", "/=static", "--handler", "/=redirect(to=/page.txt)")
    factory = make_site(settings, Clock()).factory
    conn = FakeConnection(factory.router)
    conn.request(b"GET", b"/page.txt")
    conn.request(b"GET", b"/elsewhere")
    first, second = conn.responses()
    assert first.body == b"a file"
    assert (second.status, second.header(b"location")) == (302, b"/page.txt/elsewhere")


def test_list_handlers_prints_and_exits(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        Options().parse(["--list-handlers"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "time " in out and "websocket-echo " in out
