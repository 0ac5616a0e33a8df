"""The WSGI container's thread hops: the dispatcher's runners, and the batched way back.

Dispatcher tests run real pool threads against a ``Clock`` the test advances;
every wait on a thread is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.python.threadpool import ThreadPool

from twisted_http.wsgi import threads as _wsgi_threads
from twisted_http.wsgi.threads import STALL, Dispatcher, ReactorQueue

from .apps.support import failures, recorded_log, started_pool

WAIT = 10.0  # seconds any single wait on another thread may take before the test fails


class Job:
    """A task that records what happened to it; ``hold`` keeps its thread until released."""

    def __init__(self, hold: bool = False) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.events: list[str] = []
        self.thread: int | None = None
        if not hold:
            self.release.set()

    def run(self) -> None:
        self.thread = threading.get_ident()
        self.events.append("run")
        self.started.set()
        assert self.release.wait(WAIT)

    def expire(self) -> None:
        self.events.append("expire")

    def abort(self) -> None:
        self.events.append("abort")
        self.release.set()


class RecordingPool:
    """A pool that only records what it is asked to run."""

    max = 4

    def __init__(self) -> None:
        self.calls: list[Callable[[], object]] = []

    def callInThread(self, f: Callable[[], object]) -> None:  # noqa: N802
        self.calls.append(f)


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    with started_pool(4) as threads:
        yield threads


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.001)


def test_requests_of_one_turn_ask_the_pool_once_and_run_in_order() -> None:
    """A burst of requests is one call into the pool; one runner takes them oldest first."""
    recording, clock = RecordingPool(), Clock()
    dispatcher = Dispatcher(recording, clock, wait_timeout=30)
    jobs = [Job() for _ in range(3)]
    for job in jobs:
        dispatcher.dispatch(job)
    assert len(recording.calls) == 1
    order: list[int] = []
    for index, job in enumerate(jobs):
        job.started.wait(0)  # not started yet
        job.run = (lambda run, i: lambda: (order.append(i), run())[1])(job.run, index)  # type: ignore[method-assign]
    recording.calls[0]()  # the runner, on this (the reactor's) thread: it drains and returns
    assert order == [0, 1, 2]
    clock.advance(60)
    assert all(job.events == ["run"] for job in jobs)  # taken, so never expired


def one_busy_one_queued(pool: ThreadPool) -> tuple[Clock, Dispatcher, Job, Job]:
    """A runner busy with a request it holds on to, and a second request queued."""
    clock = Clock()
    dispatcher = Dispatcher(pool, clock, wait_timeout=30)
    blocked, waiting = Job(hold=True), Job()
    dispatcher.dispatch(blocked)
    assert blocked.started.wait(WAIT)
    dispatcher.dispatch(waiting)
    return clock, dispatcher, blocked, waiting


def test_an_awake_runner_keeps_taking_requests(pool: ThreadPool) -> None:
    """While a runner is busy, new requests wait for it instead of waking more threads."""
    clock, dispatcher, first, second = one_busy_one_queued(pool)
    clock.advance(0)  # the end of the reactor's turn: a runner is awake and made progress
    assert not second.started.wait(0.05)
    first.release.set()
    assert second.started.wait(WAIT)
    assert first.thread == second.thread


def test_a_stalled_runner_gets_help_after_a_look(pool: ThreadPool) -> None:
    """No request taken for STALL seconds while some wait: another runner is woken."""
    clock, dispatcher, blocked, waiting = one_busy_one_queued(pool)
    clock.advance(0)
    assert not waiting.started.is_set()
    clock.advance(STALL)  # nothing taken since the last look: stalled
    assert waiting.started.wait(WAIT)
    assert waiting.thread != blocked.thread
    blocked.release.set()


def test_a_runner_about_to_wait_for_its_client_hands_on_the_queue(pool: ThreadPool) -> None:
    """blocking() from a runner wakes another for the queue at once, with no look."""
    clock, dispatcher, blocked, waiting = one_busy_one_queued(pool)
    done = threading.Event()
    pool.callInThread(lambda: (dispatcher.blocking(), done.set()))
    assert done.wait(WAIT)
    assert waiting.started.wait(WAIT)
    blocked.release.set()


def test_a_request_no_runner_takes_in_time_expires_and_never_runs() -> None:
    """Past wait_timeout in the queue, the request expires; a runner coming later skips it."""
    recording, clock = RecordingPool(), Clock()
    dispatcher = Dispatcher(recording, clock, wait_timeout=5)
    job = Job()
    dispatcher.dispatch(job)
    clock.advance(0)
    for _ in range(int(5 / STALL) - 10):
        clock.advance(STALL)
    assert job.events == []
    clock.advance(20 * STALL)
    assert job.events == ["expire"]
    recording.calls[0]()
    assert job.events == ["expire"]


def test_stop_lets_idle_runners_go_and_returns_what_is_queued(
    pool: ThreadPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At shutdown idle runners leave at once (not after LINGER), and queued requests are
    handed back for the caller to let go."""
    monkeypatch.setattr(_wsgi_threads, "LINGER", WAIT * 10)
    clock = Clock()
    dispatcher = Dispatcher(pool, clock, wait_timeout=30)
    busy, first, queued = Job(hold=True), Job(), Job()
    dispatcher.dispatch(first)
    assert first.started.wait(WAIT)
    eventually(lambda: dispatcher._idle != [])  # the runner lingers for the next request
    dispatcher.dispatch(busy)
    clock.advance(0)  # the end of the reactor's turn wakes the idle runner
    assert busy.started.wait(WAIT)
    dispatcher.dispatch(queued)
    assert dispatcher.stop() == [queued]
    busy.release.set()
    stopping = threading.Thread(target=pool.stop)
    stopping.start()
    stopping.join(WAIT)
    assert not stopping.is_alive()
    assert queued.events == []


class WakeRecorder:
    """A reactor that records each wakeup (``callFromThread``) and runs nothing."""

    def __init__(self) -> None:
        self.woken: list[Callable[[], object]] = []

    def callFromThread(self, f: Callable[[], object]) -> None:  # noqa: N802
        self.woken.append(f)


def test_reactor_queue_runs_calls_in_order_with_one_wakeup_per_burst() -> None:
    """Calls made while a run is on its way join it: one callFromThread for the burst."""
    reactor = WakeRecorder()
    woken = reactor.woken
    queue = ReactorQueue(reactor)
    seen: list[Any] = []
    for index in range(3):
        queue.callFromThread(seen.append, index)
    assert len(woken) == 1 and seen == []
    woken.pop()()
    assert seen == [0, 1, 2]
    queue.callFromThread(seen.append, 3)  # the queue was emptied: this wakes the reactor again
    assert len(woken) == 1


def test_reactor_queue_logs_a_failing_call_and_runs_the_rest() -> None:
    """One call raising is logged; the calls after it still run."""
    reactor = WakeRecorder()
    woken = reactor.woken
    queue = ReactorQueue(reactor)
    seen: list[str] = []
    queue.callFromThread(lambda: 1 / 0)
    queue.callFromThread(seen.append, "after")
    with recorded_log() as events:
        woken.pop()()
    assert seen == ["after"]
    assert failures(events)[0]["log_failure"].check(ZeroDivisionError)
