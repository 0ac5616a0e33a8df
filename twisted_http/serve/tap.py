"""``twistd minihttp``: the service built from the settings (``makeService``).

The command line is ``options.Options``, generated from the settings model
(``settings``); this module only turns the parsed ``Settings`` into services:
one listening port per ``--port``, or with ``--workers`` N > 1 a pool of N
processes (``workers``), each of which builds the same site from the same
arguments (``make_site``).
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet.protocol import Factory
from twisted.python.threadpool import ThreadPool

from ..channel.factory import HTTPFactory
from ..channel.interfaces import IRequestHandler
from ..channel.routing import Router
from ..edge.proxyprotocol import ProxyHeaderFactory, proxied
from ..static.handler import StaticFiles
from .listeners import Listening, tcp_address
from .options import Options
from .settings import MAX_WORKERS, HandlerMount, Settings, StaticMount

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
                          settings.workers, reactor)
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
    return HTTPFactory(Router(mounts), config, clock=reactor)
