"""WorkerProcess: the parent's end of one ``--workers`` process.

It relays the worker's log (JSON records on its stdout, plain lines on its
stderr) into the parent's log with the worker's process id as their system,
picks out what the worker tells the parent (``ready``, ``recycle``: see
``worker``), and tells the pool when the process ends.

A worker's default access log is not made of log events: each batch of lines
comes as one ``ACCESS_LINES`` record (the lines as one JSON string), and the
parent writes them to its own log stream as they are (``TwistdLogSink``).
Relayed as one event per line, they cost the parent a JSON decode, an event
and twistd's formatting per request, on the cores the workers serve on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger, eventFromJSON, globalLogPublisher
from twisted.python.failure import Failure

from ..edge.logfile import Sink, TwistdLogSink

log = Logger()

# Starts a record of access log lines on a worker's stdout; JSON records start with \x1e.
ACCESS_LINES = "\x1d"

# A worker's output line longer than this is logged in pieces rather than held.
MAX_LINE = 1 << 20


class Pool(Protocol):
    """What a WorkerProcess tells its pool."""

    def worker_said(self, process: WorkerProcess, what: str) -> None: ...

    def worker_ended(self, process: WorkerProcess, reason: Failure) -> None: ...


class WorkerProcess(ProcessProtocol):
    """One worker process in ``slot`` (a position of the pool, numbered from 0)."""

    def __init__(self, pool: Pool, slot: int, started_at: float,
                 access_log: Sink | None = None) -> None:
        self._pool = pool
        self._access_log = access_log or _parent_log()
        self.slot = slot
        self.started_at = started_at
        self._out = b""
        self._err = b""
        self.pid = 0
        self.ready = False  # listening: it said so
        self.last_error = ""  # its last line on stderr: why it could not start, usually
        self.ended: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.pid = self.transport.pid or 0

    def signal(self, name: str | int) -> None:
        """Send signal ``name`` ("TERM", "KILL", or a number such as ``signal.SIGUSR1``)
        unless the process has ended."""
        if self.transport is None or self.ended.called:
            return
        try:
            self.transport.signalProcess(name)
        except Exception:  # ProcessExitedAlready, or an OSError racing its end
            pass

    def outReceived(self, data: bytes) -> None:  # noqa: N802 - ProcessProtocol
        self._out = self._lines(self._out + data, self._relay_event)

    def errReceived(self, data: bytes) -> None:  # noqa: N802 - ProcessProtocol
        self._err = self._lines(self._err + data, self._relay_text)

    def _lines(self, buffered: bytes, each: Callable[[bytes], None]) -> bytes:
        """Hands each whole line of ``buffered`` to ``each``; returns the unfinished rest."""
        *lines, rest = buffered.split(b"\n")
        if len(rest) > MAX_LINE:
            lines.append(rest)
            rest = b""
        for line in lines:
            if line.strip(b"\x1e \r\t"):
                each(line)
        return rest

    def _relay_event(self, record: bytes) -> None:
        """Re-emit one JSON log record of the worker as an event of ours."""
        if record[:1] == b"\x1d":
            self._relay_access(record)
            return
        try:
            event = eventFromJSON(record.lstrip(b"\x1e").decode("utf-8", "replace"))
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self._relay_text(record)
            return
        system = event.get("log_system")
        suffix = f" {system}" if system not in (None, "-") else ""
        event["log_system"] = f"worker {self.pid}{suffix}"
        globalLogPublisher(event)
        said = event.get("minihttp_worker")
        if isinstance(said, str):
            self.ready = self.ready or said == "ready"
            self._pool.worker_said(self, said)

    def _relay_access(self, record: bytes) -> None:
        """Write one batch of the worker's access log lines where the parent logs."""
        try:
            text = json.loads(record[1:])
        except ValueError:
            text = None
        if not isinstance(text, str):
            self._relay_text(record)
            return
        self._access_log.write(text.splitlines(keepends=True))

    def _relay_text(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip()
        self.last_error = text
        log.error("{line}", line=text, log_system=f"worker {self.pid}")

    def processEnded(self, reason: Failure) -> None:  # noqa: N802 - ProcessProtocol
        for rest, each in ((self._out, self._relay_event), (self._err, self._relay_text)):
            if rest.strip():
                each(rest)
        self._out = self._err = b""
        self._pool.worker_ended(self, reason)
        self.ended.callback(None)


_shared: list[Sink] = []


def _parent_log() -> Sink:
    """The parent's log stream, shared by every worker's relay (found at its first write)."""
    if not _shared:
        _shared.append(TwistdLogSink())
    return _shared[0]


def describe_end(reason: Failure) -> str:
    """How a process ended, in words: "exit code 1", "signal 9", "exit code 0"."""
    if isinstance(reason.value, ProcessTerminated) and reason.value.signal is not None:
        return f"signal {reason.value.signal}"
    return f"exit code {getattr(reason.value, 'exitCode', None) or 0}"
