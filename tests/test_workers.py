"""--workers: the option, the sockets, the pool's supervision on fakes, and real processes."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.logger import eventAsJSON, eventFromJSON, formatEvent
from twisted.python.failure import Failure
from twisted.python.usage import UsageError

from twisted_http.serve.lifecycle import Server
from twisted_http.serve.listeners import (
    REUSE_PORT_BALANCES,
    CannotListen,
    TCPAddress,
    open_listeners,
    tcp_address,
)
from twisted_http.serve.process import WorkerProcess
from twisted_http.serve.tap import MAX_WORKERS, makeService
from twisted_http.serve.worker import LogPipe, ParentWatch
from twisted_http.serve.workers import KILL_GRACE, RESTART_DELAY, WorkerPool

from .support import (
    MemorySink,
    free_port,
    parse,
    parse_options,
    recorded_log,
    wait_until_serving,
)

ROOT = Path(__file__).parent.parent
LOOPBACK = TCPAddress(socket.AF_INET, "127.0.0.1", 0, 50)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "static").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- the option -------------------------------------------------------------------------------


def test_one_worker_by_default(site: Path) -> None:
    """Without --workers the server is one process, as before: no pool, no addresses."""
    assert parse().workers == 1
    assert isinstance(makeService(parse_options(), Clock()), Server)


def test_workers_keep_the_arguments_and_where_to_run_them(site: Path) -> None:
    """--workers N is parsed with every TCP port's address, the arguments and the directory."""
    argv = ["--workers", "3", "--port", "tcp:8080:interface=127.0.0.1",
            "--port", "tcp6:8081:interface=\\:\\:1:backlog=7", "--static", "static"]
    options = parse_options(*argv)
    pool = makeService(options, Clock())
    assert isinstance(pool, WorkerPool)
    assert pool.workers == 3
    assert pool.addresses == [TCPAddress(socket.AF_INET, "127.0.0.1", 8080, 50),
                              TCPAddress(socket.AF_INET6, "::1", 8081, 7)]
    assert pool.argv == argv
    assert pool.cwd == str(site)


def test_workers_from_the_config_file_and_the_command_line_wins(site: Path) -> None:
    """`workers` is a config file key; --workers on the command line replaces it."""
    (site / "config.toml").write_text("workers = 4\n")
    assert parse("--config", "config.toml").workers == 4
    assert parse("--config", "config.toml", "--workers", "2").workers == 2


@pytest.mark.parametrize(
    ("argv", "config", "message"),
    [
        (["--workers", "two"], "", "--workers takes a whole number, not 'two'"),
        (["--workers", "0"], "", f"--workers must be from 1 to {MAX_WORKERS}, not 0"),
        (["--workers", "2.5"], "", "--workers takes a whole number, not '2.5'"),
        (["--workers", str(MAX_WORKERS + 1)], "",
         f"--workers must be from 1 to {MAX_WORKERS}, not {MAX_WORKERS + 1}"),
        (["--workers", "2", "--port", "unix:/tmp/minihttp.sock"], "",
         "--workers can share TCP ports and systemd sockets only,"
         " not 'unix:/tmp/minihttp.sock'"),
        (["--config", "config.toml"], "workers = -1\n",
         f"config.toml:1: workers must be from 1 to {MAX_WORKERS}, not -1"),
        (["--config", "config.toml"], "\nworkers = 2\nport = 'unix:/tmp/m.sock'\n",
         "config.toml:2: workers can share TCP ports and systemd sockets only,"
         " not 'unix:/tmp/m.sock'"),
    ],
)
def test_workers_mistakes_are_one_line(site: Path, argv: list[str], config: str,
                                       message: str) -> None:
    """A bad worker count, or a port workers cannot share, is one line naming the option."""
    (site / "config.toml").write_text(config)
    with pytest.raises(UsageError) as error:
        parse(*argv)
    assert str(error.value) == message


def test_a_unix_port_is_fine_with_one_worker(site: Path) -> None:
    """Only sharing needs TCP: one worker listens on any endpoint, as before."""
    assert parse("--workers", "1", "--port", "unix:/tmp/minihttp.sock").workers == 1


def test_make_service_with_workers_is_a_pool(site: Path) -> None:
    """makeService with --workers 2 returns the pool, built from the parsed options."""
    options = parse_options("--workers", "2", "--port", "tcp:8080:interface=127.0.0.1")
    pool = makeService(options, Clock())
    assert isinstance(pool, WorkerPool)
    assert (pool.argv, pool.cwd, pool.addresses, pool.workers) == (
        options.argv, str(site), [TCPAddress(socket.AF_INET, "127.0.0.1", 8080, 50)], 2)


# -- the sockets ------------------------------------------------------------------------------


def test_tcp_address_of_other_endpoints_is_none() -> None:
    """Only tcp: and tcp6: endpoint strings have an address workers can share."""
    assert tcp_address("tcp:0") == TCPAddress(socket.AF_INET, "", 0, 50)
    assert tcp_address("unix:/tmp/minihttp.sock") is None


@pytest.mark.skipif(not REUSE_PORT_BALANCES, reason="SO_REUSEPORT balances on Linux only")
def test_each_worker_has_its_own_socket_on_one_port() -> None:
    """With SO_REUSEPORT every worker gets its own listening socket, all on the port the
    first got for tcp:0, one per address in order."""
    slots = open_listeners([LOOPBACK, LOOPBACK], 3, reuse_port=True)
    try:
        assert len(slots) == 3 and all(len(slot) == 2 for slot in slots)
        assert len({id(sock) for slot in slots for sock in slot}) == 6
        for index in (0, 1):
            ports = {slot[index].getsockname()[1] for slot in slots}
            assert len(ports) == 1
        assert slots[0][0].getsockname() != slots[0][1].getsockname()
        assert slots[1][0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
    finally:
        for slot in slots:
            for sock in slot:
                sock.close()


def test_without_reuse_port_every_worker_shares_one_socket() -> None:
    """The portable way: one socket per address, the same object for every worker."""
    slots = open_listeners([LOOPBACK, LOOPBACK], 3, reuse_port=False)
    try:
        for index in (0, 1):
            assert slots[0][index] is slots[1][index] is slots[2][index]
        assert slots[0][0] is not slots[0][1]
    finally:
        for sock in slots[0]:
            sock.close()


def test_a_port_in_use_fails_and_closes_what_was_opened() -> None:
    """A bind that fails raises, and the sockets already opened are closed, not leaked."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = TCPAddress(socket.AF_INET, "127.0.0.1", taken.getsockname()[1], 50)
        before = sorted(os.listdir("/dev/fd"))
        busy = attrs.evolve(busy, description="tcp:busy")
        with pytest.raises(CannotListen) as error:
            open_listeners([LOOPBACK, busy], 2, reuse_port=False)
        assert str(error.value) == "cannot listen on tcp:busy: Address already in use"
        assert sorted(os.listdir("/dev/fd")) == before


# -- the pool, on a fake reactor --------------------------------------------------------------


class FakeTransport:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[str] = []

    def signalProcess(self, name: str) -> None:  # noqa: N802 - IProcessTransport
        self.signals.append(name)


class ProcessReactor(Clock):
    """A Clock that records spawned processes instead of starting them."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[dict[str, Any]] = []

    def spawnProcess(self, protocol: Any, executable: str, args: list[str],  # noqa: N802
                     env: dict[str, str], path: str,
                     childFDs: dict[int, Any]) -> FakeTransport:  # noqa: N803
        transport = FakeTransport(1000 + len(self.spawned))
        self.spawned.append({"protocol": protocol, "executable": executable, "args": args,
                             "env": env, "path": path, "fds": childFDs, "transport": transport})
        protocol.makeConnection(transport)
        return transport


def end(spawned: dict[str, Any], reason: Failure | None = None) -> None:
    spawned["protocol"].processEnded(reason or Failure(ProcessTerminated(signal=9)))


@pytest.fixture
def pool() -> Any:
    reactor = ProcessReactor()
    pool = WorkerPool(["--workers", "2", "--static", "static"], "/srv", [LOOPBACK], 2, reactor,
                      python="/usr/bin/python3", reuse_port=REUSE_PORT_BALANCES)
    yield pool, reactor
    if pool.running:
        pool.stopService()
        for spawned in reactor.spawned:
            if not spawned["protocol"].ended.called:
                end(spawned)


def test_pool_starts_each_worker_with_its_sockets_and_the_arguments(pool: Any) -> None:
    """Each worker is the same Python running the worker module with the same arguments,
    stdin/stdout/stderr pipes, and its listening sockets from fd 3."""
    pool, reactor = pool
    pool.privilegedStartService()
    pool.startService()
    assert len(reactor.spawned) == 2
    for spawned in reactor.spawned:
        assert spawned["executable"] == "/usr/bin/python3"
        assert spawned["args"] == ["/usr/bin/python3", "-m", "twisted_http.serve.worker", "3", "--",
                                   "--workers", "2", "--static", "static"]
        assert spawned["path"] == "/srv"
        fds = spawned["fds"]
        assert {key: fds[key] for key in (0, 1, 2)} == {0: "w", 1: "r", 2: "r"}
        assert socket.socket(fileno=os.dup(fds[3])).getsockname()[0] == "127.0.0.1"
        assert str(ROOT) in spawned["env"]["PYTHONPATH"].split(os.pathsep)
    sockets = {spawned["fds"][3] for spawned in reactor.spawned}
    assert len(sockets) == (2 if REUSE_PORT_BALANCES else 1)
    assert pool.pids() == [1000, 1001]


def test_a_dead_worker_is_restarted_with_a_growing_delay(pool: Any) -> None:
    """A worker that dies is logged and replaced on the same sockets, after 1 s, then 2 s,
    while it keeps dying young; one that lived STABLE_AFTER is back after 0.5 s."""
    pool, reactor = pool
    pool.startService()
    first = reactor.spawned[0]
    with recorded_log() as events:
        end(first)
    assert [formatEvent(event) for event in events] == [
        "minihttp worker 1000 ended (signal 9) after 0.0s; starting another in 1.0s"]
    assert pool.pids() == [1001]
    reactor.advance(0.99)
    assert len(reactor.spawned) == 2
    reactor.advance(0.01)
    assert len(reactor.spawned) == 3
    second = reactor.spawned[2]
    assert second["fds"][3] == first["fds"][3]
    assert pool.pids() == [1002, 1001]

    end(second, Failure(ProcessTerminated(exitCode=3)))
    assert [call.getTime() - reactor.seconds() for call in reactor.getDelayedCalls()] == [2.0]
    reactor.advance(2.0)
    reactor.advance(60)  # the third one runs a while, then dies: the delay starts over
    with recorded_log() as events:
        end(reactor.spawned[3], Failure(ProcessDone(0)))
    assert "exit code 0) after 60.0s; starting another in 0.5s" in formatEvent(events[0])


def test_a_worker_that_cannot_be_spawned_is_retried_later(pool: Any) -> None:
    """spawnProcess failing (no memory, no process slots) is logged and retried with the
    same growing delay, not in a loop."""
    pool, reactor = pool
    spawn = reactor.spawnProcess
    failing = [OSError(11, "Resource temporarily unavailable")] * 2

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failing:
            raise failing.pop()
        return spawn(*args, **kwargs)

    reactor.spawnProcess = flaky
    with recorded_log() as events:
        pool.startService()
    assert "minihttp worker 1 could not start: [Errno 11]" in formatEvent(events[0])
    assert len(reactor.spawned) == 0 and len(reactor.getDelayedCalls()) == 2
    reactor.advance(1.0)
    assert len(reactor.spawned) == 2 and pool.pids() == [1000, 1001]


def test_restart_delays_double_up_to_30_seconds() -> None:
    """The restart delay by number of quick deaths in a row: a crash loop never spins."""
    assert [RESTART_DELAY(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_stopping_terminates_then_kills_and_never_restarts(pool: Any) -> None:
    """stopService: SIGTERM to every worker, SIGKILL to those still running KILL_GRACE after
    the shutdown timeout; its Deferred fires once all have ended, and none is restarted."""
    pool, reactor = pool
    pool.startService()
    first, second = reactor.spawned
    fds = {spawned["fds"][3] for spawned in reactor.spawned}
    with recorded_log():
        done = pool.stopService()
    assert first["transport"].signals == second["transport"].signals == ["TERM"]
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)  # the parent's copies are closed
    end(first, Failure(ProcessDone(0)))
    assert not done.called
    with recorded_log() as events:
        reactor.advance(pool.shutdown_timeout + KILL_GRACE)
    assert first["transport"].signals == ["TERM"]
    assert second["transport"].signals == ["TERM", "KILL"]
    assert "minihttp worker 1001 still running 35s after SIGTERM" in formatEvent(events[0])
    end(second)
    assert done.called
    assert reactor.getDelayedCalls() == [] and len(reactor.spawned) == 2


def test_stopping_cancels_a_pending_restart(pool: Any) -> None:
    """A worker waiting to be restarted when the pool stops is not started."""
    pool, reactor = pool
    pool.startService()
    with recorded_log():
        end(reactor.spawned[0])
        pool.stopService()
    end(reactor.spawned[1])
    reactor.advance(60)
    assert len(reactor.spawned) == 2


def test_worker_log_records_become_events_of_the_parent(pool: Any) -> None:
    """JSON records on a worker's stdout, however split, are re-emitted with the worker's
    process id as their system; stderr lines and stray text are logged as errors."""
    pool, reactor = pool
    pool.startService()
    protocol = reactor.spawned[0]["protocol"]
    record = ("\x1e" + eventAsJSON({"log_format": "hello {who}", "who": "you",
                                    "log_level": None, "log_time": 12.0,
                                    "log_system": "HTTPChannel,1,127.0.0.1"}) + "\n").encode()
    data = record + record.replace(b"hello", b"again") + b"not json\n"
    with recorded_log() as events:
        for index in range(len(data)):
            protocol.outReceived(data[index:index + 1])
        protocol.errReceived(b"Traceback (most recent call last):\n  File")
        protocol.processEnded(Failure(ProcessDone(0)))
    relayed = [(event.get("log_system"), formatEvent(event)) for event in events][:5]
    assert relayed == [
        ("worker 1000 HTTPChannel,1,127.0.0.1", "hello you"),
        ("worker 1000 HTTPChannel,1,127.0.0.1", "again you"),
        ("worker 1000", "not json"),
        ("worker 1000", "Traceback (most recent call last):"),
        ("worker 1000", "  File"),
    ]
    assert events[0]["log_time"] == 12.0


class SilentPool:
    def worker_said(self, process: Any, what: str) -> None:
        pass

    def worker_ended(self, process: Any, reason: Failure) -> None:
        pass


def test_access_lines_from_a_worker_reach_the_parents_log_as_they_are() -> None:
    """A worker's access log batch travels as one record, however the pipe splits it, and
    the parent writes its lines to its own log stream untouched: no event per line. Its
    events around it are still events, and a garbled batch is logged as text."""
    clock, out = Clock(), io.StringIO()
    pipe = LogPipe(clock, out)
    pipe({"log_format": "before", "log_time": 1.0})
    lines = ['127.0.0.1 - - "GET /\\x22 HTTP/1.1" 200 5\n', "\u00e9 second\n"]
    pipe.write_lines(lines)
    pipe({"log_format": "after", "log_time": 2.0})
    clock.advance(0)
    sink = MemorySink()
    protocol = WorkerProcess(SilentPool(), 0, 0.0, access_log=sink)
    protocol.pid = 7
    data = out.getvalue().encode("utf-8") + b"\x1d{not json\n"
    with recorded_log() as events:
        for index in range(len(data)):
            protocol.outReceived(data[index:index + 1])
    assert sink.writes == [lines]
    assert [formatEvent(event) for event in events] == ["before", "after", "\x1d{not json"]


def test_a_batch_of_long_access_lines_reaches_the_parent_whole() -> None:
    """A full batch (256 lines) of what a client can make long (an 8 KiB target and
    headers of quotes, each escaped to four bytes, then JSON-escaped) is far past the
    parent's 1 MiB line limit as one record: it must still arrive as the same lines,
    not be cut and logged as errors."""
    clock, out = Clock(), io.StringIO()
    pipe = LogPipe(clock, out)
    line = '127.0.0.1 - - "GET /' + "\\x22" * 2000 + ' HTTP/1.1" 200 5 "-" "' + (
        "\\x5C" * 2000) + '" 0.000100\n'
    lines = [line] * 256
    pipe.write_lines(lines)
    clock.advance(0)
    sink = MemorySink()
    protocol = WorkerProcess(SilentPool(), 0, 0.0, access_log=sink)
    protocol.pid = 7
    data = out.getvalue().encode("utf-8")
    with recorded_log() as events:
        for index in range(0, len(data), 65536):
            protocol.outReceived(data[index:index + 65536])
    assert [line for batch in sink.writes for line in batch] == lines
    assert events == []


# -- the worker's side --------------------------------------------------------------------------


class ReaderReactor:
    def __init__(self) -> None:
        self.readers: set[Any] = set()

    def addReader(self, reader: Any) -> None:  # noqa: N802
        self.readers.add(reader)

    def removeReader(self, reader: Any) -> None:  # noqa: N802
        self.readers.discard(reader)


def test_parent_watch_fires_once_when_the_pipe_closes() -> None:
    """A worker's watch on its stdin ignores bytes and fires once at end of file, whichever
    way the reactor reports the close."""
    read_end, write_end = os.pipe()
    reactor, calls = ReaderReactor(), []
    watch = ParentWatch(reactor, read_end, lambda: calls.append(1))
    try:
        watch.start()
        assert reactor.readers == {watch}
        os.write(write_end, b"x")
        watch.doRead()
        watch.doRead()  # nothing to read: not end of file either
        assert calls == []
        os.close(write_end)
        watch.doRead()
        assert calls == [1] and reactor.readers == set()
        watch.connectionLost(Failure(Exception("shutdown")))
        assert calls == [1]
    finally:
        os.close(read_end)


class Written(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_log_pipe_writes_once_per_reactor_turn() -> None:
    """A worker's events are JSON records the parent can read back, written together at the
    end of the reactor's turn, or at once when too many are held."""
    clock, out = Clock(), Written()
    pipe = LogPipe(clock, out, most=300)
    for number in range(2):
        pipe({"log_format": "event {number}", "number": number, "log_time": 1.0})
    assert out.writes == 0
    clock.advance(0)
    assert out.writes == 1
    records = out.getvalue().split("\n")
    assert [formatEvent(eventFromJSON(record.lstrip("\x1e"))) for record in records[:2]] == [
        "event 0", "event 1"]
    pipe({"log_format": "x" * 300})
    assert out.writes == 2 and clock.getDelayedCalls() == []


def test_log_pipe_to_a_parent_that_is_gone_drops_the_records() -> None:
    """Writing to a closed pipe is not an error: the worker is about to stop anyway."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as out:
        pipe = LogPipe(Clock(), out)
        pipe({"log_format": "lost"})
        pipe.flush()
        with contextlib.suppress(BrokenPipeError):
            out.close()


# -- real processes ------------------------------------------------------------------------------

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="balance and /proc checks are Linux's")


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def parent_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


def served_by(port: int) -> int:
    """The pid of the worker that answers one request on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/pid", headers={"Connection": "close"})
        response = connection.getresponse()
        assert response.status == 200
        return int(response.read())
    finally:
        connection.close()


def pids_until(port: int, done: Any, seconds: float = 20) -> set[int]:
    """Worker pids seen over new connections until ``done(pids)`` or the time is up."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while not done(seen) and time.monotonic() < deadline:
        seen.add(served_by(port))
    return seen


@pytest.fixture
def server(tmp_path: Path) -> Any:
    """``twistd -n minihttp --workers 2`` with a static folder and the pid app, on loopback.

    Afterwards, it and any worker it started that is still running are killed by pid.
    """
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "hello.txt").write_bytes(b"hello\n")
    port = free_port()
    log = tmp_path / "twistd.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "twistd"), "--nodaemon", "--pidfile=",
         f"--logfile={log}", "minihttp", "--workers", "2", "--port",
         f"tcp:{port}:interface=127.0.0.1", "--static", str(tmp_path / "site"),
         "--wsgi", "/pid=tests.apps.worker_pid:app", "--pythonpath", str(ROOT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )
    workers: set[int] = set()
    try:
        wait_until_serving(port, process)
        yield process, port, log, workers
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        for pid in workers:
            if alive(pid) and f"tcp:{port}:" in Path(f"/proc/{pid}/cmdline").read_text():
                os.kill(pid, signal.SIGKILL)


def wait_for(condition: Any, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@linux_only
@pytest.mark.slow
def test_two_workers_serve_restart_and_stop_with_the_parent(server: Any) -> None:
    """Two worker processes, children of twistd, both serve the port; one killed is replaced
    and the port keeps serving; SIGTERM to twistd stops every worker, and twistd exits."""
    process, port, log, workers = server
    first = pids_until(port, lambda seen: len(seen) == 2)
    workers |= first
    assert len(first) == 2 and {parent_of(pid) for pid in first} == {process.pid}
    assert served_by(port) in first

    victim, survivor = sorted(first)
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: not alive(victim))
    now = pids_until(port, lambda seen: len(seen) == 2 and victim not in seen)
    workers |= now
    assert survivor in now and victim not in now and len(now) == 2
    text = log.read_text()
    assert f"minihttp worker {victim} ended (signal 9)" in text

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) in (0, -signal.SIGTERM)  # twistd ends by the signal
    assert not any(alive(pid) for pid in workers)
    text = log.read_text()
    # The access log, by default in twistd's log through the parent, written by the end,
    # as plain lines between twistd's own, as one process writes them.
    assert re.search(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /pid HTTP/1\.1" 200 ', text, re.M), text
    assert "minihttp stopping 2 workers" in text and "Traceback" not in text


@linux_only
@pytest.mark.slow
def test_workers_end_by_themselves_when_the_parent_is_killed(server: Any) -> None:
    """SIGKILL to twistd, which then cannot stop anyone: the workers see their stdin close
    and exit, so none is left serving."""
    process, port, log, workers = server
    workers |= pids_until(port, lambda seen: len(seen) == 2)
    assert len(workers) == 2
    process.kill()
    process.wait(timeout=10)
    assert wait_for(lambda: not any(alive(pid) for pid in workers))
    with pytest.raises(OSError):
        served_by(port)
