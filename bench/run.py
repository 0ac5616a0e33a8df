"""``make bench``: every workload against every server, side by side, in one run.

Installs the anchors (``anchors.py``), starts each server fresh for each run
(``servers.py``), loads it (``workloads.py``), and rotates the order of the
servers from round to round (A B C, then B C A, ...). Prints a markdown table
of medians with each server's ratio to minihttp; writes the raw runs to
``bench/results/latest.json``, and on a full run the table, machine and
versions to ``docs/benchmarks.md`` and a chart to ``docs/benchmarks.png``.

    .venv/bin/python bench/run.py [--quick] [--only WORKLOAD] [--servers A,B]
                                  [--logs installed,off,on] [--rounds N] [--duration S]

Each workload is run in every access-log mode asked for (``--logs``, all three
by default; see ``servers.py``): one table per mode, ratios only within one.
A server whose command is the same in two modes is run once for both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import anchors
import inprocess
import page
import report
from servers import BY_NAME as SERVERS_BY_NAME
from servers import LOAD_CORE, LOG_MODES, SERVERS, Context, Running, ServerFailed
from workloads import KIB, MIB, WORKLOADS, RunResult, Workload, run_one, write_scripts

RESULTS = anchors.BENCH / "results"
DOCS = anchors.ROOT / "docs"
WORKERS_LABEL = "minihttp --workers 2"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [workload.name for workload in WORKLOADS] + ["inprocess"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 1 s runs, 1 round, short in-process run")
    parser.add_argument("--only", action="append", choices=names, metavar="WORKLOAD",
                        help=f"only this workload (repeatable): {', '.join(names)}")
    parser.add_argument("--servers", help="comma-separated servers: "
                        + ", ".join(server.name for server in SERVERS))
    parser.add_argument("--logs", default=",".join(LOG_MODES),
                        help="access-log modes, comma-separated: installed (each server's "
                        "defaults), off, on [all three]")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds [3]")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run [4]")
    parser.add_argument("--latency-rate", type=float, default=1000.0,
                        help="requests per second for the latency row [1000]")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--no-install", action="store_true",
                        help="use only what is already installed")
    parser.add_argument("--docs", action=argparse.BooleanOptionalAction, default=None,
                        help="write docs/benchmarks.md and .png [default: on a full run]")
    args = parser.parse_args(argv)
    args.logs = [mode.strip() for mode in args.logs.split(",") if mode.strip()]
    unknown = [mode for mode in args.logs if mode not in LOG_MODES]
    if unknown or not args.logs:
        parser.error(f"--logs: unknown mode {', '.join(unknown)}; known: {', '.join(LOG_MODES)}")
    if args.quick:
        args.rounds, args.duration = 1, 1.0
    if args.docs is None:
        args.docs = not (args.quick or args.only or args.servers
                         or set(args.logs) != set(LOG_MODES))
    return args


def selected_servers(args: argparse.Namespace) -> list[str]:
    if not args.servers:
        return [server.name for server in SERVERS if not server.optional]
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS_BY_NAME]
    if unknown:
        sys.exit(f"bench: unknown server {', '.join(unknown)}; "
                 f"known: {', '.join(SERVERS_BY_NAME)}")
    return names


def prepare(scratch: Path) -> Path:
    """The served folder: 1 KiB and 1 MiB files, readable by nginx's unprivileged worker."""
    scratch.chmod(0o755)
    www = scratch / "www"
    www.mkdir(mode=0o755)
    (www / "1k.bin").write_bytes(b"k" * KIB)
    (www / "1m.bin").write_bytes(b"m" * MIB)
    for path in www.iterdir():
        path.chmod(0o644)
    return www


def minihttp_options() -> str:
    """``twistd minihttp --help``: which options this minihttp has."""
    done = subprocess.run([str(anchors.PROJECT_BIN / "twistd"), "minihttp", "--help"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout


Entry = tuple[str, int, str]  # column label, workers, how it logs ("default", "off", "file")


def plan(workload: Workload, names: list[str], context: Context, modes: list[str],
         skipped: dict[tuple[str, str], str]) -> list[Entry]:
    """The distinct runs ``workload`` needs for ``modes``, noting what is skipped."""
    if workload.workers:
        if "minihttp" not in names:
            return []
        if not context.minihttp_workers:
            skipped[(workload.name, WORKERS_LABEL)] = "minihttp has no --workers option yet"
            return []
        server = SERVERS_BY_NAME["minihttp"]
        logs = _unique(server.log_setting(mode) for mode in modes)
        return [(label, workers, log) for log in logs
                for label, workers in (("minihttp", 1), (WORKERS_LABEL, 2))]
    entries: list[Entry] = []
    for server in SERVERS:
        if server.name not in names or workload.kind not in server.serves:
            continue
        if workload.servers and server.name not in workload.servers:
            continue
        reason = server.unavailable(context)
        if reason:
            skipped[(workload.name, server.name)] = reason
            continue
        for log in _unique(server.log_setting(mode) for mode in modes):
            if server.name == "minihttp" and log == "file" and not context.minihttp_log_file:
                skipped[(workload.name, server.name)] = "minihttp has no --access-log option yet"
                continue
            entries.append((server.name, 1, log))
    return entries


def _unique(settings: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for setting in settings:
        if setting is not None and setting not in out:
            out.append(setting)
    return out


def run_workload(workload: Workload, entries: list[Entry], context: Context,
                 scripts: dict[str, Path], args: argparse.Namespace) -> list[RunResult]:
    results = []
    for round_ in range(args.rounds):
        shift = round_ % len(entries)
        for label, workers, log in entries[shift:] + entries[:shift]:
            result = RunResult(label, workload.name, round_ + 1, log=log)
            server = SERVERS_BY_NAME["minihttp" if workers > 1 else label]
            running = None
            try:
                running = Running.start(server, context, workload.kind, workers, log)
                run_one(running, context, scripts, workload, args.duration, result,
                        args.latency_rate, workers)
            except ServerFailed as error:
                result.fatal = f"server failed: {error}"
            except OSError as error:
                result.fatal = f"{type(error).__name__}: {error}"
            finally:
                if running is not None:
                    running.stop()
            results.append(result)
            anchors.say(report.progress(result, workload))
    return results


def run_inprocess(args: argparse.Namespace) -> list[RunResult]:
    """The in-process figure, as RunResults: twisted.web's channel in the twistd web column."""
    requests = 2_000 if args.quick else 20_000
    rounds = max(args.rounds, 3) if not args.quick else 1
    measured = inprocess.measure(inprocess.SERVERS, inprocess.WORKLOADS, requests, rounds)
    results = []
    for name, per_server in measured.items():
        for server, rates in per_server.items():
            label = "minihttp" if server == "minihttp" else "twistd web"
            for round_, rate in enumerate(rates, 1):
                results.append(RunResult(label, f"inprocess-{name}", round_, value=rate))
    return results


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": memory,
            "kernel": os.uname().release, "system": os.uname().sysname}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = selected_servers(args)
    only = set(args.only or [])
    workloads = [w for w in WORKLOADS if not only or w.name in only]
    started = time.monotonic()
    if args.no_install:
        tools = {tool: anchors._which(tool) for tool in anchors.SYSTEM_PACKAGES}
        bench_venv = anchors.bench_bin("python").exists()
    else:
        tools = anchors.ensure_system_tools()
        bench_venv = anchors.ensure_bench_venv()
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    if pin:
        os.sched_setaffinity(0, {int(LOAD_CORE)})  # the harness stays off the server's core
    else:
        anchors.say("fewer than two cores (or no taskset): server and load are not pinned")
    results: list[RunResult] = []
    skipped: dict[tuple[str, str], str] = {}
    scratch = Path(tempfile.mkdtemp(prefix="minihttp-bench-"))
    try:
        help_text = minihttp_options()
        context = Context(www=prepare(scratch), scratch=scratch, tools=tools,
                          bench_venv=bench_venv, pin=pin,
                          minihttp_workers="--workers" in help_text,
                          minihttp_log_file="--access-log " in help_text
                          or "--access-log=" in help_text)
        scripts = write_scripts(scratch)
        for workload in workloads:
            entries = plan(workload, names, context, args.logs, skipped)
            if not tools.get("wrk") and not workload.latency:
                for label, _workers, _log in entries:
                    skipped[(workload.name, label)] = "wrk not installed"
                continue
            if entries:
                results += run_workload(workload, entries, context, scripts, args)
        if not only or "inprocess" in only:
            anchors.say("in-process figure (bench/inprocess.py)")
            results += run_inprocess(args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    command = "make bench" if argv is None and not sys.argv[1:] else (
        "bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv))
    data = report.build(results, skipped, machine(), anchors.versions(tools), command, args,
                        time.monotonic() - started, pin)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(data, indent=2))
    text = report.markdown(data)
    print(json.dumps(data, indent=2) if args.json else text)
    if args.docs:
        page.write_docs(data, text, DOCS / "benchmarks.md")
        if bench_venv:
            chart = DOCS / "benchmarks.png"
            subprocess.run([str(anchors.bench_bin("python")), str(anchors.BENCH / "chart.py"),
                            str(RESULTS / "latest.json"), str(chart)], check=False, timeout=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
