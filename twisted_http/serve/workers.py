"""WorkerPool: the ``--workers N`` parent, which runs N worker processes on the same ports.

One Python process serves on one core; N processes serve on N. The parent
serves nothing itself. It opens the listening sockets (see ``listeners`` for
why the parent, and why one SO_REUSEPORT socket per worker on Linux), then
starts each worker with Twisted's ``spawnProcess``: the same Python
(``sys.executable``) running ``worker`` with the same minihttp arguments, its
sockets passed as inherited file descriptors, and three pipes: stdin, which
the parent never writes and whose end tells the worker the parent is gone;
stdout, carrying the worker's log events; stderr (see ``process``).

Each worker has a *slot*: a position with its sockets. A worker that ends
while the pool runs is logged and started again in its slot after a delay
that doubles with each quick death (``RESTART_DELAY``), so a worker that
cannot start does not spin a core. Its sockets stay open in the parent
meanwhile, so connections the kernel queued for it wait for its replacement.

**Replacing workers without dropping a request.** SIGHUP (``restart``)
re-reads the configuration, then starts a new worker in every slot, on the
slot's sockets; once each new one says it listens, the old ones are sent
SIGTERM and drain. Old and new accept from the same socket for a moment, so
no connection is refused or reset. If the configuration is wrong, or a new
worker ends (an app that no longer imports) or is not listening within
``START_TIMEOUT``, the new ones are stopped and the old ones keep serving; the
log says why. A worker that has served ``--max-requests`` asks to be replaced
(``recycle``) and is replaced the same way, alone. One replacement runs at a
time: a SIGHUP during one makes one more after it, so a storm of them ends
with exactly N workers.

Stopping the pool (SIGTERM or SIGINT to twistd) closes the parent's sockets
and sends SIGTERM to every worker, which drains (``lifecycle.Server``); one
still running ``KILL_GRACE`` seconds after its ``--shutdown-timeout`` gets
SIGKILL. twistd exits once every worker has. ``cut`` (a second SIGTERM) sends
SIGTERM again, which cuts each worker's drain short.

Twisted's ``twisted.runner.procmon.ProcessMonitor`` restarts processes too, but
it cannot pass a process extra file descriptors, which is the whole point here.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import attrs
from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.usage import UsageError

from .lifecycle import notify
from .listeners import REUSE_PORT_BALANCES, CannotListen, ListenSpec, open_listeners
from .process import WorkerProcess, describe_end

log = Logger()

# A worker is restarted 0.5 s after it dies, then 1, 2, 4... up to 30 s while it
# keeps dying within STABLE_AFTER of its start: a crash loop costs a process
# start every 30 s, not a core, and a worker that had been running is back in
# half a second, while the kernel holds its new connections.
RESTART_DELAY = backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0, jitter=lambda: 0.0)
STABLE_AFTER = 30.0
# A draining worker cuts what is left at its --shutdown-timeout and exits; one
# that has not exited this much later (stuck in C code, stopped) is killed.
KILL_GRACE = 5.0
# A replacement worker not listening this long after its start is given up on:
# importing a large app takes seconds, not a minute.
START_TIMEOUT = 60.0
WORKER_MODULE = "twisted_http.serve.worker"
# systemd's variables are for the parent: workers get their sockets from it and
# must not tell systemd they are ready.
_PARENT_ONLY = ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


@attrs.define
class _Slot:
    """One worker position: its sockets, the worker serving in it, its restart state."""

    number: int
    sockets: list[socket.socket]
    process: WorkerProcess | None = None
    quick_deaths: int = 0
    restart: IDelayedCall | None = None


@attrs.define
class _Replacement:
    """New workers starting in some slots; the old ones stay until all new ones listen."""

    why: str
    new: dict[int, WorkerProcess] = attrs.Factory(dict)
    timeout: IDelayedCall | None = None


class WorkerPool(Service):
    """Runs ``workers`` copies of minihttp with the arguments ``argv``; see the module docstring.

    ``addresses`` are the TCP addresses (or systemd sockets) of ``--port``, in
    order. The sockets are opened in ``privilegedStartService``, before twistd
    gives up root. ``check`` parses the arguments again on SIGHUP (re-reading
    the config file), raising UsageError if they are wrong.
    """

    def __init__(
        self,
        argv: list[str],
        cwd: str,
        addresses: list[ListenSpec],
        workers: int,
        reactor: Any,
        *,
        python: str = sys.executable,
        reuse_port: bool = REUSE_PORT_BALANCES,
        shutdown_timeout: float = 30.0,
        check: Callable[[list[str]], object] | None = None,
        on_ready: Callable[[str], object] = notify,
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = argv
        self.env = env or {}  # added to each worker's environment
        self.cwd = cwd
        self.addresses = addresses
        self.workers = workers
        self.reuse_port = reuse_port
        self.shutdown_timeout = shutdown_timeout
        self._reactor = reactor
        self._python = python
        self._check = check
        self._notify = on_ready
        self._slots: list[_Slot] = []
        self._replacing: _Replacement | None = None
        self._again = False  # a SIGHUP came during a replacement: one more after it
        self._recycle: set[int] = set()  # slots whose worker asked to be replaced
        self._retiring: set[WorkerProcess] = set()  # old workers draining
        self._ready_told = False
        self._kills: list[IDelayedCall] = []

    # -- starting ---------------------------------------------------------------------------

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
        """Process ids of the workers serving now, by slot (not those starting or draining)."""
        return [slot.process.pid for slot in self._slots if slot.process is not None]

    def _start(self, slot: _Slot) -> WorkerProcess | None:
        """Start a worker on ``slot``'s sockets; None (logged) if the system would not."""
        first_fd = 3
        fds = {first_fd + i: sock.fileno() for i, sock in enumerate(slot.sockets)}
        args = [self._python, "-m", WORKER_MODULE, ",".join(map(str, fds)), "--", *self.argv]
        process = WorkerProcess(self, slot.number, self._reactor.seconds())
        try:
            self._reactor.spawnProcess(process, self._python, args, env=self._environment(),
                                       path=self.cwd, childFDs={0: "w", 1: "r", 2: "r", **fds})
        except OSError as error:
            log.error("minihttp worker {number} could not start: {error}",
                      number=slot.number + 1, error=error)
            return None
        log.info("minihttp worker {pid} started ({number} of {workers})", pid=process.pid,
                 number=slot.number + 1, workers=self.workers)
        return process

    def _spawn(self, slot: _Slot) -> None:
        slot.restart = None
        process = self._start(slot)
        if process is None:
            slot.quick_deaths += 1
            self._schedule_restart(slot)
            return
        slot.process = process

    def _environment(self) -> dict[str, str]:
        """Ours, with this copy of twisted_http importable even if sys.path was changed."""
        env = {name: value for name, value in os.environ.items() if name not in _PARENT_ONLY}
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        here = os.path.dirname(package)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), here]))
        env.update(self.env)
        return env

    # -- what workers say, and their ends ----------------------------------------------------

    def worker_said(self, process: WorkerProcess, what: str) -> None:
        if what == "ready":
            replacing = self._replacing
            if replacing is not None and process in replacing.new.values():
                if all(new.ready for new in replacing.new.values()):
                    self._swap(replacing)
            elif not self._ready_told and all(
                slot.process is not None and slot.process.ready for slot in self._slots
            ):
                self._ready_told = True
                self._notify("READY=1")
        elif what == "recycle" and self.running:
            slot = self._slots[process.slot]
            if slot.process is process:
                self._recycle.add(slot.number)
                self._next()

    def worker_ended(self, process: WorkerProcess, reason: Failure) -> None:
        """A worker's process ended: see which one, and what follows."""
        how = describe_end(reason)
        if process in self._retiring:
            self._retiring.discard(process)
            log.info("minihttp worker {pid} drained and ended ({how})", pid=process.pid, how=how)
            return
        replacing = self._replacing
        if replacing is not None and process in replacing.new.values():
            said = f": {process.last_error}" if process.last_error else ""
            log.error("minihttp {why} abandoned: new worker {pid} ended ({how}) before"
                      " listening{said}; the old workers keep serving",
                      why=replacing.why, pid=process.pid, how=how, said=said)
            del replacing.new[process.slot]
            self._abandon(replacing)
            return
        slot = self._slots[process.slot] if process.slot < len(self._slots) else None
        if slot is None or slot.process is not process or not self.running:
            return
        slot.process = None
        lived = self._reactor.seconds() - process.started_at
        slot.quick_deaths = 0 if lived >= STABLE_AFTER else slot.quick_deaths + 1
        delay = self._schedule_restart(slot)
        log.warn("minihttp worker {pid} ended ({how}) after {lived:.1f}s;"
                 " starting another in {delay:.1f}s",
                 pid=process.pid, how=how, lived=lived, delay=delay)

    def _schedule_restart(self, slot: _Slot) -> float:
        delay: float = RESTART_DELAY(slot.quick_deaths)
        slot.restart = self._reactor.callLater(delay, self._spawn, slot)
        return delay

    # -- replacing workers -------------------------------------------------------------------

    def restart(self) -> None:
        """SIGHUP: replace every worker by a new one, read from the configuration anew."""
        if not self.running:
            return
        self._again = True
        if self._replacing is not None:
            log.info("minihttp restart requested during another: one more will follow it")
            return
        self._next()

    def _next(self) -> None:
        """Start the next replacement asked for, if none runs."""
        if self._replacing is not None or not self.running:
            return
        if self._again:
            self._again = False
            self._recycle.clear()  # every worker is replaced anyway
            if self._check is not None:
                try:
                    self._check(self.argv)
                except UsageError as error:
                    log.error("minihttp restart refused, the old workers keep serving: {error}",
                              error=error)
                    return
            self._notify("RELOADING=1")
            self._replace("restart", [slot.number for slot in self._slots])
        elif self._recycle:
            number = min(self._recycle)
            self._recycle.discard(number)
            self._replace(f"recycling of worker {number + 1}", [number])

    def _replace(self, why: str, numbers: list[int]) -> None:
        replacing = _Replacement(why)
        self._replacing = replacing
        log.info("minihttp {why}: starting {count} new workers", why=why, count=len(numbers))
        for number in numbers:
            process = self._start(self._slots[number])
            if process is None:
                self._abandon(replacing)
                return
            replacing.new[number] = process
        replacing.timeout = self._reactor.callLater(START_TIMEOUT, self._too_slow, replacing)

    def _too_slow(self, replacing: _Replacement) -> None:
        replacing.timeout = None
        log.error("minihttp {why} abandoned: new workers not listening after {seconds:.0f}s;"
                  " the old workers keep serving", why=replacing.why, seconds=START_TIMEOUT)
        self._abandon(replacing)

    def _abandon(self, replacing: _Replacement) -> None:
        self._end_replacement(replacing)
        for process in replacing.new.values():
            self._retire(process)
        self._reactor.callLater(0, self._next)

    def _swap(self, replacing: _Replacement) -> None:
        """Every new worker listens: they take the slots, and the old ones drain."""
        self._end_replacement(replacing)
        for number, process in replacing.new.items():
            slot = self._slots[number]
            if slot.restart is not None and slot.restart.active():
                slot.restart.cancel()
            slot.restart = None
            old, slot.process, slot.quick_deaths = slot.process, process, 0
            if old is not None:
                self._retire(old)
        log.info("minihttp {why} done: {count} new workers serving; the old ones drain",
                 why=replacing.why, count=len(replacing.new))
        self._notify("READY=1")
        self._reactor.callLater(0, self._next)

    def _end_replacement(self, replacing: _Replacement) -> None:
        if replacing.timeout is not None and replacing.timeout.active():
            replacing.timeout.cancel()
        replacing.timeout = None
        if self._replacing is replacing:
            self._replacing = None

    def _retire(self, process: WorkerProcess) -> None:
        """SIGTERM: it drains and exits; SIGKILL if it has not KILL_GRACE after its timeout."""
        if process.ended.called:
            return
        self._retiring.add(process)
        process.signal("TERM")
        kill = self._reactor.callLater(self.shutdown_timeout + KILL_GRACE, self._kill, process)
        self._kills.append(kill)
        process.ended.addCallback(lambda _: self._forget(kill))

    def _kill(self, process: WorkerProcess) -> None:
        if not process.ended.called:
            log.warn("minihttp worker {pid} still running {seconds:.0f}s after SIGTERM;"
                     " killing it", pid=process.pid,
                     seconds=self.shutdown_timeout + KILL_GRACE)
            process.signal("KILL")

    def _forget(self, kill: IDelayedCall) -> None:
        if kill.active():
            kill.cancel()
        if kill in self._kills:
            self._kills.remove(kill)

    # -- stopping ----------------------------------------------------------------------------

    def _processes(self) -> list[WorkerProcess]:
        serving = [slot.process for slot in self._slots if slot.process is not None]
        starting = list(self._replacing.new.values()) if self._replacing else []
        return [*serving, *starting, *self._retiring]

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        self._notify("STOPPING=1")
        if self._replacing is not None:
            self._end_replacement(self._replacing)
        running = [process for process in self._processes() if not process.ended.called]
        closed: set[int] = set()
        for slot in self._slots:
            if slot.restart is not None and slot.restart.active():
                slot.restart.cancel()
            slot.restart = None
            for sock in slot.sockets:
                if id(sock) not in closed:
                    closed.add(id(sock))
                    sock.close()
        if not running:
            self._slots = []
            return succeed(None)
        log.info("minihttp stopping {count} workers", count=len(running))
        for process in running:
            self._retire(process)
        self._slots = []
        return gatherResults([process.ended for process in running])

    def reopen_logs(self) -> None:
        """SIGUSR1 (logrotate has moved the log): each worker reopens its access log."""
        for process in self._processes():
            process.signal(signal.SIGUSR1)

    def cut(self) -> None:
        """A second SIGTERM: each worker cuts its drain short."""
        for process in self._processes():
            process.signal("TERM")
