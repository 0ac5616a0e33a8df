"""Metrics: what ``--metrics PATH`` serves, in Prometheus's text format (prometheus_client).

The figures:

- ``minihttp_requests_total{method, status_class, mount}``: responses to requests
  whose head was read; ``method`` is one of the standard methods or ``other``,
  ``status_class`` is ``1xx`` (an upgrade's 101)..``5xx``, ``mount`` the prefix that answered;
- ``minihttp_response_bytes_total{mount}``: body bytes sent;
- ``minihttp_request_duration_seconds{mount}``: a histogram, from the end of the
  request head to the end of the response;
- ``minihttp_refusals_total{reason}``: what the server refused by itself: 400,
  408, 413, 414 and 431 for bad or slow requests, 503 for a connection over
  ``--max-connections`` or while draining, or a WSGI request that waited too long
  for a thread;
- gauges, read when asked: ``minihttp_requests_in_flight``,
  ``minihttp_open_connections``, ``minihttp_wsgi_threads_busy``,
  ``minihttp_wsgi_requests_queued``;
- ``minihttp_static_cache_hits_total{mount}`` and ``..._misses_total{mount}``.

Cheap on the request path. A finished response costs a few dict and list
operations here (``record``): plain counts, kept per label set. The
prometheus_client objects are brought up to date from them in one go
(``flush``) when the page is asked for, and, with ``--workers``, a second after
a response, so a scrape that lands on one worker sees the others' figures at
most a second old. prometheus_client's own per-observation path (a lock and a label lookup
per call) would cost several times more on every request.

With ``--workers N`` the figures are the whole server's: each worker writes
them through prometheus_client's multiprocess mode into a folder the parent
made for this run (``PROMETHEUS_MULTIPROC_DIR``), and whichever worker answers
a scrape adds every worker's files up. Counters of a worker that ended stay in
the sum; its gauges are dropped (``forget_dead``). The multiprocess mode is the
library's own way to do this (gunicorn users know it), any worker can answer,
and the parent, which serves nothing, needs no channel to its workers.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from ..channel.interfaces import IRequestHandler, IResponseObserver
from ..channel.request import Request
from ..channel.response import Response

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS",
                     b"TRACE", b"CONNECT"})
REFUSALS = (400, 408, 413, 414, 431, 503)
# From a millisecond (a small static file) to ten seconds (a slow app); Prometheus
# adds +Inf.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FLUSH_AFTER = 1.0  # seconds; see Metrics.__init__
_CLASSES = {cls: f"{cls}xx" for cls in range(1, 6)}

Source = Callable[[], Iterable[tuple[str, float]]]  # (label value or "", value) pairs


def mount_label(prefix: bytes) -> str:
    return prefix.decode("latin-1") or "/"


@implementer(IResponseObserver)
class Metrics:
    """The figures of one process; see the module docstring.

    ``clock`` gives the time a response ended (the server's clock).
    ``multiprocess`` says the values go to prometheus_client's multiprocess
    folder (``PROMETHEUS_MULTIPROC_DIR`` must be set before prometheus_client
    is imported, as the worker processes have it); the default is whether it
    is set. ``scheduler`` then runs the flushes (the reactor).
    """

    def __init__(self, clock: Callable[[], float], multiprocess: bool | None = None,
                 scheduler: IReactorTime | None = None) -> None:
        self._now = clock
        self.multiprocess = MULTIPROCESS_DIR in os.environ if multiprocess is None else (
            multiprocess)
        # With several processes, a flush at most FLUSH_AFTER seconds after each
        # response, so another worker's scrape sees this one's figures.
        self._scheduler = scheduler if self.multiprocess else None
        self._flush_due = False
        self.registry = CollectorRegistry()
        registry = self.registry

        def counter(name: str, text: str, *labels: str) -> Counter:
            return Counter(name, text, labels, registry=registry)

        def gauge(name: str, text: str) -> Gauge:
            return Gauge(name, text, registry=registry, multiprocess_mode="livesum")

        self.requests = counter("minihttp_requests", "Responses to requests, by method,"
                                " status class and mount.", "method", "status_class", "mount")
        self.response_bytes = counter("minihttp_response_bytes", "Body bytes sent, by mount.",
                                      "mount")
        self.duration = Histogram(
            "minihttp_request_duration_seconds", "Seconds from the end of a request's head"
            " to the end of its response, by mount.", ["mount"], registry=registry,
            buckets=BUCKETS)
        self.refusals = counter("minihttp_refusals", "Requests and connections the server"
                                " refused by itself, by status.", "reason")
        for reason in REFUSALS:
            self.refusals.labels(str(reason))  # every reason shows, at 0 until it happens
        self.cache_hits = counter("minihttp_static_cache_hits", "Static file lookups"
                                  " answered from the cache, by mount.", "mount")
        self.cache_misses = counter("minihttp_static_cache_misses", "Static file lookups"
                                    " that had to look at the disk, by mount.", "mount")
        self.gauges = {
            "in_flight": gauge("minihttp_requests_in_flight",
                               "Requests read and not yet answered."),
            "connections": gauge("minihttp_open_connections", "Open client connections."),
            "threads_busy": gauge("minihttp_wsgi_threads_busy",
                                  "Threads running a WSGI app now."),
            "queued": gauge("minihttp_wsgi_requests_queued",
                            "WSGI requests waiting for a thread."),
        }
        # Plain counts since the last flush: (method, status class, mount) ->
        # [responses, bytes]; mount -> bucket counts, then the sum of seconds.
        self._counts: dict[tuple[bytes, int, bytes], list[int]] = {}
        self._durations: dict[bytes, list[float]] = {}
        self._refused: dict[int, int] = {}
        self._gauge_sources: dict[str, Callable[[], float]] = {}
        self._counted: list[list[Any]] = []  # [counter child, source, value at last flush]

    # -- the request path -------------------------------------------------------------

    def record(self, method: bytes, status: int, mount: bytes, size: int,
               seconds: float) -> None:
        """One response: its request's method, its status, the mount, body bytes, time."""
        key = (method if method in METHODS else b"other", status // 100, mount)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0]
        counts[0] += 1
        counts[1] += size
        buckets = self._durations.get(mount)
        if buckets is None:
            buckets = self._durations[mount] = [0.0] * (len(BUCKETS) + 2)
        buckets[bisect_left(BUCKETS, seconds)] += 1  # the last but one is +Inf
        buckets[-1] += seconds
        if self._scheduler is not None and not self._flush_due:
            self._flush_soon()

    def refused(self, status: int) -> None:
        self._refused[status] = self._refused.get(status, 0) + 1
        if self._scheduler is not None and not self._flush_due:
            self._flush_soon()

    def _flush_soon(self) -> None:
        assert self._scheduler is not None
        self._flush_due = True
        self._scheduler.callLater(FLUSH_AFTER, self.flush)

    def response_completed(self, request: Request | None, response: Response,
                           started: float) -> None:
        """``IResponseObserver``: a response ended (see the channel's interfaces)."""
        if request is None or response.refusal:
            self.refused(response.status)
            if request is None:
                return
        self.record(request.method, response.status, request.script_name,
                    response.bytes_sent, self._now() - started)

    # -- what is read when asked ------------------------------------------------------

    def gauge_source(self, name: str, source: Callable[[], float]) -> None:
        """Read ``source`` for the gauge ``name`` (a key of ``gauges``) at each flush;
        sources given for one name are added up."""
        previous = self._gauge_sources.get(name)
        self._gauge_sources[name] = source if previous is None else (
            lambda: previous() + source())

    def cache_source(self, mount: bytes, cache: Any) -> None:
        """Read a static mount's cache's ``hits`` and ``misses`` (counts ever) at each flush."""
        label = mount_label(mount)
        self.count_source(self.cache_hits.labels(label), lambda: cache.hits)
        self.count_source(self.cache_misses.labels(label), lambda: cache.misses)

    def refusal_source(self, status: int, source: Callable[[], int]) -> None:
        """Read a count, ever, of refusals with ``status`` made elsewhere at each flush."""
        self.count_source(self.refusals.labels(str(status)), source)

    def count_source(self, child: Any, source: Callable[[], int]) -> None:
        """Add to the counter ``child`` what ``source``, a count ever, grew by since the
        last flush."""
        self._counted.append([child, source, 0])

    def flush(self) -> None:
        """Bring the prometheus_client objects up to date with what was recorded."""
        self._flush_due = False
        counts, self._counts = self._counts, {}
        for (method, status_class, mount), (responses, size) in counts.items():
            label = mount_label(mount)
            self.requests.labels(method.decode("ascii"), _CLASSES.get(status_class, "other"),
                                 label).inc(responses)
            self.response_bytes.labels(label).inc(size)
        durations, self._durations = self._durations, {}
        for mount, buckets in durations.items():
            _observe_many(self.duration.labels(mount_label(mount)), buckets)
        refused, self._refused = self._refused, {}
        for status, count in refused.items():
            self.refusals.labels(str(status)).inc(count)
        for name, source in self._gauge_sources.items():
            self.gauges[name].set(source())
        for counted in self._counted:
            child, source, seen = counted
            now = source()
            if now > seen:
                child.inc(now - seen)
            counted[2] = now

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """(text, content type) now: this process's figures, or every worker's, in the
        format the ``Accept`` header asks for (Prometheus text 0.0.4 by default)."""
        self.flush()
        try:
            encode, content_type = choose_encoder(accept)
        except Exception:  # it raises on some malformed values (version=x): the default
            encode, content_type = choose_encoder("")
        if not self.multiprocess:
            return encode(self.registry), content_type
        folder = os.environ[MULTIPROCESS_DIR]
        forget_dead(folder)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, folder)
        return encode(registry), content_type


def _observe_many(histogram: Any, buckets: list[float]) -> None:
    """Add bucket counts and a sum to a histogram child at once.

    prometheus_client has no bulk observe; ``observe`` adds 1 to the first
    bucket whose bound holds the value and the value to ``_sum``, which is
    what this does per bucket (pinned by tests/test_metrics.py).
    """
    for index, count in enumerate(buckets[:-1]):
        if count:
            histogram._buckets[index].inc(count)
    histogram._sum.inc(buckets[-1])


_GAUGE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")


def forget_dead(folder: str) -> None:
    """Drop the gauge files of workers that have ended (their counters stay)."""
    for pid in {int(match[1]) for name in os.listdir(folder)
                if (match := _GAUGE_FILE.fullmatch(name))}:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, folder)
        except PermissionError:
            pass  # alive, someone else's


@implementer(IRequestHandler)
class MetricsPage:
    """Serves ``metrics``' exposition at its mount: GET and HEAD, never cached."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def handle(self, request: Request, response: Response) -> bool:
        if request.path_info not in (b"", b"/"):
            response.send_error(404)
        elif request.method not in (b"GET", b"HEAD"):
            response.send_error(405, headers=[(b"Allow", b"GET, HEAD")])
        else:
            accept = request.headers.get_joined(b"accept") or b""
            text, content_type = self.metrics.exposition(accept.decode("latin-1"))
            response.send(200, text, [(b"Content-Type", content_type.encode("ascii")),
                                      (b"Cache-Control", b"no-store")])
        return True
