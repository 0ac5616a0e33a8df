"""How one serving process starts and stops: listening, readiness, the graceful drain, signals.

``Server`` is the service of a process that serves (twistd with one process,
or one ``--workers`` worker). Started, it listens on its ports, then runs
``on_ready`` (systemd's ``READY=1``, or a worker telling its parent). Stopped,
it drains:

1. the health check says 503 and systemd hears ``STOPPING=1``;
2. after ``shutdown_delay`` seconds (none by default), in which the process
   goes on serving whatever still comes so that a balancer polling the health
   check has time to stop sending, every listening port closes, so the kernel
   refuses new connections (or a balancer sends them to another instance)
   rather than this process accepting and resetting them;
3. idle keep-alive connections close at once; each busy one finishes its
   response, sent with ``Connection: close``, then closes; requests waiting
   for a WSGI thread still run;
4. once no connection is left, the WSGI threads are joined and the drain is
   logged with how many requests it finished and how long it took.

``shutdown_timeout`` bounds the whole drain, the delay included: connections
still open then are cut and counted in the log. ``cut()`` does the same at once
(a second SIGTERM), closing the ports first if the delay is still running.

``stop_on_signals`` makes SIGTERM (and SIGINT) a drain that ends in exit
status 0, where Twisted's own handlers would re-raise the signal (status
143); the same signal again cuts the drain short and the process then ends by
the signal, so the exit status says it did not finish.

``notify`` is systemd's ``sd_notify`` for ``Type=notify`` units: one datagram
to ``$NOTIFY_SOCKET``. It is a dozen lines, so no library is needed for it.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Mapping
from typing import Any

from twisted.application.service import IService, Service
from twisted.internet.defer import Deferred
from twisted.internet.error import ReactorNotRunning
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from ..channel.factory import HTTPFactory
from ..channel.interfaces import IResponseObserver
from ..channel.request import Request
from ..channel.response import Response
from ..edge.health import HealthCheck

log = Logger()

def notify(state: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send ``state`` ("READY=1", "STOPPING=1"...) to systemd if it asked for it."""
    address = environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket name
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        try:
            sender.sendto(state.encode("utf-8"), address)
        except OSError as error:
            log.warn("Could not notify systemd at {address}: {error}", address=address,
                     error=error)
            return False
    return True


class Server(Service):
    """Serves ``factory`` on ``ports`` and stops by draining; see the module docstring.

    ``ports`` are services that listen while running (``listeners.Listening``,
    a worker's ``AdoptedPort``); ``threads`` is the WSGI thread pool, if any.
    """

    def __init__(
        self,
        factory: HTTPFactory,
        ports: list[IService],
        reactor: Any,
        *,
        counter: RequestCounter | None = None,
        threads: ThreadPool | None = None,
        health: HealthCheck | None = None,
        shutdown_timeout: float = 30.0,
        shutdown_delay: float = 0.0,
        on_ready: Callable[[], object] = lambda: notify("READY=1"),
        on_drain: Callable[[], object] = lambda: notify("STOPPING=1"),
    ) -> None:
        self.factory = factory
        self._ports = ports
        self._reactor = reactor
        self._threads = threads
        self._health = health
        self._timeout = shutdown_timeout
        self._delay = shutdown_delay
        self._on_ready = on_ready
        self._on_drain = on_drain
        self._counter = counter if counter is not None else RequestCounter()
        self._drained: Deferred[None] | None = None
        self._deadline: Any = None
        self._cut: Callable[[], None] = lambda: None

    @property
    def served(self) -> int:
        """Responses sent in full since the server started."""
        return self._counter.served

    def privilegedStartService(self) -> None:  # noqa: N802 - IService
        """Bind before twistd gives up root; a port that cannot be bound stops start-up
        (``listeners.CannotListen``)."""
        super().privilegedStartService()
        for port in self._ports:
            port.privilegedStartService()

    def startService(self) -> None:
        super().startService()
        if self._threads is not None:
            self._threads.start()
        for port in self._ports:
            port.startService()  # listening: tcp, unix, ssl and adopted ports bind at once
        self._on_ready()

    def stopService(self) -> Deferred[None]:
        """Drain; the Deferred fires once every connection has closed (or been cut)."""
        super().stopService()
        if self._drained is None:
            self._drained = self._drain()
        return self._drained

    def _drain(self) -> Deferred[None]:
        self._on_drain()
        if self._health is not None:
            self._health.draining = True
        started = self._reactor.seconds()
        served_before = self._counter.served
        done: Deferred[None] = Deferred()
        ports_open = True
        delayed: Any = None  # the call that closes the ports after shutdown_delay

        def close_ports() -> None:
            nonlocal ports_open
            if delayed is not None and delayed.active():
                delayed.cancel()
            if not ports_open:
                return
            ports_open = False
            for port in self._ports:
                port.stopService()  # closes at once: the kernel refuses what comes next
            busy = self.factory.open_connections
            log.info("minihttp draining: ports closed, {busy} connections open", busy=busy)
            self.factory.drain().addCallback(lambda _: finished(0))

        def finished(cut: int) -> None:
            if done.called:
                return
            if self._deadline is not None and self._deadline.active():
                self._deadline.cancel()
            self._deadline = None
            if self._threads is not None:
                if cut:
                    # A thread may be stuck in an app: don't wait for it (they are daemons).
                    self._threads.threads.clear()
                self._threads.stop()
            seconds = round(self._reactor.seconds() - started, 2)  # relayed by workers unformatted
            drained = self._counter.served - served_before
            if cut:
                log.warn("minihttp drain cut short after {seconds}s: {drained} requests"
                         " finished, {cut} connections cut", seconds=seconds, drained=drained,
                         cut=cut)
            else:
                log.info("minihttp drained {drained} requests in {seconds}s",
                         drained=drained, seconds=seconds)
            done.callback(None)

        def cut() -> None:
            close_ports()
            count = self.factory.open_connections
            self.factory.abort_all()
            finished(count)

        def timed_out() -> None:
            self._deadline = None
            log.warn("minihttp shutdown timeout ({seconds}s) reached", seconds=self._timeout)
            cut()

        self._cut = cut
        self._deadline = self._reactor.callLater(self._timeout, timed_out)
        if self._delay > 0:
            log.info("minihttp stopping: ports close in {seconds}s; meanwhile the health check"
                     " says 503", seconds=self._delay)
            delayed = self._reactor.callLater(self._delay, close_ports)
        else:
            close_ports()
        return done

    def cut(self) -> None:
        """End a drain now: connections still open are aborted."""
        if self._drained is not None and not self._drained.called:
            self._cut()


@implementer(IResponseObserver)
class RequestCounter:
    """Counts the responses sent in full: how many a drain finished, and when a worker
    has served ``--max-requests``."""

    def __init__(self) -> None:
        self.served = 0

    def response_completed(self, request: Request | None, response: Response,
                           started: float) -> None:
        if response.finished:
            self.served += 1


def stop_on_signals(
    reactor: Any,
    cut: Callable[[], object],
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """The first of ``signals`` stops the reactor gracefully (services drain) and leads to
    exit status 0; a second one calls ``cut`` and the process ends by that signal.

    Call it once the reactor runs: Twisted installs its own handlers on start-up.
    """
    state = {"stopping": False}

    def received(number: int) -> None:
        name = signal.Signals(number).name
        if not state["stopping"]:
            state["stopping"] = True
            log.info("Received {name}: draining, then stopping", name=name)
            try:
                reactor.stop()
            except ReactorNotRunning:
                pass
            return
        log.warn("Received {name} again: cutting the drain short", name=name)
        # twistd (and Twisted's own runner) end the process by this signal once
        # the reactor has stopped, so the exit status shows the drain did not finish.
        reactor._exitSignal = number
        cut()

    for number in signals:
        signal.signal(number, lambda number, frame: reactor.callFromThread(received, number))
