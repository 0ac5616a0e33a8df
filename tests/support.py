"""Helpers shared across the test suite: log capture, and twistd child processes."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from twisted.logger import LogEvent, globalLogPublisher

from twisted_http.edge.accesslog import CombinedFormat
from twisted_http.edge.logfile import AccessLog, LoggerSink
from twisted_http.serve.options import Options
from twisted_http.serve.settings import Settings


@contextmanager
def recorded_log() -> Iterator[list[LogEvent]]:
    """Every log event emitted inside the block."""
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)


def log_access(connection: Any) -> AccessLog:
    """Give a ``FakeConnection``'s factory the access log ``twistd minihttp`` has by
    default (combined, to twisted.logger); ``flush`` it to see its lines."""
    access_log = AccessLog(LoggerSink(), CombinedFormat(), connection.clock)
    connection.factory.observers = (access_log, *connection.factory.observers)
    return access_log


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (for a child process to bind)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Wait until ``process`` accepts on ``port``; fail if it exits or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"twistd exited early with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("twistd did not start listening in time")


def parse(*argv: str) -> Settings:
    """``twistd minihttp``'s settings, parsed from ``argv`` (UsageError for a mistake)."""
    return Options().parse(list(argv))


def parse_options(*argv: str) -> Options:
    """The parsed ``Options``, for ``makeService``."""
    options = Options()
    options.parse(list(argv))
    return options


class MemorySink:
    """An access log sink keeping each batch of lines in memory."""

    def __init__(self) -> None:
        self.writes: list[list[str]] = []
        self.reopened = 0
        self.closed = False
        self.fail: OSError | None = None

    def write(self, lines: list[str]) -> None:
        if self.fail is not None:
            raise self.fail
        self.writes.append(lines)

    def reopen(self) -> None:
        self.reopened += 1

    def close(self) -> None:
        self.closed = True
