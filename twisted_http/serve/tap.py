"""``twistd minihttp``: the service built from the settings (``makeService``).

The command line is ``options.Options``, generated from the settings model
(``settings``); this module only turns the parsed ``Settings`` into services:
one serving process (``serve``: a ``lifecycle.Server`` on every ``--port``),
or, with ``--workers`` N > 1, ``--max-requests`` or ``--reload``, a pool of
worker processes (``workers``), each of which builds the same site from the
same arguments (``make_site``). SIGTERM and SIGINT drain either way; SIGHUP
replaces the pool's workers.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from twisted.application.service import IService, MultiService
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from ..channel.factory import HTTPFactory
from ..channel.interfaces import IRequestHandler
from ..channel.routing import Router, normalize_prefix
from ..edge.health import HealthCheck
from ..edge.logfile import AccessLog, open_access_log
from ..edge.proxies import Forwarding, TrustedProxies
from ..edge.proxyprotocol import ProxyHeaderFactory, proxied
from ..static.handler import StaticFiles
from .lifecycle import RequestCounter, Server, stop_on_signals
from .listeners import Listening, listen_spec
from .options import Options
from .settings import MAX_WORKERS, HandlerMount, Settings, StaticMount

if TYPE_CHECKING:
    from ..edge.metrics import Metrics
    from ..wsgi.handler import WSGIHandler

__all__ = ["MAX_WORKERS", "Options", "log_events", "makeService", "make_site", "serve"]

log = Logger()


class _DaemonThread(threading.Thread):
    """A WSGI thread: a drain cut short does not wait for an app stuck in one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, daemon=True, **kwargs)


@attrs.frozen
class Site:
    """What one serving process builds from the settings: the factory, and its WSGI
    thread pool, health check and access log if there are any."""

    factory: HTTPFactory
    counter: RequestCounter
    threads: ThreadPool | None
    health: HealthCheck | None
    access_log: AccessLog | None = None


def makeService(options: Options, reactor: Any = None) -> IService:  # noqa: N802
    """The service ``twistd minihttp`` runs; see the module docstring."""
    if reactor is None:
        from twisted.internet import reactor
    from twisted.internet import reactor as running

    settings = options.settings
    if settings.pooled:
        from .workers import WorkerPool

        addresses = [listen_spec(port) for port in settings.port]
        pool = WorkerPool(options.argv, options.cwd, [a for a in addresses if a is not None],
                          settings.workers, reactor, shutdown_timeout=settings.shutdown_timeout,
                          check=lambda argv: Options().parse(argv),
                          env=_metrics_folder(settings, reactor))
        if reactor is running:  # twistd's, not a test's fake one
            reactor.callWhenRunning(_pool_signals, reactor, pool)
        if not settings.reload:
            return pool
        from .reload import ReloadWatcher, watched_paths

        service = MultiService()
        pool.setServiceParent(service)
        modules = [mount.module for mount in settings.wsgi]
        ReloadWatcher(watched_paths(modules, options.config_file), pool.restart,
                      reactor).setServiceParent(service)
        return service
    server = serve(settings, reactor, lambda factory: [
        Listening(reactor, *listen_with(port, factory, reactor)) for port in settings.port])
    if reactor is running:
        reactor.callWhenRunning(log_events, reactor, server)
        reactor.callWhenRunning(_server_signals, reactor, server)
    return server


def _server_signals(reactor: Any, server: Server) -> None:
    """SIGTERM and SIGINT drain; SIGHUP, which would end the process, is only logged."""
    stop_on_signals(reactor, server.cut)
    signal.signal(signal.SIGHUP, lambda number, frame: reactor.callFromThread(
        log.warn, "minihttp ignores SIGHUP in one process: restarts without a dropped"
                  " request need --workers (or --max-requests, --reload)"))


def listen_with(description: str, factory: HTTPFactory, reactor: Any) -> tuple[str, Factory[Any]]:
    """The endpoint to listen on and the factory to listen with: a ``haproxy:`` port
    reads a PROXY header before the connection reaches ``factory``."""
    inner = proxied(description)
    if inner is None:
        return description, factory
    return inner, ProxyHeaderFactory(factory, factory.config.first_request_timeout, reactor)


def _pool_signals(reactor: Any, pool: Any) -> None:
    """SIGTERM and SIGINT drain the workers; SIGHUP replaces them; SIGUSR1 is passed on
    to them (each reopens its access log), then does what it did before."""
    stop_on_signals(reactor, pool.cut)
    signal.signal(signal.SIGHUP, lambda number, frame: reactor.callFromThread(pool.restart))
    on_sigusr1(reactor, pool.reopen_logs)


def on_sigusr1(reactor: Any, action: Callable[[], object]) -> None:
    """SIGUSR1 runs ``action`` in the reactor, then does what it did before: twistd,
    once its logging has begun, rotates its ``--logfile`` on SIGUSR1."""
    previous = signal.getsignal(signal.SIGUSR1)

    def received(number: int, frame: Any) -> None:
        reactor.callFromThread(action)
        if callable(previous):
            previous(number, frame)

    signal.signal(signal.SIGUSR1, received)


def serve(settings: Settings, reactor: Any,
          ports: Callable[[HTTPFactory], list[IService]], **events: Any) -> Server:
    """The service of one serving process: the site of ``settings`` on the ``ports`` made
    for its factory. ``events`` are Server's ``on_ready`` and ``on_drain``, if not
    systemd's."""
    site = make_site(settings, reactor)
    return Server(site.factory, ports(site.factory), reactor, counter=site.counter,
                  threads=site.threads, health=site.health,
                  shutdown_timeout=settings.shutdown_timeout,
                  shutdown_delay=settings.shutdown_delay, **events)


def log_events(reactor: Any, server: Server) -> None:
    """The access log of a serving process (twistd alone, or a worker) follows the process:
    SIGUSR1 reopens its file (logrotate), then does what it did before (twistd rotates
    its own --logfile on SIGUSR1); what waits is written once the drain has ended and
    the reactor stops. Call it once the reactor runs, after twistd's own handler."""
    logs = [o for o in server.factory.observers if isinstance(o, AccessLog)]

    def reopen() -> None:
        for access_log in logs:
            access_log.reopen()

    for access_log in logs:
        reactor.addSystemEventTrigger("after", "shutdown", access_log.close)
    on_sigusr1(reactor, reopen)


def make_site(settings: Settings, reactor: Any) -> Site:
    """The factory serving ``settings``' mounts, with its WSGI thread pool (not started)."""
    config = settings.limits
    mounts: list[tuple[str, IRequestHandler]] = []
    pool = None
    health = None
    if settings.health:
        # Its own prefix: the longest prefix wins, so it is tried before any app.
        health = HealthCheck(settings.health.rstrip("/").encode("utf-8"))
        mounts.append((settings.health, health))
    for mount in settings.mounts():
        if isinstance(mount, StaticMount):
            mounts.append((mount.prefix, StaticFiles(mount.path,
                                                     **mount.options.handler_options())))
            continue
        if isinstance(mount, HandlerMount):
            mounts.append((mount.prefix, mount.built))  # built by the conversion
            continue
        if pool is None:
            pool = ThreadPool(minthreads=0, maxthreads=config.threads, name="minihttp-wsgi")
            pool.threadFactory = _DaemonThread
        from ..wsgi.handler import WSGIHandler

        mounts.append((mount.prefix, WSGIHandler(
            mount.app, thread_pool=pool, reactor=reactor,
            thread_wait_timeout=config.thread_wait_timeout,
            input_buffer=mount.options.input_buffer,
            output_window=mount.options.output_window,
            read_ahead_memory=mount.options.read_ahead_memory,
            read_ahead_size=mount.options.read_ahead_size,
        )))
    metrics = _metrics(settings, reactor, mounts)
    counter = RequestCounter()
    access_log = (open_access_log(settings.access_log_path, settings.access_log_format, reactor)
                  if config.access_log else None)
    observers = [access_log, counter, metrics]
    trusted = TrustedProxies.parse(settings.trusted_proxy)
    factory = HTTPFactory(Router(mounts), config, clock=reactor,
                          observers=tuple(o for o in observers if o is not None),
                          forwarded=Forwarding(trusted) if trusted else None)
    if metrics is not None:
        metrics.gauge_source("connections", lambda: factory.open_connections)
        metrics.gauge_source("in_flight", factory.requests_in_flight)
    return Site(factory, counter, pool, health, access_log)


def _metrics(settings: Settings, reactor: Any,
             mounts: list[tuple[str, IRequestHandler]]) -> Metrics | None:
    """With ``--metrics``: the figures of this process, their page mounted, and what
    the static and WSGI mounts count read at each scrape."""
    if not settings.metrics:
        return None
    from prometheus_client import disable_created_metrics

    from ..edge.metrics import Metrics, MetricsPage
    from ..wsgi.handler import WSGIHandler

    # The *_created series (when each counter was made) double the page for a
    # figure no dashboard uses; the server owns its process, so off for all.
    disable_created_metrics()
    metrics = Metrics(reactor.seconds, scheduler=reactor)
    for prefix, handler in mounts:
        if isinstance(handler, StaticFiles):
            metrics.cache_source(normalize_prefix(prefix), handler.cache)
        elif isinstance(handler, WSGIHandler):
            _watch_wsgi(metrics, handler)
    mounts.insert(0, (settings.metrics, MetricsPage(metrics)))
    return metrics


def _watch_wsgi(metrics: Metrics, handler: WSGIHandler) -> None:
    metrics.gauge_source("threads_busy", lambda: len(handler.running))
    metrics.gauge_source("queued", lambda: handler.dispatcher.queued)
    metrics.refusal_source(503, lambda: handler.dispatcher.expired)


def _metrics_folder(settings: Settings, reactor: Any) -> dict[str, str]:
    """With ``--metrics`` and worker processes: a folder for this run where the workers
    keep their figures (prometheus_client's multiprocess mode), removed at shutdown."""
    if not settings.metrics:
        return {}
    from ..edge.metrics import MULTIPROCESS_DIR

    folder = tempfile.mkdtemp(prefix="minihttp-metrics-")
    reactor.addSystemEventTrigger("after", "shutdown", shutil.rmtree, folder, True)
    return {MULTIPROCESS_DIR: folder}
