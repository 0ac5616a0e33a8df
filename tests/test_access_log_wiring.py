"""The access log as ``twistd minihttp`` builds it: settings -> sink and format, in front of
the other observers; health checks never logged, refusals logged as nginx logs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.usage import UsageError

from twisted_http.edge.accesslog import CombinedFormat, CommonFormat, JSONFormat
from twisted_http.edge.logfile import AccessLog, FileSink, StreamSink, TwistdLogSink
from twisted_http.serve.configfile import read_config
from twisted_http.serve.convert import build_settings
from twisted_http.serve.tap import make_site
from twisted_http.testing import CLIENT_ADDRESS, FakeConnection

from .support import MemorySink, parse


@pytest.fixture(autouse=True)
def _site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_text("hello")
    monkeypatch.chdir(tmp_path)


def access_log_of(*argv: str) -> AccessLog | None:
    site = make_site(parse(*argv), Clock())
    logs = [o for o in site.factory.observers if isinstance(o, AccessLog)]
    assert logs == ([site.access_log] if site.access_log is not None else [])
    assert not logs or site.factory.observers[0] is logs[0]  # first: it sees every response
    return site.access_log


def test_the_default_is_combined_to_twistds_log() -> None:
    access_log = access_log_of()
    assert access_log is not None
    assert isinstance(access_log.sink, TwistdLogSink)
    assert isinstance(access_log._format, CombinedFormat)


def test_a_file_and_a_format(tmp_path: Path) -> None:
    access_log = access_log_of("--access-log", "access.log", "--access-log-format", "json")
    assert access_log is not None and isinstance(access_log._format, JSONFormat)
    assert isinstance(access_log.sink, FileSink) and access_log.sink.path == "access.log"
    assert (tmp_path / "access.log").exists()  # opened at start-up, before privileges drop
    access_log.close()


def test_dash_is_standard_output() -> None:
    access_log = access_log_of("--access-log", "-", "--access-log-format", "common")
    assert access_log is not None and isinstance(access_log.sink, StreamSink)
    assert access_log.sink._fd == 1 and isinstance(access_log._format, CommonFormat)


def test_no_access_log_builds_none(tmp_path: Path) -> None:
    assert access_log_of("--no-access-log", "--access-log", "x.log") is None
    assert not (tmp_path / "x.log").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--access-log-format", "xml"],
     "--access-log-format must be one of combined, common, json, not 'xml'"),
    (["--access-log", "/no/such/folder/a.log"],
     "--access-log must be a file in an existing folder, not '/no/such/folder/a.log'"),
])
def test_bad_values_are_one_line(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(*argv)
    assert str(caught.value) == message


def test_the_config_file_path_is_relative_to_it_and_dash_stays(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    for value, path in [("logs.txt", str(folder / "logs.txt")), ("-", "-")]:
        config = folder / "site.toml"
        config.write_text(f'access_log_path = "{value}"\naccess_log_format = "common"\n')
        settings = build_settings({}, read_config(str(config)))
        assert (settings.access_log_path, settings.access_log_format) == (path, "common")


class Served:
    """The site of ``argv`` (its router, config and observers) on fake connections, its
    access log writing to memory."""

    def __init__(self, *argv: str) -> None:
        self.clock = Clock()
        self.site = make_site(parse(*argv), self.clock)
        assert self.site.access_log is not None
        self.access_log = self.site.access_log
        self.sink = self.access_log.sink = MemorySink()

    def connect(self) -> FakeConnection:
        factory = self.site.factory
        connection = FakeConnection(factory.router, factory.config, self.clock)
        connection.factory.observers = factory.observers
        return connection

    def lines(self) -> list[str]:
        self.access_log.flush()
        return [line for batch in self.sink.writes for line in batch]


def test_health_checks_are_never_logged() -> None:
    served = Served("--health", "/healthz", "--access-log-format", "common")
    connection = served.connect()
    connection.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    connection.send(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [line.split('"')[1] for line in served.lines()] == ["GET /index.html HTTP/1.1"]


def test_refusals_are_logged() -> None:
    """A request refused by the channel before its head was whole is a line too, with "-"
    for the request (what nginx writes when it has no request line): 400, 431."""
    served = Served("--access-log-format", "common", "--max-header-line", "100")
    served.connect().send(b"NONSENSE\r\n\r\n")
    served.connect().send(b"GET /big HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * 200 + b"\r\n\r\n")
    served.connect().send(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [line.split('"', 1)[1].rsplit(" ", 1)[0] for line in served.lines()] == [
        '-" 400', '-" 431', 'GET /index.html HTTP/1.1" 200']


def test_refusals_with_no_request_name_the_client() -> None:
    """A 400 or 408 before any head, and a 503 turn-away, still say who was refused:
    those are the lines an operator looks up a scanner or a slowloris by."""
    served = Served("--access-log-format", "common")
    served.connect().send(b"NONSENSE\r\n\r\n")
    slow = served.connect()
    slow.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
    served.clock.advance(60)  # the head deadline: 408
    factory = served.site.factory
    factory.drain()
    turned_away = factory.buildProtocol(CLIENT_ADDRESS)
    turned_away.makeConnection(StringTransport(peerAddress=CLIENT_ADDRESS))
    lines = served.lines()
    assert [line.split()[6] for line in lines] == ["400", "408", "503"]
    assert [line.split()[0] for line in lines] == [CLIENT_ADDRESS.host] * 3


def test_turned_away_connections_are_logged() -> None:
    """A connection turned away with a 503 (draining, or over --max-connections) is a
    line too, with no request, as nginx logs its limit_conn refusals."""
    served = Served("--access-log-format", "common")
    factory = served.site.factory
    factory.drain()
    turned_away = factory.buildProtocol(CLIENT_ADDRESS)
    transport = StringTransport()
    turned_away.makeConnection(transport)
    assert transport.value().startswith(b"HTTP/1.1 503 ") and transport.disconnecting
    assert b"Retry-After: 1\r\n" in transport.value()
    assert b"Connection: close\r\n" in transport.value()
    [line] = served.lines()
    assert line.split('"', 1)[1].split()[:2] == ['-"', "503"]
