"""Replacing workers on fakes: SIGHUP, a storm of them, a bad config or app, recycling."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.logger import eventAsJSON, formatEvent
from twisted.python.failure import Failure
from twisted.python.usage import UsageError

from twisted_http.serve.listeners import (
    SystemdSocket,
    listen_spec,
    open_listeners,
    systemd_socket,
)
from twisted_http.serve.workers import START_TIMEOUT, WorkerPool

from .support import parse, recorded_log
from .test_workers import LOOPBACK, ProcessReactor, end


def say(spawned: dict[str, Any], what: str) -> None:
    """The worker's log record telling the parent ``what`` ("ready", "recycle")."""
    record = eventAsJSON({"log_format": "said", "minihttp_worker": what, "log_time": 1.0})
    spawned["protocol"].outReceived(("\x1e" + record + "\n").encode())


class Pool:
    def __init__(self, check: Any = None) -> None:
        self.reactor = ProcessReactor()
        self.said: list[str] = []
        self.pool = WorkerPool(["--workers", "2"], "/srv", [LOOPBACK], 2, self.reactor,
                               python="/usr/bin/python3", check=check,
                               on_ready=self.said.append)

    def start(self) -> None:
        self.pool.startService()
        for spawned in self.reactor.spawned:
            say(spawned, "ready")

    def signals(self) -> list[list[str]]:
        return [spawned["transport"].signals for spawned in self.reactor.spawned]


@pytest.fixture
def pool() -> Any:
    made = Pool()
    yield made
    if made.pool.running:
        with recorded_log():
            made.pool.stopService()
    for spawned in made.reactor.spawned:
        if not spawned["protocol"].ended.called:
            end(spawned)


def test_ready_once_every_worker_listens(pool: Pool) -> None:
    pool.pool.startService()
    say(pool.reactor.spawned[0], "ready")
    assert pool.said == []
    say(pool.reactor.spawned[1], "ready")
    assert pool.said == ["READY=1"]


def test_hup_starts_new_workers_and_stops_the_old_once_all_listen(pool: Pool) -> None:
    """New workers on the same sockets; the old ones get SIGTERM only when every new one
    listens, and then drain."""
    pool.start()
    old = pool.reactor.spawned[:]
    with recorded_log():
        pool.pool.restart()
    new = pool.reactor.spawned[2:]
    assert len(new) == 2
    assert [spawned["fds"][3] for spawned in new] == [spawned["fds"][3] for spawned in old]
    say(new[0], "ready")
    assert pool.signals() == [[], [], [], []]
    with recorded_log() as events:
        say(new[1], "ready")
    assert pool.signals() == [["TERM"], ["TERM"], [], []]
    assert pool.pool.pids() == [1002, 1003]
    assert "minihttp restart done: 2 new workers serving" in formatEvent(events[-1])
    assert pool.said == ["READY=1", "RELOADING=1", "READY=1"]
    with recorded_log() as events:
        end(old[0], Failure(ProcessDone(0)))
    assert formatEvent(events[0]) == "minihttp worker 1000 drained and ended (exit code 0)"
    assert len(pool.reactor.spawned) == 4  # a drained worker is not restarted


def test_a_storm_of_hups_ends_with_exactly_n_workers(pool: Pool) -> None:
    """Ten SIGHUPs while one restart runs make one more restart, not ten."""
    pool.start()
    with recorded_log():
        for _ in range(10):
            pool.pool.restart()
        for spawned in pool.reactor.spawned[2:4]:
            say(spawned, "ready")
        pool.reactor.advance(0)
        assert len(pool.reactor.spawned) == 6
        for spawned in pool.reactor.spawned[4:6]:
            say(spawned, "ready")
        pool.reactor.advance(0)
    assert len(pool.reactor.spawned) == 6
    assert pool.pool.pids() == [1004, 1005]
    assert [len(signals) for signals in pool.signals()] == [1, 1, 1, 1, 0, 0]


def test_a_new_worker_that_cannot_start_leaves_the_old_ones_serving(pool: Pool) -> None:
    """An app that no longer imports: the new worker exits before listening, the restart
    is abandoned with the worker's own words, the other new one is stopped."""
    pool.start()
    with recorded_log():
        pool.pool.restart()
    broken = pool.reactor.spawned[2]
    broken["protocol"].errReceived(b"minihttp worker: --wsgi: cannot import 'app'\n")
    with recorded_log() as events:
        end(broken, Failure(ProcessTerminated(exitCode=1)))
    text = [formatEvent(event) for event in events]
    assert ("minihttp restart abandoned: new worker 1002 ended (exit code 1) before listening:"
            " minihttp worker: --wsgi: cannot import 'app'; the old workers keep serving"
            in text)
    assert pool.signals() == [[], [], [], ["TERM"]]
    assert pool.pool.pids() == [1000, 1001]


def test_a_bad_config_on_hup_starts_nothing() -> None:
    def check(argv: list[str]) -> None:
        raise UsageError("--config: minihttp.toml is not valid TOML")

    made = Pool(check)
    made.start()
    with recorded_log() as events:
        made.pool.restart()
    assert len(made.reactor.spawned) == 2
    assert formatEvent(events[0]) == ("minihttp restart refused, the old workers keep serving:"
                                      " --config: minihttp.toml is not valid TOML")
    with recorded_log():
        made.pool.stopService()


def test_new_workers_that_never_listen_are_given_up(pool: Pool) -> None:
    pool.start()
    with recorded_log():
        pool.pool.restart()
    with recorded_log() as events:
        pool.reactor.advance(START_TIMEOUT)
    assert "new workers not listening after 60s" in formatEvent(events[0])
    assert pool.signals() == [[], [], ["TERM"], ["TERM"]]


def test_a_worker_asking_to_be_recycled_is_replaced_alone(pool: Pool) -> None:
    """--max-requests: the worker that asked gets a successor on its socket, then drains."""
    pool.start()
    with recorded_log():
        say(pool.reactor.spawned[1], "recycle")
    assert len(pool.reactor.spawned) == 3
    assert pool.reactor.spawned[2]["fds"][3] == pool.reactor.spawned[1]["fds"][3]
    with recorded_log():
        say(pool.reactor.spawned[2], "ready")
    assert pool.signals() == [[], ["TERM"], []]
    assert pool.pool.pids() == [1000, 1002]


def test_a_worker_killed_while_draining_does_not_hang_the_parent(pool: Pool) -> None:
    """SIGKILL to a draining worker: its end is an end like any other."""
    pool.start()
    with recorded_log():
        done = pool.pool.stopService()
    first, second = pool.reactor.spawned
    end(first, Failure(ProcessDone(0)))
    with recorded_log():
        end(second, Failure(ProcessTerminated(signal=9)))
    assert done.called
    assert pool.reactor.getDelayedCalls() == []


def test_cut_sends_sigterm_again(pool: Pool) -> None:
    pool.start()
    with recorded_log():
        pool.pool.stopService()
    pool.pool.cut()
    assert pool.signals() == [["TERM", "TERM"], ["TERM", "TERM"]]


def test_workers_do_not_get_systemds_variables(pool: Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the parent speaks to systemd; workers get their sockets from the parent."""
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    monkeypatch.setenv("LISTEN_FDS", "1")
    pool.pool.startService()
    env = pool.reactor.spawned[0]["env"]
    assert "NOTIFY_SOCKET" not in env and "LISTEN_FDS" not in env


# -- systemd's sockets ------------------------------------------------------------------------


def test_systemd_endpoint_strings() -> None:
    assert systemd_socket("systemd:domain=INET:index=0") == SystemdSocket(
        socket.AF_INET, 0, None)
    assert systemd_socket("systemd:domain=INET6:name=web") == SystemdSocket(
        socket.AF_INET6, None, "web")
    assert systemd_socket("tcp:80") is None
    for bad in ("systemd:index=0", "systemd:domain=INET", "systemd:domain=INET:index=x",
                "systemd:domain=NOPE:index=0", "systemd:domain=INET:index=0:name=a"):
        with pytest.raises(ValueError):
            systemd_socket(bad)
    assert listen_spec("systemd:domain=INET:index=0") == SystemdSocket(socket.AF_INET, 0, None)


def test_systemd_socket_without_names_is_the_listening_socket_at_its_index() -> None:
    """Without LISTEN_FDNAMES (systemd-socket-activate sets none without --fdname) Twisted
    sees no socket; fd 3 + index is taken if it is a listening socket, and only then."""
    with socket.socket() as listener, socket.socket() as other:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        fds = [os.dup2(listener.fileno(), 1000), os.dup2(other.fileno(), 1001)]
        try:
            assert SystemdSocket(socket.AF_INET, 997, None).fileno() == 1000
            with pytest.raises(ValueError, match="no socket at index 998"):
                SystemdSocket(socket.AF_INET, 998, None).fileno()  # not listening
            with pytest.raises(ValueError, match="no socket at index 997"):
                SystemdSocket(socket.AF_INET6, 997, None).fileno()  # not that family
            with pytest.raises(ValueError, match="no socket named 'web'"):
                SystemdSocket(socket.AF_INET, None, "web").fileno()
        finally:
            for fd in fds:
                os.close(fd)


def test_every_worker_shares_the_socket_systemd_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as passed:
        passed.bind(("127.0.0.1", 0))
        passed.listen()
        spec = SystemdSocket(socket.AF_INET, 0, None)
        monkeypatch.setattr(SystemdSocket, "fileno", lambda self: passed.fileno())
        [first], [second] = open_listeners([spec], 2, reuse_port=True)
        try:
            assert first is second
            assert first.getsockname() == passed.getsockname()
        finally:
            first.close()


def test_workers_accept_a_systemd_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "static").mkdir()
    monkeypatch.chdir(tmp_path)
    settings = parse("--workers", "2", "--port", "systemd:domain=INET:index=0")
    assert settings.pooled and settings.port == ("systemd:domain=INET:index=0",)
    assert listen_spec(settings.port[0]) == SystemdSocket(socket.AF_INET, 0, None)
