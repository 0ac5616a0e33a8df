"""The access log's writer: entries gathered, formatted and written in batches.

``AccessLog`` is a response observer (the channel's ``IResponseObserver``):
the server calls ``response_completed`` once per ended response, which takes
the few fields a line needs into an ``AccessEntry`` and appends it to a list.
Nothing is formatted and nothing is written while a response is being
finished. The waiting entries are formatted and written in one go when
``most`` of them wait, or ``delay`` seconds after the first of them came,
whichever is first: lines stay whole and in order, one ``write`` carries
hundreds of them, and the log is never more than ``delay`` behind (nginx's
``access_log ... buffer= flush=`` does the same). Writing at the end of each
reactor turn instead costs a timer and a ``write`` per turn, and under load
with many connections a turn often finishes one or two responses: measured,
that was most of the log's cost. ``flush`` writes what is waiting now (at
shutdown, and before a reopen); ``reopen`` is what SIGUSR1 triggers, so
logrotate can move the file away and have the next lines go to a fresh one.

Where lines go, a ``Sink``:

- ``FileSink``: a file opened with ``O_APPEND``. Each batch is one ``write``
  of whole lines, so several processes (``--workers``) can share the file
  with no process in between and no line cut by another's.
- ``StreamSink``: an inherited descriptor such as stdout. Writes are cut at
  line ends into pieces of at most ``PIPE_BUF`` bytes, which a pipe keeps
  whole even when several workers write to it.
- ``LoggerSink``: ``twisted.logger``, one event per line (namespace
  ``minihttp.access``), emitted at flush time. Every observer twistd has sees
  each line, which is what costs: the per-event formatting is the observers'
  (measured, it halved the requests a process serves per second).
- ``TwistdLogSink``, the default: where twistd writes its own log. When that
  is a file or standard output (twistd's ``FileLogObserver``: ``--logfile``,
  or ``-n``), each batch is written straight to that stream, lines as they
  are, between twistd's own lines. In a ``--workers`` worker, whose log goes
  through its parent, the batch goes to the observer that carries it there
  (one with a ``write_lines`` method), and the parent writes it to its own
  stream the same way. Otherwise (``--syslog``, a ``--logger``) it is a
  ``LoggerSink``.

A sink that fails (disk full, a closed pipe) reports it once through
``twisted.logger`` and the batch is dropped; serving goes on.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from typing import Any, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import FileLogObserver, Logger, LogLevel, globalLogPublisher
from twisted.python.compat import ioType
from zope.interface import implementer

from ..channel.interfaces import IResponseObserver
from .accesslog import AccessEntry, Formatter, formatter

_log = Logger(namespace="minihttp.access")
_entry = AccessEntry._make  # a third of the keyword constructor's cost, once per response
PIPE_BUF = getattr(select, "PIPE_BUF", 512)  # writes of at most this stay whole on a pipe
MOST = 256  # entries waiting at most before a write: about 30 KiB of combined lines
DELAY = 0.1  # seconds a line may wait at most: soon enough for `tail -f`


class Sink(Protocol):
    """Where formatted lines go."""

    def write(self, lines: list[str]) -> None:
        """Write these whole lines (each ending in a newline), in order."""

    def reopen(self) -> None:
        """Start over on the destination's path, if it has one (logrotate moved the file)."""

    def close(self) -> None:
        """Release the destination."""


class FileSink:
    """A file opened with ``O_APPEND``: every batch is one ``write`` at the file's end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = self._open()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def write(self, lines: list[str]) -> None:
        _write_all(self._fd, "".join(lines).encode("ascii", "backslashreplace"))

    def reopen(self) -> None:
        fresh = self._open()  # if this fails, the old file is kept
        old, self._fd = self._fd, fresh
        os.close(old)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class StreamSink:
    """An inherited descriptor (stdout): pieces of at most ``PIPE_BUF`` bytes, cut at line ends."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, lines: list[str]) -> None:
        for piece in pieces(lines, PIPE_BUF):
            _write_all(self._fd, piece.encode("ascii", "backslashreplace"))

    def reopen(self) -> None:
        pass  # nothing to reopen: whoever holds the other end rotates

    def close(self) -> None:
        pass  # not ours to close


class LoggerSink:
    """``twisted.logger``: one event per line, as twistd's own log lines are."""

    def __init__(self, publisher: Any = globalLogPublisher) -> None:
        self._publisher = publisher

    def write(self, lines: list[str]) -> None:
        publish = self._publisher
        now = time.time()
        for line in lines:
            publish({
                "log_format": "{access_line}", "access_line": line[:-1],
                "log_level": LogLevel.info, "log_namespace": "minihttp.access",
                "log_source": None, "log_logger": _log, "log_time": now,
            })

    def reopen(self) -> None:
        pass  # twistd's log file is twistd's to rotate

    def close(self) -> None:
        pass


class TwistdLogSink:
    """twistd's own log stream if it has one, else ``twisted.logger``; see the module
    docstring. Looked for at the first write, once twistd's logging has begun."""

    def __init__(self, publisher: Any = globalLogPublisher) -> None:
        self._publisher = publisher
        self._stream: Any = None
        self._events: LoggerSink | None = None
        self._carrier: Any = None

    def _find(self) -> None:
        # twistd's observer is a FileLogObserver over the log file (a LogFile, which
        # rotates itself) or stdout; its stream is private, hence the care.
        observers = getattr(self._publisher, "_observers", ())
        streams = [getattr(observer, "_outFile", None)
                   for observer in observers if isinstance(observer, FileLogObserver)]
        carriers = [observer for observer in observers if hasattr(observer, "write_lines")]
        if len(carriers) == 1 and not streams:
            self._carrier = carriers[0]  # a worker's pipe to its parent (serve/worker.py)
        elif len(streams) == 1 and ioType(streams[0]) is str:
            self._stream = streams[0]
        else:
            self._events = LoggerSink(self._publisher)

    def write(self, lines: list[str]) -> None:
        if self._stream is None and self._events is None and self._carrier is None:
            self._find()
        if self._carrier is not None:
            self._carrier.write_lines(lines)
            return
        if self._events is not None:
            self._events.write(lines)
            return
        self._stream.write("".join(lines))
        self._stream.flush()

    def reopen(self) -> None:
        pass  # twistd's log is twistd's to rotate

    def close(self) -> None:
        pass


def pieces(lines: list[str], most: int) -> Iterator[str]:
    """``lines`` joined into pieces of at most ``most`` characters, cut only at line ends
    (a longer line is a piece of its own)."""
    piece: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) > most and piece:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(line)
        size += len(line)
    if piece:
        yield "".join(piece)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


@implementer(IResponseObserver)
class AccessLog:
    """Gathers ``AccessEntry`` values and writes them, formatted, in batches; see the module
    docstring. ``clock`` is the reactor, or a ``Clock`` in tests."""

    def __init__(self, sink: Sink, format: Formatter, clock: IReactorTime,
                 most: int = MOST, delay: float = DELAY) -> None:
        self.sink = sink
        self._format = format
        self._clock = clock
        self._most = most
        self._delay = delay
        self._entries: list[AccessEntry] = []
        self._pending: IDelayedCall | None = None
        self._failed = False

    def response_completed(self, request: Any, response: Any, started: float) -> None:
        """Log one ended response; ``request`` is None for an error page sent before a
        request head could be read. Never raises into the channel."""
        if not response.logged:
            return  # a health check's
        now = self._clock.seconds()
        if request is None:
            connection = response.connection  # who was refused, where the channel knows
            client = connection.client_host if connection is not None else None
            self.log(_entry((now, client, b"", b"", b"", response.status,
                             response.bytes_sent, now - started, None, None)))
            return
        headers = request.headers
        entries = self._entries
        entries.append(_entry((  # log(), inlined: this runs once per response
            now, request.connection.client_host, request.method, request.target,
            request.version, response.status, response.bytes_sent, now - started,
            headers.get(b"referer"), headers.get(b"user-agent"),
        )))
        if len(entries) >= self._most:
            self.flush()
        elif self._pending is None:
            self._pending = self._clock.callLater(self._delay, self._delay_ended)

    def log(self, entry: AccessEntry) -> None:
        """Keep ``entry`` for the next write: ``delay`` from now at the latest, or now if
        ``most`` wait."""
        entries = self._entries
        entries.append(entry)
        if len(entries) >= self._most:
            self.flush()
        elif self._pending is None:
            self._pending = self._clock.callLater(self._delay, self._delay_ended)

    def _delay_ended(self) -> None:
        self._pending = None
        self.flush()

    def flush(self) -> None:
        """Format and write every waiting entry now, in the order they came."""
        if self._pending is not None:
            if self._pending.active():
                self._pending.cancel()
            self._pending = None
        entries, self._entries = self._entries, []
        if not entries:
            return
        try:
            self.sink.write(list(map(self._format, entries)))
        except OSError as error:
            self._report(error)
        else:
            self._failed = False

    def reopen(self) -> None:
        """Write what waits to the old file, then continue on a fresh one (SIGUSR1)."""
        self.flush()
        try:
            self.sink.reopen()
        except OSError as error:
            _log.error("Could not reopen the access log: {error}", error=error)

    def close(self) -> None:
        """Write what waits, then release the destination."""
        self.flush()
        self.sink.close()

    def _report(self, error: OSError) -> None:
        if not self._failed:  # once per run of failures, not once per batch
            self._failed = True
            _log.error("Access log lines lost: {error}", error=error)


def open_access_log(path: str, format: str, clock: IReactorTime) -> AccessLog:
    """The access log of ``--access-log PATH`` in ``format``: the file at ``path``,
    standard output for ``-``, twistd's log for ``""``."""
    sink: Sink
    if path == "-":
        sink = StreamSink(1)
    elif path:
        sink = FileSink(path)
    else:
        sink = TwistdLogSink()
    return AccessLog(sink, formatter(format), clock)
