"""``twistd minihttp``: the service built from the settings (``makeService``).

The command line is ``options.Options``, generated from the settings model
(``settings``); this module only turns the parsed ``Settings`` into services:
one listening port per ``--port``, or with ``--workers`` N > 1 a pool of N
processes (``workers``), each of which builds the same site from the same
arguments (``make_site``).
"""

from __future__ import annotations

import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet.protocol import Factory
from twisted.python.threadpool import ThreadPool

from ..channel.factory import HTTPFactory
from ..channel.interfaces import IRequestHandler
from ..channel.routing import Router, normalize_prefix
from ..edge.proxies import Forwarding, TrustedProxies
from ..edge.proxyprotocol import ProxyHeaderFactory, proxied
from ..static.handler import StaticFiles
from .listeners import Listening, tcp_address
from .options import Options
from .settings import MAX_WORKERS, HandlerMount, Settings, StaticMount

if TYPE_CHECKING:
    from ..edge.metrics import Metrics
    from ..wsgi.handler import WSGIHandler

__all__ = ["MAX_WORKERS", "Options", "makeService", "make_site"]


class _ThreadPoolService(Service):
    """Starts the WSGI thread pool with the server and stops it (joining threads) after."""

    def __init__(self, pool: ThreadPool) -> None:
        self.pool = pool

    def startService(self) -> None:
        super().startService()
        self.pool.start()

    def stopService(self) -> None:
        super().stopService()
        self.pool.stop()


def makeService(options: Options, reactor: Any = None) -> IService:  # noqa: N802
    """The service ``twistd minihttp`` runs: one listening port per endpoint, or with
    ``--workers`` N > 1 a pool of N processes that each run one."""
    if reactor is None:
        from twisted.internet import reactor
    settings = options.settings
    if settings.workers > 1:
        from .workers import WorkerPool

        addresses = [tcp_address(port) for port in settings.port]
        return WorkerPool(options.argv, options.cwd, [a for a in addresses if a is not None],
                          settings.workers, reactor, env=_metrics_folder(settings, reactor))
    service = MultiService()
    factory = make_site(settings, reactor, service)
    for description in settings.port:
        Listening(reactor, *listen_with(description, factory, reactor)).setServiceParent(service)
    return service


def listen_with(description: str, factory: HTTPFactory, reactor: Any) -> tuple[str, Factory[Any]]:
    """The endpoint to listen on and the factory to listen with: a ``haproxy:`` port
    reads a PROXY header before the connection reaches ``factory``."""
    inner = proxied(description)
    if inner is None:
        return description, factory
    return inner, ProxyHeaderFactory(factory, factory.config.first_request_timeout, reactor)


def make_site(settings: Settings, reactor: Any, service: MultiService) -> HTTPFactory:
    """The factory serving ``settings``' mounts; a WSGI thread pool, if any, runs under
    ``service``."""
    config = settings.limits
    mounts: list[tuple[str, IRequestHandler]] = []
    pool = None
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
            _ThreadPoolService(pool).setServiceParent(service)
        from ..wsgi.handler import WSGIHandler

        mounts.append((mount.prefix, WSGIHandler(
            mount.app, thread_pool=pool, reactor=reactor,
            thread_wait_timeout=config.thread_wait_timeout,
            input_buffer=mount.options.input_buffer,
            output_window=mount.options.output_window,
            read_ahead_memory=mount.options.read_ahead_memory,
            read_ahead_size=mount.options.read_ahead_size,
        )))
    metrics = _metrics(settings, reactor, service, mounts)
    trusted = TrustedProxies.parse(settings.trusted_proxy)
    factory = HTTPFactory(Router(mounts), config, clock=reactor,
                          observers=() if metrics is None else (metrics,),
                          forwarded=Forwarding(trusted) if trusted else None)
    if metrics is not None:
        metrics.gauge_source("connections", lambda: factory.open_connections)
        metrics.gauge_source("in_flight", factory.requests_in_flight)
        metrics.refusal_source(503, lambda: factory.turned_away)
    return factory


def _metrics(settings: Settings, reactor: Any, service: MultiService,
             mounts: list[tuple[str, IRequestHandler]]) -> Metrics | None:
    """With ``--metrics``: the figures of this process, their page mounted, and what
    the static and WSGI mounts count read at each scrape."""
    if not settings.metrics:
        return None
    from prometheus_client import disable_created_metrics

    from ..edge.metrics import Flushing, Metrics, MetricsPage
    from ..wsgi.handler import WSGIHandler

    # The *_created series (when each counter was made) double the page for a
    # figure no dashboard uses; the server owns its process, so off for all.
    disable_created_metrics()
    metrics = Metrics(reactor.seconds)
    for prefix, handler in mounts:
        if isinstance(handler, StaticFiles):
            metrics.cache_source(normalize_prefix(prefix), handler.cache)
        elif isinstance(handler, WSGIHandler):
            _watch_wsgi(metrics, handler)
    mounts.insert(0, (settings.metrics, MetricsPage(metrics)))
    if metrics.multiprocess:
        Flushing(metrics, reactor).setServiceParent(service)
    return metrics


def _watch_wsgi(metrics: Metrics, handler: WSGIHandler) -> None:
    metrics.gauge_source("threads_busy", lambda: len(handler.running))
    metrics.gauge_source("queued", lambda: handler.dispatcher.queued)
    metrics.refusal_source(503, lambda: handler.dispatcher.expired)


def _metrics_folder(settings: Settings, reactor: Any) -> dict[str, str]:
    """With ``--metrics`` and ``--workers``: a folder for this run where the workers keep
    their figures (prometheus_client's multiprocess mode), removed at shutdown."""
    if not settings.metrics:
        return {}
    from ..edge.metrics import MULTIPROCESS_DIR

    folder = tempfile.mkdtemp(prefix="minihttp-metrics-")
    reactor.addSystemEventTrigger("after", "shutdown", shutil.rmtree, folder, True)
    return {MULTIPROCESS_DIR: folder}
