"""docs/benchmarks.md: the page around a run's table (``report.markdown``), with the
machine, the versions, the command, how it measures and what limits the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servers import SERVERS


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

Run it yourself with `make bench` (about {max(1, data["elapsed_s"] // 60)} minutes here; it
installs the anchors into `bench/.venv`, and nginx and wrk with apt-get when run as root).
`.venv/bin/python bench/run.py --help` lists the options: `--quick` for a smoke
check, `--only WORKLOAD`, `--servers`, `--logs`, `--rounds`, `--duration`, `--json`.
`.venv/bin/python bench/inprocess.py` gives the in-process figure alone.

Every server is measured three ways, one table each, and ratios are only
read within a table: **as installed** (each server's own defaults: minihttp
and `twistd web` log every request to where twistd logs, stdout under
`twistd -n`; nginx's packaged config logs to a file; gunicorn's default has no
access log; waitress and cheroot have none), **access logs off** everywhere,
and **access logs on** everywhere, to a file (`--access-log FILE`,
`twistd web --logfile FILE`, nginx `access_log`, gunicorn `--access-logfile`;
waitress and cheroot have no access log and are left out). Each table has a
CPU companion: the server's CPU time per 1,000 requests (user + system, from
`/proc/PID/stat`, all its processes), with its ratio to the ceiling's, which
is steadier than req/s on a shared machine.

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
- The `--workers 2` / 1 worker rows run minihttp once with one worker (pinned
  to core 0, wrk on core 1) and once with `--workers 2` (cores 0-1, wrk not
  pinned, so the two workers and wrk share both cores). With wrk on the same
  cores, two workers can reach at most 2s/(s + w) of one worker, s being one
  worker's CPU per request and w wrk's (measured for every run, from
  `getrusage` of the reaped wrk): the targets table gives that bound as the
  room left by wrk, next to the ratio.

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
- **Cores**: `--workers N` runs N processes on `SO_REUSEPORT` sockets (one
  per worker: the kernel spreads connections evenly; the two workers' CPU
  split within 10% on every row). A worker's default access log reaches the
  parent as one record per batch of lines, which the parent writes to its log
  unparsed: relayed as one log event per line, it cost the parent more per
  request than the workers spent serving it, and `--workers 2` as installed
  was 0.6× one worker.
- **Access log**: entries are gathered and written in batches (256 lines or
  0.1 s), straight into the file or twistd's own stream.

## What limits the rest

Profiles with py-spy (`py-spy record --threads` on the serving process under
wrk, one worker pinned), and the server's user and system time from `/proc`:

- **New connection each** (static and WSGI): accepting, setting up and closing
  a connection costs more than the request. In the reactor thread, Twisted's
  `Port.doRead` (accept, the transport, its addresses) is about 10% of the
  samples, its close (`connectionLost`, `shutdown`, `close`, the poller) about
  14%, and the extra reactor turn `loseConnection` takes to close about 5%;
  system time is a third of the server's CPU. The ceiling row, a bare Twisted
  reactor with no HTTP at all, shows how little room is left on these rows.
  minihttp's own per-connection work (the channel, its deadlines, its
  `ConnectionInfo`) is about a tenth.
- **WSGI 1 MiB streamed** and **POST 64 KiB**: the bytes. Three quarters of
  the server's CPU on the stream row is system time (copying 1 MiB through the
  loopback and its TCP work), the same for every server; minihttp's Python per
  64 KiB chunk is small next to it, so no Python server can be much ahead of
  another here.
- **WSGI thread hand-offs, one worker on one core**: they cost nothing
  measurable. Running the app on the reactor thread instead (a test build)
  gave the same CPU per request (47-49 against 48-50 ms per 1,000 on WSGI
  hello keep-alive). Requests reach a lingering runner through one queue and
  the reactor is woken once per batch: about one thread wakeup per 30 to 60
  requests under load. The default ten threads are more than this app uses
  (`--threads 32` changed nothing on the stream row).
- **`--workers 2` on the WSGI rows: the GIL across cores.** Static 1 KiB
  keep-alive reaches the room wrk leaves (1.39× to 1.52× one worker against a
  room of 1.40× to 1.46×, quiet machine), WSGI hello keep-alive does not
  (1.06×, room 1.57×; 64-66 CPU ms per 1,000 requests against 41-46 for one
  worker). With two cores open to each worker, its reactor thread and its
  app thread run at once on different cores and hand the GIL back and forth
  at every system call the reactor makes (the convoy effect): about 0.2 to
  0.3 involuntary context switches per request against 0.05, and a core left
  partly idle. The same test build without the app thread gives 29.8k to
  36.8k requests a second with two workers against 19.6k to 23.2k with one
  (1.5× to 1.6×). Pinning each worker with its threads to one core helps WSGI
  (23k to 24k against 21k) but costs static 1 KiB a fifth (28k to 32k against
  37k to 39k, since wrk shares those cores), so it is not a default. Left to
  do: keep a worker's app threads from contending with its reactor on another
  core (an affinity option, or running apps declared non-blocking on the
  reactor thread).
- **`--workers 2` as installed**: the default access log crosses to the
  parent in one record per batch; with it, static 1 KiB reached 1.18× one
  worker in a first run on 2026-12-07 (14:10) and 1.40× in the run above,
  against 1.50× and 1.55× with logs off. What the relay still costs (the
  pipe, the parent's read and write) is not profiled yet; `--access-log
  FILE`, which each worker appends to directly, is the cheaper choice.
""")
