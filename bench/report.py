"""Turns runs into medians, ratios to minihttp, targets, a markdown table and the docs page."""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

from servers import BY_NAME as SERVERS_BY_NAME
from servers import LOG_MODES, LOG_TITLES, SERVERS
from workloads import WORKER_ROWS, WORKLOADS, RunResult, Workload

WORKERS_LABEL = "minihttp --workers 2"
WSGI_ANCHORS = ("gunicorn gthread", "waitress", "cheroot")  # issue 15's WSGI comparison
INPROCESS = {
    "inprocess-keep-alive": "in-process, keep-alive (StringTransport)",
    "inprocess-close": "in-process, one request per connection (StringTransport)",
}


def progress(result: RunResult, workload: Workload) -> str:
    figure = "—" if result.value is None else f"{result.value:,.2f} {workload.unit}"
    if "cpu_ms_per_1k" in result.metrics:
        figure += f", {result.metrics['cpu_ms_per_1k']:.1f} CPU ms/1k"
    flag = f"  FLAGGED: {'; '.join(result.problems)}" if result.problems else ""
    fatal = f"  ERROR: {result.fatal}" if result.fatal else ""
    server = f"{result.server} (log {result.log})"
    return (f"round {result.round} {workload.name:16} {server:30} "
            f"{figure:>36}{flag}{fatal}")


def _rows() -> list[tuple[str, str, str, str, str]]:
    """(row key, workload, metric, title, unit) in table order."""
    rows = []
    for workload in WORKLOADS:
        if workload.idle:
            rows.append((workload.name, workload.name, "value", workload.title, "req/s"))
            rows.append((f"{workload.name}-rss", workload.name, "rss_mib",
                         "server RSS with 1,000 idle connections, under load", "MiB"))
        elif workload.latency:
            for p in ("p50", "p99"):
                rows.append((f"{workload.name}-{p}", workload.name, f"{p}_ms",
                             workload.title.replace("latency", p), "ms"))
        else:
            rows.append((workload.name, workload.name, "value", workload.title, workload.unit))
    for key, title in INPROCESS.items():
        rows.append((key, key, "value", title, "req/s"))
    return rows


def _figure(result: RunResult, metric: str) -> float | None:
    return result.value if metric == "value" else result.metrics.get(metric)


def _cells(runs: list[RunResult], metric: str, order: list[str],
           base_server: str) -> dict[str, dict[str, Any]]:
    cells: dict[str, dict[str, Any]] = {}
    for server in order:
        mine = [r for r in runs if r.server == server]
        if not mine:
            continue
        values = [v for v in (_figure(r, metric) for r in mine) if v is not None]
        cells[server] = {
            "median": statistics.median(values) if values else None,
            "runs": len(mine),
            "flagged": sum(r.flagged for r in mine),
            "errors": sum(r.errors for r in mine),
            "problems": sorted({p for r in mine for p in r.problems}),
            "fatal": sorted({r.fatal for r in mine if r.fatal}),
        }
    base = cells.get(base_server, {}).get("median")
    for cell in cells.values():
        cell["ratio"] = cell["median"] / base if base and cell["median"] else None
    return cells


def _in_mode(result: RunResult, mode: str) -> bool:
    """Whether ``result`` was run the way ``mode`` runs its server."""
    name = "minihttp" if result.server == WORKERS_LABEL else result.server
    server = SERVERS_BY_NAME.get(name)
    return server is not None and server.log_setting(mode) == result.log


def _table(results: list[RunResult], skipped: dict[tuple[str, str], str], mode: str,
           order: list[str]) -> dict[str, Any]:
    rows, cpu_rows = [], []
    for key, workload, metric, title, unit in _rows():
        if workload.startswith("inprocess"):
            continue
        runs = [r for r in results if r.workload == workload and _in_mode(r, mode)]
        notes = {server: reason for (name, server), reason in skipped.items()
                 if name == workload and (server == WORKERS_LABEL or _has_mode(server, mode))}
        if not runs and not notes:
            continue
        row = {"key": key, "title": title, "unit": unit,
               "cells": _cells(runs, metric, order, "minihttp"), "skipped": notes}
        if metric == "value" and any("load_cpu_ms_per_1k" in r.metrics for r in runs):
            row["cpu_cells"] = _cells(runs, "cpu_ms_per_1k", order, "minihttp")
            row["load_cells"] = _cells(runs, "load_cpu_ms_per_1k", order, "minihttp")
        rows.append(row)
        if metric == "value" and any("cpu_ms_per_1k" in r.metrics for r in runs):
            cpu_rows.append({"key": key, "title": title, "unit": "ms",
                             "cells": _cells(runs, "cpu_ms_per_1k", order, "ceiling"),
                             "skipped": notes})
    return {"mode": mode, "title": LOG_TITLES[mode], "rows": rows, "cpu_rows": cpu_rows,
            # A server skipped everywhere (nginx not installed) keeps its column, saying so.
            "columns": [c for c in order if any(
                c in row["cells"] or (c in row["skipped"] and c != WORKERS_LABEL)
                for row in rows)]}


def _has_mode(server: str, mode: str) -> bool:
    known = SERVERS_BY_NAME.get(server)
    return known is not None and known.log_setting(mode) is not None


def build(results: list[RunResult], skipped: dict[tuple[str, str], str],
          machine: dict[str, str], versions: dict[str, str], command: str,
          args: argparse.Namespace, elapsed: float, pinned: bool) -> dict[str, Any]:
    order = ["minihttp", WORKERS_LABEL] + [s.name for s in SERVERS if s.name != "minihttp"]
    modes = list(getattr(args, "logs", None) or LOG_MODES)
    tables = [_table(results, skipped, mode, order) for mode in modes]
    inprocess_rows = []
    for key, title in INPROCESS.items():
        runs = [r for r in results if r.workload == key]
        if runs:
            inprocess_rows.append({"key": key, "title": title, "unit": "req/s",
                                   "cells": _cells(runs, "value", order, "minihttp"),
                                   "skipped": {}})
    data = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": command, "machine": machine, "versions": versions,
        "pinned": pinned, "rounds": args.rounds, "duration": args.duration,
        "latency_rate": args.latency_rate, "elapsed_s": round(elapsed),
        "tables": [t for t in tables if t["rows"]],
        "inprocess": {"rows": inprocess_rows, "columns": [
            c for c in order if any(c in row["cells"] for row in inprocess_rows)]},
        "runs": [dataclasses.asdict(r) for r in results],
    }
    data["targets"] = targets({t["mode"]: t["rows"] for t in tables},
                              {t["mode"]: t["cpu_rows"] for t in tables})
    return data


def _median(rows: list[dict[str, Any]], key: str, server: str) -> float | None:
    for row in rows:
        if row["key"] == key:
            return row["cells"].get(server, {}).get("median")  # type: ignore[no-any-return]
    return None


def targets(by_mode: dict[str, list[dict[str, Any]]],
            cpu_by_mode: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """Issue 15's targets (and issue 6's that still hold), each with what this run measured.
    ``cpu_by_mode``: the server CPU per 1,000 requests, by mode, for the access log's cost."""
    out: list[dict[str, Any]] = []

    def add(text: str, measured: str | None, met: bool | None) -> None:
        out.append({"target": text, "measured": measured or "not measured", "met": met})

    def ratio_target(text: str, mode: str, key: str, other: str | None,
                     at_least: float) -> None:
        rows = by_mode.get(mode, [])
        mine = _median(rows, key, "minihttp")
        if other is None:
            anchors = {s: _median(rows, key, s) for s in WSGI_ANCHORS}
            anchors = {s: v for s, v in anchors.items() if v}
            other = max(anchors, key=lambda s: anchors[s]) if anchors else None
        theirs = _median(rows, key, other) if other else None
        if mine and theirs:
            add(text, f"{mine / theirs:.2f}× {other}", mine / theirs >= at_least)
        else:
            add(text, None, None)

    for mode, label in (("installed", "as installed"), ("off", "logs off")):
        for key, title, other, at_least in (
            ("static-1k", "static 1 KiB keep-alive", "twistd web", 3.0),
            ("static-1k-close", "static 1 KiB new connection", "twistd web", 2.0),
            ("static-1m", "static 1 MiB", "twistd web", 2.0),
            ("wsgi-hello", "WSGI hello, keep-alive", None, 1.5),
            ("wsgi-hello-close", "WSGI hello, new connection each", None, 1.5),
            ("wsgi-stream", "WSGI 1 MiB streamed", None, 1.5),
            ("wsgi-post", "WSGI POST 64 KiB", None, 1.5),
        ):
            whom = other or "the best of gunicorn gthread, waitress, cheroot"
            ratio_target(f"{label}: {title} ≥ {at_least:g}× {whom}", mode, key, other,
                         at_least)
    cpu = cpu_by_mode or {}
    for key, title in (("static-1k", "static 1 KiB keep-alive"),
                       ("wsgi-hello", "WSGI hello, keep-alive")):
        off = _median(by_mode.get("off", []), key, "minihttp")
        off_cpu = _median(cpu.get("off", []), key, "minihttp")
        for mode, label in (("installed", "as installed (log to twistd's log)"),
                            ("on", "with --access-log FILE")):
            on = _median(by_mode.get(mode, []), key, "minihttp")
            on_cpu = _median(cpu.get(mode, []), key, "minihttp")
            # On a shared machine req/s swings between rounds; the server's CPU time per
            # request is the steadier figure, so it decides when it was measured.
            by_cpu = off_cpu / on_cpu if off_cpu and on_cpu else None
            measured = f"{on / off:.2f}× req/s" if on and off else None
            if measured and by_cpu:
                measured += f", {by_cpu:.2f}× by CPU per request"
            ratio = by_cpu or (on / off if on and off else None)
            add(f"{title}: minihttp {label} ≥ 0.9× with --no-access-log", measured,
                None if ratio is None else ratio >= 0.9)
    rows = by_mode.get("installed") or next(iter(by_mode.values()), [])
    mine, theirs = _median(rows, "idle-1000-rss", "minihttp"), _median(
        rows, "idle-1000-rss", "twistd web")
    add("RSS with 1,000 idle connections ≤ twistd web's",
        f"{mine:.0f} MiB vs {theirs:.0f} MiB" if mine and theirs else None,
        (mine <= theirs) if mine and theirs else None)
    under, without = _median(rows, "idle-1000", "minihttp"), _median(rows, "static-1k", "minihttp")
    add("throughput with 1,000 idle connections within 5% of without",
        f"{under / without:.2f}× without" if under and without else None,
        (under >= 0.95 * without) if under and without else None)
    for mode, label in (("installed", "as installed"), ("off", "logs off")):
        rows = by_mode.get(mode, [])
        for workload in WORKER_ROWS:
            two = _median(rows, workload.name, WORKERS_LABEL)
            one = _median(rows, workload.name, "minihttp")
            row = workload.title.split(", `--workers")[0]
            measured = f"{two / one:.2f}×" if two and one else None
            room = _room(rows, workload.name)
            if measured and room:
                measured += f" (room left by wrk: {room:.2f}×)"
            add(f"{label}: `--workers 2` ≥ 1.6× one worker ({row})", measured,
                (two >= 1.6 * one) if two and one else None)
    return out


def _room(rows: list[dict[str, Any]], key: str) -> float | None:
    """The most ``--workers 2`` can give over one worker when wrk shares both cores.

    One pinned worker has a core to itself: it serves 1/s requests a second,
    s being its CPU seconds per request. Two workers and wrk share two cores:
    at most 2/(s + w), w being wrk's CPU per request. The ratio is 2s/(s + w).
    """
    for row in rows:
        if row["key"] == key:
            cells = row.get("load_cells", {}).get("minihttp")
            server = row.get("cpu_cells", {}).get("minihttp")
            if cells and server and cells["median"] and server["median"]:
                s, w = server["median"], cells["median"]
                return 2 * s / (s + w)
    return None


def _number(value: float, unit: str) -> str:
    if unit == "req/s":
        return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"
    if unit == "GB/s":
        return f"{value:.2f} GB/s"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    return f"{value:.2f} ms"


def _grid(rows: list[dict[str, Any]], columns: list[str], note: Callable[[str], str],
          base: str = "minihttp") -> list[str]:
    lines = ["| workload | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for row in rows:
        cells = []
        for column in columns:
            cell = row["cells"].get(column)
            if cell is None:
                reason = row["skipped"].get(column)
                cells.append(f"skipped {note(reason)}" if reason else "")
                continue
            if cell["median"] is None:
                cells.append("error " + " ".join(note(f"{column}: {f}") for f in cell["fatal"]))
                continue
            text = _number(cell["median"], row["unit"])
            if column != base and cell["ratio"] is not None:
                text += f" ({cell['ratio']:.2f}×)"
            if cell["flagged"]:
                detail = "; ".join(cell["problems"] + cell["fatal"])
                text += f" ⚠ {cell['flagged']}/{cell['runs']} runs {note(f'{column}: {detail}')}"
            cells.append(text)
        title = row["title"]
        for reason in (r for c, r in row["skipped"].items() if c not in columns):
            title += f" — n/a: {reason}"
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return lines


def markdown(data: dict[str, Any]) -> str:
    notes: list[str] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    lines: list[str] = []
    for table in data["tables"]:
        lines += [f"### {table['title']}", ""]
        lines += _grid(table["rows"], table["columns"], note)
        lines.append("")
        if table["cpu_rows"]:
            columns = [c for c in table["columns"]
                       if any(c in row["cells"] for row in table["cpu_rows"])]
            lines += [f"Server CPU per 1,000 requests, {table['title'].split(' (')[0]}: "
                      "ms of user + system time of the server's processes (from /proc), "
                      "(ratio) to the ceiling's.", ""]
            lines += _grid(table["cpu_rows"], columns, note, base="ceiling")
            lines.append("")
    if data["inprocess"]["rows"]:
        lines += ["### in-process (no sockets; twisted.web's channel in the twistd web column)",
                  ""]
        lines += _grid(data["inprocess"]["rows"], data["inprocess"]["columns"], note)
        lines.append("")
    lines.append("Medians of interleaved rounds; (ratio) = server / minihttp in the same "
                 "table, so above 1 is faster than minihttp for req/s and GB/s, and larger for "
                 "ms and MiB; in the CPU tables, server / ceiling. Compare only within a table. "
                 "⚠ marks runs with errors or failed checks.")
    if notes:
        lines.append("")
        lines += [f"[{i}] {text}" for i, text in enumerate(notes, 1)]
    lines += ["", "| target (issue 15) | measured | met |", "|---|---|---|"]
    for target in data["targets"]:
        met = {True: "yes", False: "**no**", None: "—"}[target["met"]]
        lines.append(f"| {target['target']} | {target['measured']} | {met} |")
    return "\n".join(lines)
