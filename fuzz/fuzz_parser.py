"""Fuzz target for the request parser, fed exactly as HTTPChannel's LineReceiver feeds it.

    make fuzz                      # 60 seconds
    make fuzz FUZZ_SECONDS=3600    # an hour

With atheris installed (``make fuzz`` installs it from PyPI) this is a
coverage-guided libFuzzer run; without it, random mutations of a seed corpus
for the same time. Either way, one input is: a byte choosing the limits (the
defaults or tiny ones, so limits are hit often), two bytes of cut points, and
the stream. The checks:

- the parser raises nothing but ProtocolError (the driver records those);
- every step consumes input (the driver asserts it: a stuck parser hangs a channel);
- how the stream is cut never changes the outcome.

A failing input is written to ``fuzz/crash-*`` (atheris) or printed (fallback).
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests._parser_driver import ParserDriver, feed, split_at  # noqa: E402
from twisted_http import ServerConfig  # noqa: E402

TINY = ServerConfig(max_request_line=64, max_header_line=64, max_head_size=256, max_headers=4,
                    max_body_size=64, max_discard_size=16)
DEFAULT = ServerConfig()

SEEDS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /x?y=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=\"v\"\r\nhello\r\n0\r\nTrailer: t\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    b"GET http://example.com:80/abs HTTP/1.1\r\nHost: example.com\r\n\r\n"
    b"GET /pipelined HTTP/1.1\r\nHost: a\r\n\r\n",
]


def one_input(data: bytes) -> None:
    """Check one fuzz input; raises on any finding."""
    if len(data) < 3:
        return
    config = TINY if data[0] & 1 else DEFAULT
    stream = data[3:]
    cuts = [data[1] * 7 % (len(stream) + 1), data[2] * 13 % (len(stream) + 1)]
    driver = ParserDriver(config)
    for piece in split_at(stream, cuts):
        driver.feed(piece)
    whole = feed([stream], config)
    split = driver.outcome()
    if split.summary() != whole.summary():
        raise AssertionError(f"the cut changed the outcome: {split.summary()!r} "
                             f"!= {whole.summary()!r}")


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One random edit: flip, insert, delete, duplicate or splice a seed."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        at = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif choice == 1:
            data[at:at] = bytes([rng.choice(b"\r\n :;,0fF\t\"\\x-+" + bytes([rng.randrange(256)]))])
        elif choice == 2 and data:
            del data[at:at + rng.randint(1, 8)]
        elif choice == 3 and data:
            start = rng.randrange(len(data))
            data[at:at] = data[start:start + rng.randint(1, 32)]
        elif choice == 4:
            data[at:at] = rng.choice(SEEDS)
        else:
            data[at:at] = rng.choice([b"\r\n", b"0" * rng.randint(1, 40), b"Content-Length: ",
                                      b"Transfer-Encoding: chunked\r\n", b"f" * 17])
    return bytes(data)


def random_run(seconds: float, seed: int = 0) -> int:
    """Mutation fuzzing without atheris: returns how many inputs were checked."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    count = 0
    corpus = [bytes([i % 2, i, 3 * i]) + s for i, s in enumerate(SEEDS)]
    while time.monotonic() < deadline:
        data = mutate(rng, rng.choice(corpus))
        try:
            one_input(data)
        except Exception:
            print(f"finding on input {data!r}", file=sys.stderr)
            raise
        if rng.random() < 0.01 and len(corpus) < 1000:
            corpus.append(data)
        count += 1
    return count


def main() -> None:
    seconds = int(os.environ.get("FUZZ_SECONDS", "60"))
    try:
        import atheris
    except ImportError:
        count = random_run(seconds, seed=int(time.time()))
        print(f"atheris not installed: {count} mutated inputs in {seconds} s, no finding")
        return
    import tempfile

    corpus = Path(tempfile.mkdtemp(prefix="minihttp-fuzz-"))
    for i, seed in enumerate(SEEDS):
        (corpus / f"seed-{i}").write_bytes(bytes([i % 2, i, 3 * i]) + seed)
    args = [sys.argv[0], f"-max_total_time={seconds}", f"-artifact_prefix={ROOT / 'fuzz'}/",
            "-max_len=4096", str(corpus)]
    atheris.instrument_all()
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
