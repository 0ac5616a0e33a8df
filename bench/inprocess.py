"""In-process figure: minihttp's protocol against twisted.web's, on StringTransport.

No sockets, no reactor: both servers get the same request bytes through
``dataReceived`` on a ``StringTransport``, with a ``Clock`` for their timers,
and answer with the same body. What is left is the HTTP layer itself: parsing,
dispatch, response serialisation. Two workloads:

- keep-alive: N GETs one after another on one connection, each sent once the
  previous response is out (what a keep-alive client such as wrk does);
- close: one GET with ``Connection: close`` per connection, a new protocol and
  transport for each.

Rounds alternate the order of the servers (A B, then B A, ...) and the table
gives medians. Every response is checked afterwards, outside the timed part:
the count, the status and the body length, on both sides; a mismatch fails
the run rather than printing a figure for broken output.

twisted.web is driven through ``Site.buildProtocol``, which is what
``twistd web`` runs: an ``http.HTTPChannel`` inside the small wrapper that
Twisted puts around it for HTTP/2 negotiation.

    .venv/bin/python bench/inprocess.py [--requests N] [--rounds R] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet.address import IPv4Address  # noqa: E402
from twisted.internet.error import ConnectionDone  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402
from zope.interface import implementer  # noqa: E402

import twisted_http  # noqa: E402

BODY = b"Hello, world! minihttp in-process benchmark body.\n"
CONTENT_TYPE = b"text/plain"
CLIENT = IPv4Address("TCP", "127.0.0.1", 40000)
SERVER = IPv4Address("TCP", "127.0.0.1", 8080)

# What a plain client (curl, wrk) sends; the same bytes go to both servers.
KEEP_ALIVE_REQUEST = (
    b"GET /hello HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8080\r\n"
    b"User-Agent: minihttp-bench\r\n"
    b"Accept: */*\r\n"
    b"\r\n"
)
CLOSE_REQUEST = (
    b"GET /hello HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8080\r\n"
    b"User-Agent: minihttp-bench\r\n"
    b"Accept: */*\r\n"
    b"Connection: close\r\n"
    b"\r\n"
)


# -- the two servers --------------------------------------------------------


@implementer(twisted_http.IRequestHandler)
class Hello:
    """minihttp's side: the same body for every request."""

    def handle(self, request: Any, response: Any) -> bool:
        response.send(200, BODY, [(b"Content-Type", CONTENT_TYPE)])
        return True


def minihttp_factory() -> Callable[[], Any]:
    """A function building one connected minihttp protocol per call."""
    clock = Clock()
    config = twisted_http.ServerConfig(access_log=False)
    factory = twisted_http.HTTPFactory(twisted_http.Router([("/", Hello())]), config, clock)
    return factory.buildProtocol  # type: ignore[no-any-return]


def twisted_web_factory() -> Callable[[], Any]:
    """The same for twisted.web: a Site around a leaf Resource, timers on a Clock."""
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    class HelloResource(Resource):
        isLeaf = True  # noqa: N815 - twisted.web reads this name

        def render_GET(self, request: Any) -> bytes:  # noqa: N802 - twisted.web's name
            request.setHeader(b"Content-Type", CONTENT_TYPE)
            return BODY

    site = Site(HelloResource(), reactor=Clock())
    return site.buildProtocol  # type: ignore[no-any-return]


SERVERS: dict[str, Callable[[], Callable[[], Any]]] = {
    "minihttp": minihttp_factory,
    "twisted.web": twisted_web_factory,
}


# -- driving a connection ---------------------------------------------------


def connect(build: Callable[[Any], Any]) -> tuple[Any, StringTransport]:
    protocol = build(CLIENT)
    transport = StringTransport(hostAddress=SERVER, peerAddress=CLIENT)
    protocol.makeConnection(transport)
    return protocol, transport


def run_keep_alive(build: Callable[[Any], Any], requests: int) -> tuple[float, bytes]:
    """Seconds for ``requests`` GETs on one connection, and everything written."""
    protocol, transport = connect(build)
    data = KEEP_ALIVE_REQUEST
    receive = protocol.dataReceived
    start = time.perf_counter()
    for _ in range(requests):
        receive(data)
    elapsed = time.perf_counter() - start
    written = transport.value()
    protocol.connectionLost(Failure(ConnectionDone()))
    return elapsed, written


def run_close(build: Callable[[Any], Any], requests: int) -> tuple[float, bytes]:
    """Seconds for ``requests`` connections of one GET each, and everything written.

    Each connection is set up, fed, and torn down (``connectionLost``) inside
    the timed part: that is the per-connection cost being measured. What each
    wrote is kept aside and joined afterwards.
    """
    outputs: list[bytes] = []
    keep = outputs.append
    data = CLOSE_REQUEST
    done = Failure(ConnectionDone())
    start = time.perf_counter()
    for _ in range(requests):
        protocol = build(CLIENT)
        transport = StringTransport(hostAddress=SERVER, peerAddress=CLIENT)
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        if not transport.disconnecting:
            raise AssertionError("server kept a Connection: close connection open")
        protocol.connectionLost(done)
        keep(transport.value())
    elapsed = time.perf_counter() - start
    return elapsed, b"".join(outputs)


WORKLOADS: dict[str, Callable[[Callable[[Any], Any], int], tuple[float, bytes]]] = {
    "keep-alive": run_keep_alive,
    "close": run_close,
}


# -- checking what came back ------------------------------------------------


@dataclass
class Check:
    """What a stream of responses held: how many, how many bad, and the first problem."""

    responses: int = 0
    bad: int = 0
    problem: str = ""

    def fail(self, problem: str) -> None:
        self.bad += 1
        if not self.problem:
            self.problem = problem


def check_responses(data: bytes, expected: int, body_length: int = len(BODY)) -> Check:
    """Split ``data`` into HTTP/1.x responses; count those not 200 with ``body_length``.

    Content-Length and chunked bodies are both read, so the checker does not
    depend on which framing a server picks.
    """
    check = Check()
    pos, end = 0, len(data)
    while pos < end:
        head_end = data.find(b"\r\n\r\n", pos)
        if head_end < 0:
            check.fail(f"incomplete head at byte {pos}")
            break
        lines = data[pos:head_end].split(b"\r\n")
        pos = head_end + 4
        parts = lines[0].split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        length, chunked = -1, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and value.strip().lower() == b"chunked":
                chunked = True
        if 100 <= status < 200:
            continue
        check.responses += 1
        if chunked:
            got = 0
            while True:
                line_end = data.find(b"\r\n", pos)
                size = int(data[pos:line_end].split(b";")[0], 16)
                pos = line_end + 2 + size + 2
                got += size
                if size == 0:
                    break
        elif length >= 0:
            got = min(length, end - pos)
            pos += length
        else:
            got = end - pos  # close-delimited
            pos = end
        if status != 200:
            check.fail(f"status {status}")
        elif got != body_length:
            check.fail(f"body length {got}, expected {body_length}")
    if check.responses != expected:
        check.fail(f"{check.responses} responses to {expected} requests")
    return check


# -- rounds -----------------------------------------------------------------


def measure(
    servers: Iterable[str], workloads: Iterable[str], requests: int, rounds: int,
    report: Callable[[str], None] = lambda line: None,
) -> dict[str, dict[str, list[float]]]:
    """Requests per second per workload per server, one entry per round.

    Servers alternate order from round to round; one untimed warm-up run per
    server and workload comes first. A run whose responses fail the check
    raises, naming the server, workload and problem.
    """
    names = list(servers)
    builders = {name: SERVERS[name]() for name in names}
    results: dict[str, dict[str, list[float]]] = {}
    for workload in workloads:
        run = WORKLOADS[workload]
        results[workload] = {name: [] for name in names}
        for name in names:
            run(builders[name], min(requests, 500))
        for round_ in range(rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                gc.collect()
                elapsed, written = run(builders[name], requests)
                check = check_responses(written, requests)
                if check.bad:
                    raise RuntimeError(
                        f"{name} {workload}: {check.bad} bad responses, first: {check.problem}"
                    )
                rate = requests / elapsed
                results[workload][name].append(rate)
                report(f"  round {round_ + 1} {workload:10} {name:12} {rate:10,.0f} req/s")
    return results


def table(results: dict[str, dict[str, list[float]]], requests: int, rounds: int) -> str:
    """A markdown table of medians, with the ratio minihttp / twisted.web."""
    lines = [
        "| workload | minihttp req/s | twisted.web req/s | minihttp / twisted.web |",
        "|---|---:|---:|---:|",
    ]
    for workload, per_server in results.items():
        mini = statistics.median(per_server["minihttp"]) if "minihttp" in per_server else None
        web = statistics.median(per_server["twisted.web"]) if "twisted.web" in per_server else None
        ratio = f"{mini / web:.2f}×" if mini and web else "n/a"
        lines.append(
            f"| {workload} | {_fmt(mini)} | {_fmt(web)} | {ratio} |"
        )
    lines.append("")
    lines.append(
        f"{requests:,} requests per run, {rounds} interleaved rounds, medians; "
        f"every response checked (status 200, body {len(BODY)} bytes)."
    )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def medians(results: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {
        workload: {name: statistics.median(rates) for name, rates in per_server.items()}
        for workload, per_server in results.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), action="append",
                        help="only this workload (repeatable)")
    parser.add_argument("--quick", action="store_true", help="2,000 requests, 3 rounds")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every round")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds = 2_000, 3
    workloads = args.workload or list(WORKLOADS)
    report = (lambda line: print(line, file=sys.stderr)) if args.verbose else (lambda line: None)
    results = measure(SERVERS, workloads, args.requests, args.rounds, report)
    if args.json:
        print(json.dumps({"requests": args.requests, "rounds": args.rounds,
                          "runs": results, "medians": medians(results)}, indent=2))
    else:
        print(table(results, args.requests, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
