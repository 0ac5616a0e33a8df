"""WorkerPool: the ``--workers N`` parent, which runs N worker processes on the same ports.

One Python process serves on one core; N processes serve on N. The parent
serves nothing itself. It opens the listening sockets (see ``_listeners`` for
why the parent, and why one SO_REUSEPORT socket per worker on Linux), then
starts each worker with Twisted's ``spawnProcess``: the same Python
(``sys.executable``) running ``_worker`` with the same minihttp arguments, its
sockets passed as inherited file descriptors, and three pipes:

- stdin, which the parent never writes: it reaches end of file when the
  parent ends, however it ends, and the worker then stops by itself, so no
  worker outlives its parent;
- stdout, carrying the worker's log events as JSON records, which the parent
  re-emits into its own log with the worker's process id as their system;
- stderr, for anything a worker says before its logging starts; each line is
  logged as an error.

A worker that ends while the pool runs is logged and started again after a
delay that doubles with each quick death (``RESTART_DELAY``), so a worker that
cannot start does not spin a core. Its sockets stay open in the parent
meanwhile, so connections the kernel queued for it wait for its replacement.

Stopping the pool (SIGTERM or SIGINT to twistd) sends SIGTERM to every worker,
which stops listening, finishes what its thread pool is running and exits;
one still running after ``KILL_AFTER`` seconds gets SIGKILL. twistd exits once
every worker has.

Twisted's ``twisted.runner.procmon.ProcessMonitor`` restarts processes too, but
it cannot pass a process extra file descriptors, which is the whole point here.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from typing import Any

import attrs
from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.error import ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger, eventFromJSON, globalLogPublisher
from twisted.python.failure import Failure

from .listeners import REUSE_PORT_BALANCES, CannotListen, TCPAddress, open_listeners

log = Logger()

# A worker is restarted 0.5 s after it dies, then 1, 2, 4... up to 30 s while it
# keeps dying within STABLE_AFTER of its start: a crash loop costs a process
# start every 30 s, not a core, and a worker that had been running is back in
# half a second, while the kernel holds its new connections.
RESTART_DELAY = backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0, jitter=lambda: 0.0)
STABLE_AFTER = 30.0
# How long a stopping worker may take to finish its requests before SIGKILL.
# Shorter than the 60 s systemd and Docker wait before killing the whole group.
KILL_AFTER = 10.0
# A worker's output line longer than this is logged in pieces rather than held.
MAX_LINE = 1 << 20
WORKER_MODULE = "twisted_http.serve.worker"


@attrs.define
class _Slot:
    """One worker position: its sockets, the process in it now, and its restart state."""

    number: int
    sockets: list[socket.socket]
    process: WorkerProcess | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    restart: IDelayedCall | None = None


class WorkerProcess(ProcessProtocol):
    """The parent's end of one worker: relays its log, and tells the pool when it ends."""

    def __init__(self, pool: WorkerPool, slot: _Slot) -> None:
        self._pool = pool
        self._slot = slot
        self._out = b""
        self._err = b""
        self.pid = 0
        self.ended: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.pid = self.transport.pid or 0
        log.info("minihttp worker {pid} started ({number} of {workers})", pid=self.pid,
                 number=self._slot.number + 1, workers=self._pool.workers)

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

    def _relay_text(self, line: bytes) -> None:
        log.error("{line}", line=line.decode("utf-8", "replace").rstrip(),
                  log_system=f"worker {self.pid}")

    def processEnded(self, reason: Failure) -> None:  # noqa: N802 - ProcessProtocol
        for rest, each in ((self._out, self._relay_event), (self._err, self._relay_text)):
            if rest.strip():
                each(rest)
        self._out = self._err = b""
        self._pool.worker_ended(self._slot, self, reason)
        self.ended.callback(None)


def describe_end(reason: Failure) -> str:
    """How a process ended, in words: "exit code 1", "signal 9", "exit code 0"."""
    if isinstance(reason.value, ProcessTerminated) and reason.value.signal is not None:
        return f"signal {reason.value.signal}"
    return f"exit code {getattr(reason.value, 'exitCode', None) or 0}"


class WorkerPool(Service):
    """Runs ``workers`` copies of minihttp with the arguments ``argv``; see the module docstring.

    ``addresses`` are the TCP addresses of ``--port``, in order. The sockets are
    opened in ``privilegedStartService``, before twistd gives up root.
    """

    def __init__(
        self,
        argv: list[str],
        cwd: str,
        addresses: list[TCPAddress],
        workers: int,
        reactor: Any,
        *,
        python: str = sys.executable,
        reuse_port: bool = REUSE_PORT_BALANCES,
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = argv
        self.env = env or {}  # added to each worker's environment
        self.cwd = cwd
        self.addresses = addresses
        self.workers = workers
        self.reuse_port = reuse_port
        self._reactor = reactor
        self._python = python
        self._slots: list[_Slot] = []
        self._kill: IDelayedCall | None = None

    def privilegedStartService(self) -> None:  # noqa: N802 - IService
        super().privilegedStartService()
        if not self._slots:
            try:
                listeners = open_listeners(self.addresses, self.workers, self.reuse_port)
            except CannotListen as error:
                error.report()
                raise
            self._slots = [_Slot(number, sockets) for number, sockets in enumerate(listeners)]

    def startService(self) -> None:
        if not self._slots:
            self.privilegedStartService()
        super().startService()
        for slot in self._slots:
            self._spawn(slot)

    def pids(self) -> list[int]:
        """Process ids of the workers running now."""
        return [slot.process.pid for slot in self._slots if slot.process is not None]

    def _spawn(self, slot: _Slot) -> None:
        slot.restart = None
        first_fd = 3
        fds = {first_fd + i: sock.fileno() for i, sock in enumerate(slot.sockets)}
        args = [self._python, "-m", WORKER_MODULE, ",".join(map(str, fds)), "--", *self.argv]
        process = WorkerProcess(self, slot)
        slot.started_at = self._reactor.seconds()
        try:
            self._reactor.spawnProcess(process, self._python, args, env=self._environment(),
                                       path=self.cwd, childFDs={0: "w", 1: "r", 2: "r", **fds})
        except OSError as error:
            log.error("minihttp worker {number} could not start: {error}",
                      number=slot.number + 1, error=error)
            slot.quick_deaths += 1
            self._schedule_restart(slot)
            return
        slot.process = process

    def _environment(self) -> dict[str, str]:
        """Ours, with this copy of twisted_http importable even if sys.path was changed."""
        env = dict(os.environ)
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        here = os.path.dirname(package)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), here]))
        env.update(self.env)
        return env

    def worker_ended(self, slot: _Slot, process: WorkerProcess, reason: Failure) -> None:
        """A worker's process ended: restart it later, unless the pool is stopping."""
        if slot.process is process:
            slot.process = None
        if not self.running:
            return
        lived = self._reactor.seconds() - slot.started_at
        slot.quick_deaths = 0 if lived >= STABLE_AFTER else slot.quick_deaths + 1
        delay = self._schedule_restart(slot)
        log.warn("minihttp worker {pid} ended ({how}) after {lived:.1f}s;"
                 " starting another in {delay:.1f}s",
                 pid=process.pid, how=describe_end(reason), lived=lived, delay=delay)

    def _schedule_restart(self, slot: _Slot) -> float:
        delay: float = RESTART_DELAY(slot.quick_deaths)
        slot.restart = self._reactor.callLater(delay, self._spawn, slot)
        return delay

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        running = []
        closed: set[int] = set()
        for slot in self._slots:
            if slot.restart is not None and slot.restart.active():
                slot.restart.cancel()
            slot.restart = None
            for sock in slot.sockets:
                if id(sock) not in closed:
                    closed.add(id(sock))
                    sock.close()
            if slot.process is not None:
                running.append(slot.process)
        self._slots = []
        if not running:
            return succeed(None)
        log.info("minihttp stopping {count} workers", count=len(running))
        for process in running:
            _signal(process, "TERM")
        self._kill = self._reactor.callLater(KILL_AFTER, self._kill_all, running)
        done = gatherResults([process.ended for process in running])
        done.addBoth(self._stopped)
        return done

    def _kill_all(self, processes: list[WorkerProcess]) -> None:
        self._kill = None
        for process in processes:
            if not process.ended.called:
                log.warn("minihttp worker {pid} still running after {seconds:.0f}s;"
                         " killing it", pid=process.pid, seconds=KILL_AFTER)
                _signal(process, "KILL")

    def _stopped(self, result: object) -> None:
        if self._kill is not None and self._kill.active():
            self._kill.cancel()
        self._kill = None


def _signal(process: WorkerProcess, name: str) -> None:
    if process.transport is None:
        return
    try:
        process.transport.signalProcess(name)
    except ProcessExitedAlready:
        pass
