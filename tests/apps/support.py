"""What the WSGI tests share: a server around an app on fakes, and a log recorder."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.validate import validator

from twisted.internet.task import Clock
from twisted.logger import LogEvent
from twisted.python.threadpool import ThreadPool

from tests.support import recorded_log  # noqa: F401 - re-exported
from twisted_http import Router, ServerConfig
from twisted_http.testing import FakeConnection, InlineReactor, InlineThreadPool
from twisted_http.wsgi.handler import WSGIHandler

App = Callable[..., Any]


def serve(
    app: App,
    pool: InlineThreadPool | None = None,
    *,
    prefix: str = "/",
    validate: bool = True,
    config: ServerConfig | None = None,
    send_buffer: int | None = None,
    **options: Any,
) -> FakeConnection:
    """A connection to a server running ``app`` (wrapped in wsgiref's validator) on fakes."""
    reactor = InlineReactor()
    handler = WSGIHandler(
        validator(app) if validate else app,
        thread_pool=pool if pool is not None else InlineThreadPool(),
        reactor=reactor,
        **options,
    )
    return FakeConnection(Router([(prefix, handler)]), config, clock=reactor,
                          send_buffer=send_buffer)


@contextmanager
def started_pool(threads: int) -> Iterator[ThreadPool]:
    """A started Twisted thread pool, stopped at the end unless the test stopped it."""
    pool = ThreadPool(minthreads=0, maxthreads=threads, name="test-wsgi")
    pool.start()
    try:
        yield pool
    finally:
        if not pool.joined:
            pool.stop()


def failures(events: list[LogEvent]) -> list[LogEvent]:
    return [event for event in events if "log_failure" in event]


class QueuedReactor(Clock):
    """A reactor fake whose ``callFromThread`` queues, from any thread, until ``run_calls``.

    The test's thread plays the reactor: it runs what app threads handed over,
    as the reactor would on its next turn. Shutdown triggers are recorded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.thread_calls: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        self.triggers: list[tuple[str, str, Callable[[], object]]] = []
        self._arrived = threading.Condition()

    def callFromThread(self, f: Callable[..., object], /, *args: Any) -> None:  # noqa: N802
        with self._arrived:
            self.thread_calls.append((f, args))
            self._arrived.notify_all()

    def addSystemEventTrigger(  # noqa: N802
        self, phase: str, event: str, f: Callable[[], object]
    ) -> None:
        self.triggers.append((phase, event, f))

    def run_calls(self) -> int:
        """Run the calls queued so far (and those they queue); how many ran."""
        ran = 0
        while True:
            with self._arrived:
                calls, self.thread_calls = self.thread_calls, []
            if not calls:
                return ran
            for f, args in calls:
                f(*args)
                ran += 1

    def pump_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Run calls as they arrive until ``condition`` holds; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("gave up waiting")
            with self._arrived:
                if not self.thread_calls:
                    self._arrived.wait(0.001)
            self.run_calls()
