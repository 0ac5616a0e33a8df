"""A small fixed-rate HTTP/1.1 client for latency percentiles (wrk2 is not packaged).

``connections`` keep-alive connections share a fixed request rate; each sends
its next request at its scheduled time, or at once if the previous answer came
late, and latency is counted from the scheduled time, so a stall shows up in
the percentiles instead of hiding behind a slower send rate (coordinated
omission). Every response is checked: status 200 and the expected body length.

    python bench/latency.py PORT PATH BODY_LENGTH [--rate R] [--duration S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    problem: str = ""

    def fail(self, problem: str) -> None:
        self.errors += 1
        self.problem = self.problem or problem


async def _connection(port: int, request: bytes, body_length: int, first: float,
                      interval: float, end: float, outcome: Outcome) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        scheduled = first
        while scheduled < end:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            outcome.latencies.append(time.perf_counter() - scheduled)
            if status != 200 or length != body_length:
                outcome.fail(f"status {status}, body {length} bytes")
            scheduled += interval
    finally:
        writer.close()


async def measure(port: int, path: str, body_length: int, rate: float, duration: float,
                  connections: int = 10) -> dict[str, float | int | str]:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").encode()
    outcome = Outcome()
    interval = connections / rate
    start = time.perf_counter() + 0.1
    end = start + duration
    tasks = [
        _connection(port, request, body_length, start + i * interval / connections, interval,
                    end, outcome)
        for i in range(connections)
    ]
    try:
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True),
                                         duration + 30)
    except TimeoutError:
        outcome.fail("timed out")
        results = []
    for result in results:
        if isinstance(result, BaseException):
            outcome.fail(f"{type(result).__name__}: {result}")
    ordered = sorted(outcome.latencies)

    def percentile(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else 0.0

    return {"requests": len(ordered), "errors": outcome.errors, "problem": outcome.problem,
            "p50_ms": percentile(0.50), "p99_ms": percentile(0.99),
            "rate": len(ordered) / duration}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("body_length", type=int)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    result = asyncio.run(measure(args.port, args.path, args.body_length, args.rate,
                                 args.duration, args.connections))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
