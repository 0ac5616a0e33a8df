"""The access log: its formats, nginx's escaping against a corpus of hostile values, and the
batched writer (turns, order, reopen, failures) on a ``Clock``."""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.logger import LogEvent, LogPublisher, formatEvent, textFileLogObserver

from twisted_http.edge.accesslog import (
    AccessEntry,
    CombinedFormat,
    CommonFormat,
    JSONFormat,
    escape,
    formatter,
)
from twisted_http.edge.logfile import (
    PIPE_BUF,
    AccessLog,
    FileSink,
    LoggerSink,
    StreamSink,
    TwistdLogSink,
)

from .support import MemorySink

WHEN = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z


def entry(**changes: object) -> AccessEntry:
    base = AccessEntry(
        time=WHEN, client="127.0.0.1", method=b"GET", target=b"/x?y=1", version=b"HTTP/1.1",
        status=200, size=1024, duration=0.000123, referer=b"http://a/", user_agent=b"curl/8",
    )
    return base._replace(**changes)


def clf_time(when: float = WHEN) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(when))


# Values a client controls, each trying to break a line or a parser.
NASTY = [
    b'"', b"\\", b'\\"', b'a" 200 0 "-" "forged', b"\r\n127.0.0.1 - - [x] \"GET /\" 200 1",
    b"\n", b"\r", b"\x00", b"\x1b[31mred\x1b[0m", b"\x7f", b"\t", b"caf\xc3\xa9",
    b"\xe2\x80\xa8", b"\xc0\xaf", b"\xff\xfe", b"\xed\xa0\x80", b"%22%0d%0a", b"{}", b"}",
    b"\\x22", b"A" * 8192, bytes(range(256)),
]
# A combined line: every quoted field holds no raw quote, and nothing at all is non-printable.
COMBINED = re.compile(
    r'^(\S+) - - \[([^\]]+)\] "((?:[^"\\]|\\x[0-9A-F]{2})*)" (\d{3}) (\d+) '
    r'"((?:[^"\\]|\\x[0-9A-F]{2})*)" "((?:[^"\\]|\\x[0-9A-F]{2})*)" (\d+\.\d{6})\n$'
)


def unescape(text: str) -> bytes:
    return re.sub(rb"\\x([0-9A-F]{2})", lambda m: bytes([int(m[1], 16)]), text.encode("ascii"))


# -- escaping -----------------------------------------------------------------


def test_printable_ascii_is_left_alone() -> None:
    """Plain values are written as they came."""
    assert escape(b"Mozilla/5.0 (X11; Linux) ~!@#$%^&*()[]{}") == (
        "Mozilla/5.0 (X11; Linux) ~!@#$%^&*()[]{}")


@pytest.mark.parametrize(("raw", "written"), [
    (b'"', "\\x22"), (b"\\", "\\x5C"), (b"\r\n", "\\x0D\\x0A"), (b"\x00", "\\x00"),
    (b"\x7f", "\\x7F"), (b"caf\xc3\xa9", "caf\\xC3\\xA9"), (b"a\tb", "a\\x09b"),
])
def test_escapes_as_nginx_does(raw: bytes, written: str) -> None:
    """Quote, backslash, controls and non-ASCII bytes become \\xHH, as nginx writes them."""
    assert escape(raw) == written


@given(st.binary(max_size=200))
def test_escaping_is_printable_and_reversible(raw: bytes) -> None:
    """Any bytes escape to printable ASCII with no quote, and unescape to the same bytes."""
    text = escape(raw)
    assert all(0x20 <= ord(c) <= 0x7E for c in text) and '"' not in text
    assert unescape(text) == raw


# -- the formats --------------------------------------------------------------


def test_combined_line() -> None:
    """combined: CLF, then Referer, User-Agent and the duration."""
    assert CombinedFormat()(entry()) == (
        f'127.0.0.1 - - [{clf_time()}] "GET /x?y=1 HTTP/1.1" 200 1024 '
        '"http://a/" "curl/8" 0.000123\n'
    )


def test_common_line() -> None:
    """common: the NCSA Common Log Format, nothing more."""
    line = CommonFormat()(entry())
    assert line == f'127.0.0.1 - - [{clf_time()}] "GET /x?y=1 HTTP/1.1" 200 1024\n'


def test_missing_fields_are_dashes() -> None:
    """No Referer, no User-Agent, a UNIX socket's client, an unreadable request: '-'."""
    line = CombinedFormat()(entry(client=None, referer=None, user_agent=b"", method=b"",
                                  status=400, size=0))
    assert line == f'- - - [{clf_time()}] "-" 400 0 "-" "-" 0.000123\n'


def test_the_time_is_formatted_anew_each_second() -> None:
    """The cached time text follows the clock from one second to the next."""
    format = CommonFormat()
    assert clf_time(WHEN) in format(entry())
    assert clf_time(WHEN + 1) in format(entry(time=WHEN + 1))


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("field", ["target", "referer", "user_agent", "method"])
def test_a_hostile_field_cannot_forge_or_break_a_combined_line(field: str, value: bytes) -> None:
    """Whatever a client sends, a combined line is one line of the expected shape, and the
    field reads back as the bytes that were sent."""
    if field == "method" and b" " in value:
        pytest.skip("a method is a token: the parser lets no space into one")
    line = CombinedFormat()(entry(**{field: value}))
    assert line.count("\n") == 1 and line.isascii() and line[:-1].isprintable()
    match = COMBINED.match(line)
    assert match is not None, line
    request, referer, agent = match[3], match[6], match[7]
    method, rest = request.split(" ", 1)
    sent = {
        "target": unescape(rest.rsplit(" ", 1)[0]), "method": unescape(method),
        "referer": unescape(referer), "user_agent": unescape(agent),
    }[field]
    assert sent == value


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("field", ["target", "referer", "user_agent", "method"])
def test_a_hostile_field_round_trips_through_json(field: str, value: bytes) -> None:
    """json: one ASCII line that json.loads reads back, the field as text (valid UTF-8) or
    with its other bytes as \\xHH, and the other fields untouched."""
    line = JSONFormat()(entry(**{field: value}))
    assert line.count("\n") == 1 and line.isascii()
    record = json.loads(line)
    assert list(record) == list(JSONFormat.KEYS)
    assert record[field] == value.decode("utf-8", "backslashreplace")
    assert record["status"] == 200 and record["client"] == "127.0.0.1"


def test_json_line() -> None:
    """json: stable keys, numbers as numbers, a missing field as null."""
    record = json.loads(JSONFormat()(entry(referer=None)))
    offset = time.strftime("%z", time.localtime(WHEN))
    assert record == {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(WHEN))
        + f".250{offset[:3]}:{offset[3:]}",
        "client": "127.0.0.1", "method": "GET", "target": "/x?y=1", "version": "HTTP/1.1",
        "status": 200, "bytes": 1024, "duration": 0.000123, "referer": None,
        "user_agent": "curl/8",
    }


@given(st.binary(max_size=100), st.binary(max_size=100), st.binary(max_size=100))
def test_json_always_parses(target: bytes, referer: bytes, agent: bytes) -> None:
    """Any bytes in any field still make one line of valid JSON."""
    line = JSONFormat()(entry(target=target, referer=referer, user_agent=agent))
    assert line.count("\n") == 1
    assert json.loads(line)["user_agent"] == agent.decode("utf-8", "backslashreplace")


def test_unknown_format_is_refused() -> None:
    """A format name that is not one of the three is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="combined, common, json"):
        formatter("apache")


# -- the writer -----------------------------------------------------------------


def numbered(n: int) -> AccessEntry:
    return entry(target=b"/%d" % n)


def common_log(sink: MemorySink, clock: Clock, most: int = 512) -> AccessLog:
    return AccessLog(sink, CommonFormat(), clock, most=most)


def test_lines_wait_at_most_the_delay() -> None:
    """Entries go out together, in order, in one write, ``delay`` after the first came."""
    sink, clock = MemorySink(), Clock()
    log = AccessLog(sink, CommonFormat(), clock, delay=0.1)
    log.log(numbered(0))
    clock.advance(0.05)
    for n in (1, 2):
        log.log(numbered(n))
    clock.advance(0.0499)
    assert sink.writes == []
    clock.advance(0.0001)
    [lines] = sink.writes
    assert [line.split('"')[1] for line in lines] == [f"GET /{n} HTTP/1.1" for n in range(3)]
    clock.advance(1)
    assert len(sink.writes) == 1 and not clock.getDelayedCalls()


def test_many_entries_are_written_without_waiting_for_the_turn() -> None:
    """Once ``most`` entries wait they are written at once; the rest follow after the delay."""
    sink, clock = MemorySink(), Clock()
    log = common_log(sink, clock, most=4)
    for n in range(6):
        log.log(numbered(n))
    assert [len(lines) for lines in sink.writes] == [4]
    clock.advance(1)
    assert [len(lines) for lines in sink.writes] == [4, 2]
    written = [line for lines in sink.writes for line in lines]
    assert written == [CommonFormat()(numbered(n)) for n in range(6)]


def test_flush_and_reopen_write_what_waits_first() -> None:
    """SIGUSR1's reopen writes what waits to the old file before reopening; flush cancels the
    pending delayed write."""
    sink, clock = MemorySink(), Clock()
    log = common_log(sink, clock)
    log.log(numbered(1))
    log.reopen()
    assert len(sink.writes) == 1 and sink.reopened == 1
    assert not clock.getDelayedCalls()
    log.log(numbered(2))
    log.close()
    assert len(sink.writes) == 2 and sink.closed


def test_a_failing_sink_is_reported_once_and_serving_goes_on(
    caplog_events: list[LogEvent],
) -> None:
    """A write error loses that batch, is logged once per run of failures, and raises nothing."""
    sink, clock = MemorySink(), Clock()
    log = common_log(sink, clock)
    sink.fail = OSError(28, "No space left on device")
    for _ in range(2):
        log.log(numbered(1))
        clock.advance(1)
    errors = [e for e in caplog_events if "lost" in formatEvent(e)]
    assert len(errors) == 1
    sink.fail = None
    log.log(numbered(2))
    clock.advance(1)
    assert len(sink.writes) == 1


@pytest.fixture
def caplog_events() -> list[LogEvent]:
    from twisted.logger import globalLogPublisher

    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    yield events  # type: ignore[misc]
    globalLogPublisher.removeObserver(events.append)


def test_file_sink_appends_whole_batches_and_reopens(tmp_path: Path) -> None:
    """The file is appended to (even by another writer meanwhile), and after logrotate's
    rename a reopen sends the next lines to a fresh file at the old path."""
    path = tmp_path / "access.log"
    path.write_text("before\n")
    sink = FileSink(str(path))
    sink.write(["one\n", "two\n"])
    with open(path, "a") as other:
        other.write("other\n")
    sink.write(["three\n"])
    path.rename(tmp_path / "access.log.1")
    sink.write(["four\n"])  # still the renamed file, as logrotate expects until the signal
    sink.reopen()
    sink.write(["five\n"])
    sink.close()
    assert (tmp_path / "access.log.1").read_text() == "before\none\ntwo\nother\nthree\nfour\n"
    assert path.read_text() == "five\n"


def test_stream_sink_cuts_writes_at_line_ends_within_pipe_buf() -> None:
    """On a pipe, each write is at most PIPE_BUF bytes and ends with a whole line."""
    read, write = os.pipe()
    try:
        line = "x" * 99 + "\n"
        count = 3 * PIPE_BUF // len(line)
        StreamSink(write).write([line] * count)
        os.close(write)
        data = b""
        while chunk := os.read(read, 1 << 20):
            data += chunk
    finally:
        os.close(read)
    assert data == (line * count).encode()


def test_stream_sink_write_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pieces written are whole lines, none over PIPE_BUF."""
    sizes: list[bytes] = []
    monkeypatch.setattr(os, "write", lambda fd, data: sizes.append(bytes(data)) or len(data))
    line = "y" * 99 + "\n"
    StreamSink(1).write([line] * (3 * PIPE_BUF // 100))
    assert len(sizes) > 1
    assert all(len(piece) <= PIPE_BUF and piece.endswith(b"\n") for piece in sizes)


def test_logger_sink_emits_one_event_per_line() -> None:
    """twisted.logger gets each line as its own event, text without the newline."""
    events: list[LogEvent] = []
    LoggerSink(events.append).write(["a\n", "b\n"])
    assert [formatEvent(e) for e in events] == ["a", "b"]
    assert {e["log_namespace"] for e in events} == {"minihttp.access"}


def test_twistd_log_sink_writes_batches_straight_to_twistds_stream() -> None:
    """Where twistd logs to a file or stdout (a FileLogObserver), the lines go to that
    stream as they are, one write per batch, and make no log event; elsewhere (syslog,
    a worker's pipe to its parent) they are twisted.logger events."""
    stream, events = io.StringIO(), []
    publisher = LogPublisher(textFileLogObserver(stream), events.append)
    sink = TwistdLogSink(publisher)
    sink.write(["a\n", "b\n"])
    sink.write(["c\n"])
    assert stream.getvalue() == "a\nb\nc\n" and events == []
    elsewhere: list[LogEvent] = []
    TwistdLogSink(LogPublisher(elsewhere.append)).write(["a\n"])
    assert [formatEvent(e) for e in elsewhere] == ["a"]


class Carrier:
    """A log observer that also takes lines as they are, as a worker's pipe to its parent does."""

    def __init__(self) -> None:
        self.events: list[LogEvent] = []
        self.lines: list[list[str]] = []

    def __call__(self, event: LogEvent) -> None:
        self.events.append(event)

    def write_lines(self, lines: list[str]) -> None:
        self.lines.append(lines)


def test_twistd_log_sink_in_a_worker_hands_batches_to_the_pipe() -> None:
    """In a --workers worker, whose only observer carries its log to the parent, a batch
    goes to that observer whole (``write_lines``), not as one event per line."""
    carrier = Carrier()
    sink = TwistdLogSink(LogPublisher(carrier))
    sink.write(["a\n", "b\n"])
    sink.write(["c\n"])
    assert carrier.lines == [["a\n", "b\n"], ["c\n"]] and carrier.events == []


@pytest.mark.parametrize("name", ["combined", "common", "json"])
def test_remembered_values_stay_bounded_however_many_distinct_ones_come(name: str) -> None:
    """A scan with a new target and address each time cannot grow a formatter's memory."""
    from twisted_http.edge.accesslog import _Remembered

    format = formatter(name)
    for n in range(2 * _Remembered.MOST + 1):
        format(AccessEntry(0.0, f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}", b"GET",
                           b"/%d" % n, b"HTTP/1.1", 404, 0, 0.0, b"r%d" % n, b"a%d" % n))
    memos = [value for value in vars(format).values() if isinstance(value, _Remembered)]
    assert len(memos) == 2 and all(len(memo) <= _Remembered.MOST for memo in memos)
