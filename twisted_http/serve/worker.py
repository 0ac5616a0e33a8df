"""One ``--workers`` process: the same server as ``twistd minihttp``, on inherited sockets.

The parent (``workers.WorkerPool``) runs this module as::

    python -m twisted_http.serve.worker FD[,FD...] -- MINIHTTP-ARGUMENTS...

It parses the same arguments the parent was given, builds the same site (with
its own WSGI thread pool), and listens on the sockets passed as FD (one per
``--port``, in order). Its log events go to stdout as JSON records, which the
parent re-emits into its own log; stderr carries anything said before logging
starts. The records are written once per turn of the reactor rather than one
write per event. The default access log's lines are no events: the access
log hands each batch to ``LogPipe.write_lines``, which sends it as one record
that the parent writes to its log stream unparsed (``process.ACCESS_LINES``).

It tells the parent two things through log events with a ``minihttp_worker``
key: ``ready`` once it listens (the parent waits for that before it stops the
worker this one replaces), and ``recycle`` once it has served
``--max-requests`` (plus a random 0 to ``--max-requests-jitter``), asking to be
replaced. It keeps serving until the parent stops it.

A worker drains when the parent sends SIGTERM (``lifecycle.Server``; a second
SIGTERM cuts the drain short), or by itself when its stdin, a pipe from the
parent, reaches end of file: that happens however the parent ends, SIGKILL
included, so a worker is never left running without one. SIGINT is ignored:
Ctrl-C in a terminal reaches every process of the group, and the parent, not
each worker, decides how they stop.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
from collections.abc import Callable
from typing import IO, Any

from twisted.application.service import Service
from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IReadDescriptor
from twisted.internet.task import LoopingCall
from twisted.logger import ILogObserver, LogEvent, Logger, eventAsJSON, globalLogBeginner
from twisted.python.failure import Failure
from twisted.python.usage import UsageError
from zope.interface import implementer

from ..edge.logfile import pieces
from .lifecycle import Server, stop_on_signals
from .listeners import adopt_port, stop_listening
from .process import ACCESS_LINES, MAX_LINE

log = Logger()

# What a worker tells its parent, as the ``minihttp_worker`` key of a log event.
READY = "ready"  # listening: the parent may now stop the worker this one replaces
RECYCLE = "recycle"  # served --max-requests: the parent starts a replacement, then drains it
# How often a worker with --max-requests looks at its count, in seconds.
RECYCLE_CHECK = 0.5


class AdoptedPort(Service):
    """Listens on an inherited socket while running; stops listening when stopped."""

    def __init__(self, reactor: Any, fd: int, factory: IProtocolFactory) -> None:
        self._reactor = reactor
        self._fd = fd
        self._factory = factory
        self._port: IListeningPort | None = None

    def startService(self) -> None:
        super().startService()
        self._port = adopt_port(self._reactor, self._fd, self._factory)

    def stopService(self) -> Any:
        super().stopService()
        if self._port is not None:
            return stop_listening(self._port)
        return None


@implementer(IReadDescriptor)
class ParentWatch:
    """Calls ``on_parent_gone`` once, when the pipe ``fd`` from the parent is closed.

    The reactor sees that as end of file (``doRead``) or as a hang-up
    (``connectionLost``), depending on the platform; it also closes every
    reader at shutdown, so ``on_parent_gone`` must accept being called then.
    """

    def __init__(self, reactor: Any, fd: int, on_parent_gone: Callable[[], object]) -> None:
        os.set_blocking(fd, False)
        self._reactor = reactor
        self._fd = fd
        self._on_parent_gone: Callable[[], object] | None = on_parent_gone

    def start(self) -> None:
        self._reactor.addReader(self)

    def fileno(self) -> int:
        return self._fd

    def doRead(self) -> None:  # noqa: N802 - IReadDescriptor
        try:
            if os.read(self._fd, 4096):
                return  # the parent never writes; anything but end of file is ignored
        except BlockingIOError:
            return
        except OSError:
            pass
        self._gone()

    def connectionLost(self, reason: Failure) -> None:
        self._gone()

    def _gone(self) -> None:
        self._reactor.removeReader(self)
        callback, self._on_parent_gone = self._on_parent_gone, None
        if callback is not None:
            callback()

    def logPrefix(self) -> str:  # noqa: N802 - ILoggingContext
        return "minihttp-parent"


@implementer(ILogObserver)
class LogPipe:
    """A log observer writing events as JSON records to ``out``, gathered per reactor turn."""

    def __init__(self, reactor: Any, out: IO[str], most: int = 65536) -> None:
        self._reactor = reactor
        self._out = out
        self._most = most  # characters held at most before a write, whatever the turn
        self._records: list[str] = []
        self._size = 0
        self._pending: Any = None

    def __call__(self, event: LogEvent) -> None:
        self._add(f"\x1e{eventAsJSON(event)}\n")

    def write_lines(self, lines: list[str]) -> None:
        """Access log lines, each ending in a newline, for the parent's log as they are:
        one record for them all, in order with the events around them; several when they
        are long, since the parent cuts a record past ``MAX_LINE`` (JSON can double them)."""
        for piece in pieces(lines, MAX_LINE // 4):
            self._add(f"{ACCESS_LINES}{json.dumps(piece)}\n")

    def _add(self, record: str) -> None:
        self._records.append(record)
        self._size += len(record)
        if self._size >= self._most:
            self.flush()
        elif self._pending is None:
            self._pending = self._reactor.callLater(0, self.flush)

    def flush(self) -> None:
        """Write what is gathered now. A parent that is gone is not an error here: the
        worker is about to stop because of it."""
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None
        text, self._records, self._size = "".join(self._records), [], 0
        try:
            self._out.write(text)
            self._out.flush()
        except (BrokenPipeError, ValueError):
            pass


def worker_service(argv: list[str], fds: list[int], reactor: Any) -> Server:
    """The service one worker runs: minihttp's site for ``argv``, listening on ``fds``.

    Listening, it tells the parent it is ready; with ``--max-requests`` it asks
    the parent to replace it once it has served that many (plus its jitter).
    """
    from .options import Options
    from .tap import serve

    settings = Options().parse(argv)
    server = serve(
        settings, reactor, lambda factory: [AdoptedPort(reactor, fd, factory) for fd in fds],
        on_ready=lambda: log.info("minihttp worker listening", minihttp_worker=READY),
        on_drain=lambda: None,  # the parent speaks to systemd
    )
    if settings.max_requests:
        limit = recycle_limit(settings.max_requests, settings.max_requests_jitter)
        watch = LoopingCall(recycle_when_served(server, limit))
        watch.clock = reactor
        reactor.callWhenRunning(watch.start, RECYCLE_CHECK, now=False)
    return server


def recycle_limit(most: int, jitter: int,
                  draw: Callable[[int, int], int] = random.randint) -> int:
    """``--max-requests`` plus this worker's own random 0 to ``--max-requests-jitter``."""
    return most + draw(0, jitter)


def recycle_when_served(server: Server, limit: int) -> Callable[[], None]:
    """A check asking the parent, once, for a replacement after ``limit`` requests."""
    asked = False

    def check() -> None:
        nonlocal asked
        if not asked and server.served >= limit:
            asked = True
            log.info("minihttp worker served {count} requests; asking to be replaced",
                     count=server.served, minihttp_worker=RECYCLE)

    return check


def main(args: list[str]) -> None:
    """Run one worker until SIGTERM or the parent's end; see the module docstring."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # until the access log is open
    fds_text, separator, *argv = args
    if separator != "--":
        raise SystemExit("usage: python -m twisted_http.serve.worker FD[,FD...] -- ARGUMENTS...")
    fds = [int(fd) for fd in fds_text.split(",")]
    from twisted.internet import reactor as installed

    from .tap import log_events

    reactor: Any = installed
    log_pipe = LogPipe(reactor, sys.stdout)
    globalLogBeginner.beginLoggingTo([log_pipe], redirectStandardIO=False)
    try:
        try:
            service = worker_service(argv, fds, reactor)
        except UsageError as error:
            raise SystemExit(f"minihttp worker: {error}") from None
        reactor.callWhenRunning(log_events, reactor, service)  # SIGUSR1 reopens the log
        ParentWatch(reactor, sys.stdin.fileno(), lambda: _stop(reactor)).start()
        # Before listening: from then on SIGTERM must drain, not end the process.
        reactor.callWhenRunning(stop_on_signals, reactor, service.cut, (signal.SIGTERM,))
        reactor.callWhenRunning(service.privilegedStartService)
        reactor.callWhenRunning(service.startService)
        reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
        reactor.run()
    finally:
        log_pipe.flush()


def _stop(reactor: Any) -> None:
    try:
        reactor.stop()
    except ReactorNotRunning:  # already stopping: the watch is closed at shutdown too
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
