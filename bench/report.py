"""Turns runs into medians, ratios to minihttp, targets, a markdown table and the docs page."""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

from servers import SERVERS
from workloads import WORKLOADS, RunResult, Workload

WORKERS_LABEL = "minihttp --workers 2"
PYTHON_ANCHORS = ("twistd web", "gunicorn sync", "gunicorn gthread", "waitress", "cheroot")
INPROCESS = {
    "inprocess-keep-alive": "in-process, keep-alive (StringTransport)",
    "inprocess-close": "in-process, one request per connection (StringTransport)",
}


def progress(result: RunResult, workload: Workload) -> str:
    figure = "—" if result.value is None else f"{result.value:,.2f} {workload.unit}"
    flag = f"  FLAGGED: {'; '.join(result.problems)}" if result.problems else ""
    fatal = f"  ERROR: {result.fatal}" if result.fatal else ""
    return (f"round {result.round} {workload.name:16} {result.server:20} "
            f"{figure:>18}{flag}{fatal}")


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


def build(results: list[RunResult], skipped: dict[tuple[str, str], str],
          machine: dict[str, str], versions: dict[str, str], command: str,
          args: argparse.Namespace, elapsed: float, pinned: bool) -> dict[str, Any]:
    order = ["minihttp", WORKERS_LABEL] + [s.name for s in SERVERS if s.name != "minihttp"]
    rows = []
    for key, workload, metric, title, unit in _rows():
        runs = [r for r in results if r.workload == workload]
        notes = {server: reason for (name, server), reason in skipped.items() if name == workload}
        if not runs and not notes:
            continue
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
        base = cells.get("minihttp", {}).get("median")
        for cell in cells.values():
            cell["ratio"] = cell["median"] / base if base and cell["median"] else None
        rows.append({"key": key, "title": title, "unit": unit, "cells": cells,
                     "skipped": notes})
    data = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": command, "machine": machine, "versions": versions,
        "pinned": pinned, "rounds": args.rounds, "duration": args.duration,
        "latency_rate": args.latency_rate, "elapsed_s": round(elapsed),
        # A server skipped everywhere (nginx not installed) keeps its column, saying so.
        "columns": [c for c in order if any(
            c in row["cells"] or (c in row["skipped"] and c != WORKERS_LABEL) for row in rows)],
        "rows": rows,
        "runs": [dataclasses.asdict(r) for r in results],
    }
    data["targets"] = targets(rows)
    return data


def _median(rows: list[dict[str, Any]], key: str, server: str) -> float | None:
    for row in rows:
        if row["key"] == key:
            return row["cells"].get(server, {}).get("median")  # type: ignore[no-any-return]
    return None


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 6's targets, each with what this run measured."""
    out = []

    def ratio_target(text: str, key: str, other: str | None, at_least: float) -> None:
        mine = _median(rows, key, "minihttp")
        if other is None:
            anchors = {s: _median(rows, key, s) for s in PYTHON_ANCHORS}
            anchors = {s: v for s, v in anchors.items() if v}
            other = max(anchors, key=lambda s: anchors[s]) if anchors else None
        theirs = _median(rows, key, other) if other else None
        if mine and theirs:
            ratio = mine / theirs
            out.append({"target": text, "measured": f"{ratio:.2f}× {other}",
                        "met": ratio >= at_least})
        else:
            out.append({"target": text, "measured": "not measured", "met": None})

    for key, title in (("wsgi-hello", "WSGI hello, keep-alive"),
                       ("wsgi-hello-close", "WSGI hello, new connection each"),
                       ("wsgi-stream", "WSGI 1 MiB streamed"), ("wsgi-post", "WSGI POST 64 KiB")):
        ratio_target(f"{title} ≥ 1.2× the best Python anchor", key, None, 1.2)
    ratio_target("static 1 KiB keep-alive ≥ 4× twistd web", "static-1k", "twistd web", 4.0)
    ratio_target("static 1 MiB ≥ 2× twistd web", "static-1m", "twistd web", 2.0)
    mine, theirs = _median(rows, "idle-1000-rss", "minihttp"), _median(
        rows, "idle-1000-rss", "twistd web")
    out.append({"target": "RSS with 1,000 idle connections ≤ twistd web's",
                "measured": f"{mine:.0f} MiB vs {theirs:.0f} MiB" if mine and theirs
                else "not measured",
                "met": (mine <= theirs) if mine and theirs else None})
    under, without = _median(rows, "idle-1000", "minihttp"), _median(rows, "static-1k", "minihttp")
    out.append({"target": "throughput with 1,000 idle connections within 5% of without",
                "measured": f"{under / without:.2f}× without" if under and without
                else "not measured",
                "met": (under >= 0.95 * without) if under and without else None})
    two, one = _median(rows, "workers", WORKERS_LABEL), _median(rows, "workers", "minihttp")
    out.append({"target": "`--workers 2` ≥ 1.5× one worker",
                "measured": f"{two / one:.2f}×" if two and one else "n/a",
                "met": (two >= 1.5 * one) if two and one else None})
    return out


def _number(value: float, unit: str) -> str:
    if unit == "req/s":
        return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"
    if unit == "GB/s":
        return f"{value:.2f} GB/s"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    return f"{value:.2f} ms"


def markdown(data: dict[str, Any]) -> str:
    columns = data["columns"]
    notes: list[str] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    lines = ["| workload | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for row in data["rows"]:
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
            if column != "minihttp" and cell["ratio"] is not None:
                text += f" ({cell['ratio']:.2f}×)"
            if cell["flagged"]:
                detail = "; ".join(cell["problems"] + cell["fatal"])
                text += f" ⚠ {cell['flagged']}/{cell['runs']} runs {note(f'{column}: {detail}')}"
            cells.append(text)
        title = row["title"]
        for reason in (r for c, r in row["skipped"].items() if c not in columns):
            title += f" — n/a: {reason}"
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Medians of interleaved rounds; (ratio) = server / minihttp, so above 1 is "
                 "faster than minihttp for req/s and GB/s, and larger for ms and MiB. "
                 "⚠ marks runs with errors or failed checks.")
    if notes:
        lines.append("")
        lines += [f"[{i}] {text}" for i, text in enumerate(notes, 1)]
    lines += ["", "| target (issue 6) | measured | met |", "|---|---|---|"]
    for target in data["targets"]:
        met = {True: "yes", False: "**no**", None: "—"}[target["met"]]
        lines.append(f"| {target['target']} | {target['measured']} | {met} |")
    return "\n".join(lines)


def write_docs(data: dict[str, Any], table: str, path: Path) -> None:
    machine, versions = data["machine"], data["versions"]
    server_notes = "\n".join(f"- **{s.name}**: {s.note}" for s in SERVERS if s.note)
    pinning = ("server pinned to core 0 with `taskset`, load generator to core 1"
               if data["pinned"] else "not pinned (fewer than two cores)")
    path.write_text(f"""# Benchmarks

minihttp against Twisted's own `twistd web`, nginx, gunicorn, waitress and cheroot,
and against a ceiling: a bare Twisted reactor writing canned responses. Absolute
numbers drift from machine to machine, and on a shared or virtual machine
single figures move by a fifth from run to run; the ratios within one run are
what to read.

Run it yourself with `make bench` (about a quarter of an hour; it installs the
anchors into `bench/.venv`, and nginx and wrk with apt-get when run as root).
`.venv/bin/python bench/run.py --help` lists the options: `--quick` for a smoke
check, `--only WORKLOAD`, `--servers`, `--rounds`, `--duration`, `--json`.
`.venv/bin/python bench/inprocess.py` gives the in-process figure alone.

## Latest run

{data["date"]}, `{data["command"]}`: {data["rounds"]} rounds of {data["duration"]:g} s runs,
{data["elapsed_s"] // 60} min in all.

- Machine: {machine["cpu"]}, {machine["cores"]} cores, {machine["memory"]},
  {machine["system"]} {machine["kernel"]}; {pinning}.
- Versions: {", ".join(f"{k} {v}" for k, v in versions.items())}.

{table}

![ratios to minihttp](benchmarks.png)

## How it measures

- Every server starts fresh for every run on 127.0.0.1 and an ephemeral port,
  one process, and is stopped by its process group afterwards. Servers rotate
  order from round to round (A B C, then B C A, ...); the table gives medians.
- Load: wrk, one thread, 64 connections (`-H "Connection: close"` for the
  new-connection rows; a Lua script for the POST body). The latency rows use
  `bench/latency.py`, a fixed-rate client (wrk2 is not packaged): 10 keep-alive
  connections sharing {data["latency_rate"]:g} req/s, latency counted from each
  request's scheduled time so stalls are not hidden.
- Checks: a request before and after the load, checked for status and exact body
  length; wrk's connect, read, write, timeout and status ≥ 400 counts; bytes read
  per response against the expected body. Any failure flags the run (⚠).
- The 1,000 idle connections each make one request first, then sit open during
  the load; RSS is the peak of the server's whole process group during the load.
- In-process rows: `bench/inprocess.py`, minihttp's channel against twisted.web's
  `HTTPChannel` (through `Site.buildProtocol`) on `StringTransport`, fed the same
  bytes; twisted.web's figure is in the twistd web column.

{server_notes}

## What makes it fast

Each step landed with its before/after figure and the command that measured
it in its commit message.

- **Parsing**: a head that arrived whole is parsed in one call, not one
  `lineReceived` per line (`HTTPChannel.dataReceived` keeps `LineReceiver`'s
  loop and adds that one step); field names already seen skip their token
  check; only the fields that decide framing are looked at twice.
- **Per-request objects**: `Request`, `RequestHead` and `ConnectionInfo` are
  named tuples (a third of a frozen attrs class's construction time); the
  Date and Server lines are formatted once a second; a head is joined once.
- **Writing**: while the transport holds nothing, a response goes into the
  socket with one `send`, not through Twisted's buffer and a later reactor
  turn (two `epoll_ctl` calls and a poll saved per response); static file
  bodies go out with `sendfile`.
- **Static files**: lookups, validators, headers (`HeaderBlock`, checked
  once) and small files' bytes are cached per mount and checked with a
  `stat` per request, so an edit shows on the next request.
- **WSGI**: requests reach the app threads through one queue that a lingering
  runner drains, the reactor is woken once per batch of calls back, and a
  response's head, chunks and end travel together.
- **Cores**: `--workers N` runs N processes on `SO_REUSEPORT` sockets.

What is left is mostly Twisted's own per-connection and per-turn work: on the
new-connection rows, accepting, setting up and closing a connection (the
transport, its addresses, the poller) costs more than the request itself, and
the ceiling row shows the most any Twisted server can do here.
""")
