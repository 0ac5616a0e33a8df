"""What a user sees: --help and the reference made from the model, and real ``twistd -n
minihttp`` processes refusing a bad file, an app that will not import and a taken port
with one line on stderr."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet.testing import MemoryReactor

from twisted_http.serve.listeners import CannotListen, Listening
from twisted_http.serve.options import Options
from twisted_http.serve.reference import markdown
from twisted_http.serve.settings import entries

from .support import recorded_log

ROOT = Path(__file__).parent.parent
TWISTD = Path(sys.executable).parent / "twistd"


def test_the_committed_reference_is_current() -> None:
    """docs/configuration.md is what the model generates: run `make reference` after changing it."""
    assert (ROOT / "docs" / "configuration.md").read_text() == markdown()


def test_help_lists_every_setting() -> None:
    """Every field of the model has its option and its help in --help."""
    usage = " ".join(str(Options()).split())
    for entry in entries():
        assert f"{entry.option}" in usage, entry.name
        assert " ".join(entry.help.split()[:4]) in usage, entry.name
    assert "--server-header" in usage and "--wsgi-input-buffer" in usage


def test_a_taken_port_is_one_line_and_no_listening(tmp_path: Path) -> None:
    """Against a real socket bound on loopback: CannotListen says which endpoint and why,
    on stderr and in the log, from privilegedStartService."""
    from twisted.internet import reactor

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        description = f"tcp:{taken.getsockname()[1]}:interface=127.0.0.1"
        service = Listening(reactor, description, factory=None)  # type: ignore[arg-type]
        with recorded_log() as events, pytest.raises(CannotListen) as error:
            service.privilegedStartService()
    assert str(error.value) == f"cannot listen on {description}: Address already in use"
    assert error.value.code == 1
    assert [event["log_level"].name for event in events] == ["critical"]
    assert service.stopService() is None


def test_a_port_is_bound_before_start_and_released_on_stop() -> None:
    reactor = MemoryReactor()
    service = Listening(reactor, "tcp:8080:interface=127.0.0.1", factory=None)  # type: ignore[arg-type]
    service.privilegedStartService()
    assert [(port, interface) for port, _, _, interface in reactor.tcpServers] == [
        (8080, "127.0.0.1")]
    service.startService()
    assert len(reactor.tcpServers) == 1  # not bound twice
    service.stopService()


# -- real twistd processes --------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port held by a listening socket of ours for the test."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def twistd(cwd: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    """``twistd -n minihttp ARGV`` run to its end (bounded)."""
    return subprocess.run(
        [str(TWISTD), "--nodaemon", "--pidfile=", f"--logfile={cwd / 'twistd.log'}",
         "minihttp", *argv], cwd=cwd, capture_output=True, timeout=60, check=False)


@pytest.mark.slow
def test_twistd_refuses_a_bad_file_in_one_line(tmp_path: Path) -> None:
    """Not the help text: one line, the file, the line and what is allowed; exit status 2."""
    (tmp_path / "static").mkdir()
    (tmp_path / "site.toml").write_text("port = 8000\n\n[[static]]\npath = 'static'\n"
                                        "listing = 'no'\n")
    done = twistd(tmp_path, "--config", "site.toml")
    assert done.stderr.decode() == (
        "minihttp: site.toml:5: [[static]] listing takes true or false, not \"no\"\n")
    assert (done.returncode, done.stdout) == (2, b"")


@pytest.mark.slow
def test_twistd_refuses_an_app_that_cannot_be_imported_with_workers(tmp_path: Path) -> None:
    """With --workers too the parent refuses it before any worker starts."""
    done = twistd(tmp_path, "--workers", "2", "--wsgi", "/app=no_such_frame:application")
    assert done.stderr.decode() == (
        "minihttp: --wsgi: cannot import 'no_such_frame': ModuleNotFoundError:"
        " No module named 'no_such_frame'\n")
    assert (done.returncode, done.stdout) == (2, b"")


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_twistd_stops_when_its_port_is_taken(tmp_path: Path, taken_port: int,
                                             workers: str) -> None:
    """One line naming the endpoint and the reason, exit status 1, and the process is gone
    (run() returning is the process ending); the log has the line too."""
    (tmp_path / "static").mkdir()
    endpoint = f"tcp:{taken_port}:interface=127.0.0.1"
    done = twistd(tmp_path, "--port", endpoint, "--workers", workers)
    line = f"minihttp: cannot listen on {endpoint}: Address already in use"
    assert done.stderr.decode() == line + "\n"
    assert (done.returncode, done.stdout) == (1, b"")
    log = (tmp_path / "twistd.log").read_text()
    assert line in log and "Traceback" not in log and "worker" not in log
