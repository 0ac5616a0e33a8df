"""The in-process benchmark's request bytes, drivers and checker work (no timing asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


inprocess = _load("inprocess")


@pytest.mark.parametrize("server", sorted(inprocess.SERVERS))
@pytest.mark.parametrize("workload", sorted(inprocess.WORKLOADS))
def test_every_server_answers_every_workload(server: str, workload: str) -> None:
    """Five requests through each server give five checked 200s with the body."""
    build = inprocess.SERVERS[server]()
    _elapsed, written = inprocess.WORKLOADS[workload](build, 5)
    check = inprocess.check_responses(written, 5)
    assert (check.responses, check.bad, check.problem) == (5, 0, "")


def test_checker_counts_bad_status_and_length() -> None:
    """A 404, a short body and a missing response are each reported."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc"
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"
    assert inprocess.check_responses(ok + ok, 2, body_length=3).bad == 0
    check = inprocess.check_responses(ok + missing + short, 4, body_length=3)
    assert check.bad == 3
    assert check.problem == "status 404"


def test_checker_reads_chunked_bodies() -> None:
    """A chunked response counts its de-chunked length."""
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
    check = inprocess.check_responses(chunked, 1, body_length=3)
    assert (check.responses, check.bad) == (1, 0)


def test_measure_gives_a_table() -> None:
    """A tiny run yields one rate per round and a table with the ratio column."""
    results = inprocess.measure(inprocess.SERVERS, ["keep-alive"], requests=3, rounds=2)
    assert [len(rates) for rates in results["keep-alive"].values()] == [2, 2]
    assert "minihttp / twisted.web" in inprocess.table(results, 3, 2)


def _report_and_result() -> tuple[Any, Any]:
    """bench/report.py, and the RunResult of bench/workloads.py it imports."""
    sys.path.insert(0, str(BENCH))
    try:
        return _load("report"), sys.modules["workloads"].RunResult
    finally:
        sys.path.remove(str(BENCH))


def test_report_gives_ratios_errors_and_skips() -> None:
    """The harness's table: medians, ratios to minihttp, a failed cell, a skipped one."""
    import argparse

    report, result = _report_and_result()
    runs = [
        result("minihttp", "static-1k", 1, value=2000.0),
        result("minihttp", "static-1k", 2, value=3000.0),
        result("twistd web", "static-1k", 1, value=1000.0),
        result("twistd web", "static-1k", 2, value=1000.0, errors=2, problems=["2 read errors"]),
        result("ceiling", "static-1k", 1, fatal="server failed: exited with 1"),
    ]
    skipped = {("static-1k", "nginx"): "nginx not installed"}
    args = argparse.Namespace(rounds=2, duration=1.0, latency_rate=1000.0, logs=["off"])
    data = report.build(runs, skipped, {}, {}, "test", args, 0.0, False)
    [table] = data["tables"]
    cells = table["rows"][0]["cells"]
    assert cells["minihttp"]["median"] == 2500.0
    assert cells["twistd web"]["ratio"] == 0.4
    assert cells["twistd web"]["flagged"] == 1
    text = report.markdown(data)
    assert "1.0k (0.40×) ⚠ 1/2 runs" in text
    assert "skipped [" in text and "nginx not installed" in text
    assert "ceiling: server failed: exited with 1" in text


def test_report_gives_one_table_per_log_mode() -> None:
    """A run is shown in each table whose mode runs its server that way: minihttp's default
    log only as installed, gunicorn's (no log by default) both as installed and logs off;
    the CPU table gives ratios to the ceiling; the access log's cost is judged by CPU."""
    import argparse

    report, result = _report_and_result()
    runs = [
        result("minihttp", "wsgi-hello", 1, log="default", value=900.0,
               metrics={"cpu_ms_per_1k": 60.0}),
        result("minihttp", "wsgi-hello", 1, log="off", value=1000.0,
               metrics={"cpu_ms_per_1k": 50.0}),
        result("gunicorn gthread", "wsgi-hello", 1, log="off", value=500.0),
        result("ceiling", "wsgi-hello", 1, log="off", value=4000.0,
               metrics={"cpu_ms_per_1k": 20.0}),
    ]
    args = argparse.Namespace(rounds=1, duration=1.0, latency_rate=1000.0,
                              logs=["installed", "off"])
    data = report.build(runs, {}, {}, {}, "test", args, 0.0, False)
    installed, off = data["tables"]
    assert installed["rows"][0]["cells"]["minihttp"]["median"] == 900.0
    assert off["rows"][0]["cells"]["minihttp"]["median"] == 1000.0
    for table in (installed, off):
        assert table["rows"][0]["cells"]["gunicorn gthread"]["median"] == 500.0
    assert installed["cpu_rows"][0]["cells"]["minihttp"]["ratio"] == 3.0
    # The access log's cost: req/s, and the steadier CPU per request, which decides.
    installed_log, file_log = [t for t in data["targets"]
                               if t["target"].startswith("WSGI hello, keep-alive: minihttp")]
    assert "as installed" in installed_log["target"] and "FILE" in file_log["target"]
    assert (installed_log["measured"], installed_log["met"]) == (
        "0.90× req/s, 0.83× by CPU per request", False)
    assert (file_log["measured"], file_log["met"]) == ("not measured", None)
    assert "### as installed" in report.markdown(data)
