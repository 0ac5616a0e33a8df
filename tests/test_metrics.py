"""Metrics (edge/metrics.py): the collector against plain records, and its page."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from twisted_http.edge.metrics import BUCKETS, REFUSALS, Metrics, MetricsPage
from twisted_http.testing import FakeConnection, parse_responses


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text.decode("utf-8")):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: bytes, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def known_traffic(metrics: Metrics) -> None:
    metrics.record(b"GET", 200, b"", 100, 0.002)
    metrics.record(b"GET", 200, b"", 50, 0.004)
    metrics.record(b"GET", 404, b"", 10, 0.0005)
    metrics.record(b"POST", 201, b"/app", 5, 0.3)
    metrics.record(b"BREW", 500, b"/app", 7, 20.0)  # an invented method, past every bucket


def test_requests_bytes_and_durations_after_known_traffic() -> None:
    metrics = Metrics(lambda: 0.0, multiprocess=False)
    known_traffic(metrics)
    text = metrics.exposition()[0]
    assert value(text, "minihttp_requests_total", method="GET", status_class="2xx",
                 mount="/") == 2
    assert value(text, "minihttp_requests_total", method="GET", status_class="4xx",
                 mount="/") == 1
    assert value(text, "minihttp_requests_total", method="POST", status_class="2xx",
                 mount="/app") == 1
    assert value(text, "minihttp_requests_total", method="other", status_class="5xx",
                 mount="/app") == 1
    assert value(text, "minihttp_response_bytes_total", mount="/") == 160
    assert value(text, "minihttp_response_bytes_total", mount="/app") == 12
    assert value(text, "minihttp_request_duration_seconds_count", mount="/") == 3
    assert value(text, "minihttp_request_duration_seconds_bucket", mount="/", le="0.001") == 1
    assert value(text, "minihttp_request_duration_seconds_bucket", mount="/", le="0.005") == 3
    assert value(text, "minihttp_request_duration_seconds_bucket", mount="/app",
                 le="10.0") == 1
    assert value(text, "minihttp_request_duration_seconds_bucket", mount="/app",
                 le="+Inf") == 2
    assert value(text, "minihttp_request_duration_seconds_sum", mount="/app") == pytest.approx(
        20.3)


def test_flushes_add_up() -> None:
    """Counts recorded between two scrapes add to what the first scrape showed."""
    metrics = Metrics(lambda: 0.0, multiprocess=False)
    known_traffic(metrics)
    metrics.exposition()[0]
    known_traffic(metrics)
    text = metrics.exposition()[0]
    assert value(text, "minihttp_requests_total", method="GET", status_class="2xx",
                 mount="/") == 4
    assert value(text, "minihttp_request_duration_seconds_count", mount="/app") == 4


def test_bulk_histogram_equals_observe_one_by_one() -> None:
    """The batched histogram gives exactly what prometheus_client's observe() would:
    this pins the library internals _observe_many relies on."""
    durations = [0.0, 0.001, 0.0011, 0.05, 0.7, 9.99, 10.0, 10.5, 1e6, *BUCKETS]
    metrics = Metrics(lambda: 0.0, multiprocess=False)
    registry = CollectorRegistry()
    reference = Histogram("minihttp_request_duration_seconds", "x", ["mount"],
                          registry=registry, buckets=BUCKETS)
    for seconds in durations:
        metrics.record(b"GET", 200, b"", 0, seconds)
        reference.labels("/").observe(seconds)
    ours = {key: v for key, v in samples(metrics.exposition()[0]).items()
            if key[0].startswith("minihttp_request_duration_seconds")
            and not key[0].endswith("_created")}
    theirs = {key: v for key, v in samples(generate_latest(registry)).items()
              if not key[0].endswith("_created")}
    assert ours == pytest.approx(theirs)


class _Response:
    def __init__(self, status: int) -> None:
        self.status, self.bytes_sent = status, 0


def test_refusals_by_reason() -> None:
    """A response with no request (an error page before the head was read) is a refusal;
    every reason shows, at 0 until it happens."""
    metrics = Metrics(lambda: 0.0, multiprocess=False)
    for status in (400, 400, 431, 408):
        metrics.response_completed(None, _Response(status), 0.0)  # type: ignore[arg-type]
    metrics.refused(503)
    text = metrics.exposition()[0]
    assert {reason: value(text, "minihttp_refusals_total", reason=str(reason))
            for reason in REFUSALS} == {400: 2, 408: 1, 413: 0, 414: 0, 431: 1, 503: 1}
    assert value(text, "minihttp_requests_total", method="GET", status_class="4xx",
                 mount="/") == 0


def test_gauges_and_cache_figures_are_read_at_each_scrape() -> None:
    metrics = Metrics(lambda: 0.0, multiprocess=False)
    state: dict[str, Any] = {"connections": 3}
    cache = SimpleNamespace(hits=5, misses=2)
    metrics.gauge_source("connections", lambda: state["connections"])
    metrics.gauge_source("threads_busy", lambda: 1)
    metrics.gauge_source("threads_busy", lambda: 2)  # two WSGI mounts: added up
    metrics.cache_source(b"/static", cache)
    text = metrics.exposition()[0]
    assert value(text, "minihttp_open_connections") == 3
    assert value(text, "minihttp_wsgi_threads_busy") == 3
    assert value(text, "minihttp_static_cache_hits_total", mount="/static") == 5
    state.update(connections=1)
    cache.hits = 9
    text = metrics.exposition()[0]
    assert value(text, "minihttp_open_connections") == 1
    assert value(text, "minihttp_static_cache_hits_total", mount="/static") == 9
    assert value(text, "minihttp_static_cache_misses_total", mount="/static") == 2


def test_page_serves_the_exposition() -> None:
    """GET gives the text format with its content type; HEAD no body; POST 405; below 404."""
    metrics = Metrics(lambda: 0.0, multiprocess=False)
    known_traffic(metrics)
    connection = FakeConnection(MetricsPage(metrics))
    for method, target in ((b"GET", b"/"), (b"HEAD", b"/"), (b"POST", b"/"),
                           (b"GET", b"/deeper")):
        connection.request(method, target)
    get, head, post, deeper = parse_responses(connection.transport.value(),
                                              [b"GET", b"HEAD", b"POST", b"GET"])
    assert get.status == 200
    assert get.headers.get(b"content-type", b"").startswith(b"text/plain; version=0.0.4")
    assert value(get.body, "minihttp_requests_total", method="POST", status_class="2xx",
                 mount="/app") == 1
    assert head.status == 200 and head.body == b""
    assert post.status == 405 and deeper.status == 404


def test_an_accept_prometheus_client_cannot_read_gets_the_text_format() -> None:
    """prometheus_client's choose_encoder raises on a malformed OpenMetrics version: the
    client's header must cost it the format it asked for, not a 500 and a traceback."""
    metrics = Metrics(lambda: 0.0, multiprocess=False)
    connection = FakeConnection(MetricsPage(metrics))
    connection.request(b"GET", b"/", [(b"Accept", b"application/openmetrics-text; version=x")])
    [page] = parse_responses(connection.transport.value())
    assert page.status == 200
    assert page.headers.get(b"content-type", b"").startswith(b"text/plain; version=0.0.4")
