"""The WSGI container's thread hops, both ways, batched.

To the app threads (``Dispatcher``). On one core, every thread woken while
another holds the GIL costs context switches for nothing: it runs, finds the
GIL taken, and sleeps again. So a request does not wake a thread: it joins a
queue, and the reactor wakes one idle "runner" at the end of its turn (a
``callLater(0)``), after every request that arrived in that turn has joined.
A runner is one ``callInThread`` that takes request after request until the
queue stays empty for ``LINGER`` seconds; the pool's own hand-off (a queue, a
condition and a context per call, about ten times the cost of a lock) is paid
once per busy spell, not per request.

One awake runner keeps up with apps that answer at once. One that blocks
must not hold up the rest. When it waits for its client (a request body, a
client slow to read) the container knows, and another runner takes the queue
at once (``blocking``). For anything else (a database, say), while requests
wait the reactor looks again every ``STALL`` seconds, and when no runner took
a request since the last look it wakes another, up to the pool's size. The
same look expires requests that waited ``wait_timeout`` for a thread (503).

Back to the reactor (``ReactorQueue``): every ``callFromThread`` on a real
reactor writes to its waker pipe, a system call that also hands the GIL over
and wakes the reactor thread. A response is several calls, and many finish at
once under load, so calls are queued and only the first after the reactor
last emptied the queue wakes it; the reactor then runs all of them, in order.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from .io import ThreadHop

_log = Logger(namespace="twisted_http.wsgi")

# How long an idle runner waits for the next request before it gives its
# thread back to the pool: long next to the gaps between requests under load
# (well under a millisecond), short enough that a pool shared with other work
# gets its threads back soon, and that stopping the pool (which joins its
# threads) is not held up noticeably.
LINGER = 0.05

# How long requests may wait with no runner taking one before another runner
# is woken: a blocked app holds up the others at most this long, and a busy
# server looks at its queue at most this often.
STALL = 0.002

# Runners when the pool does not say how many threads it has (``max``).
DEFAULT_RUNNERS = 10


class ThreadPool(Protocol):
    def callInThread(  # noqa: N802 - Twisted's name
        self, f: Callable[..., object], /, *args: Any, **kwargs: Any
    ) -> None: ...


class Clock(Protocol):
    def callLater(  # noqa: N802 - Twisted's name
        self, delay: float, f: Callable[..., object], /, *args: Any, **kwargs: Any
    ) -> IDelayedCall: ...

    def seconds(self) -> float: ...


class Task(Protocol):
    """A request for an app thread: exactly one of its methods is called."""

    def run(self) -> None:
        """On a runner: the whole exchange. Never raises (but BaseExceptions)."""

    def expire(self) -> None:
        """On the reactor: no thread took it within the wait timeout."""

    def abort(self) -> None:
        """On the reactor, shutting down: let go of the client, and of the thread if running."""


class Dispatcher:
    """Runs tasks on a thread pool, oldest first. Methods say which thread they run on."""

    def __init__(self, pool: ThreadPool, clock: Clock, wait_timeout: float) -> None:
        self._pool = pool
        self._clock = clock
        self._wait_timeout = wait_timeout
        self._max_runners = int(getattr(pool, "max", DEFAULT_RUNNERS) or DEFAULT_RUNNERS)
        self._reactor_thread: int | None = None
        self._look_call: IDelayedCall | None = None
        self._seen_taken = -1  # ``_taken`` at the last look
        # Shared with the runners, under _lock.
        self._lock = threading.Lock()
        self._queue: deque[tuple[float, Task]] = deque()  # (time queued, task)
        self._runners = 0  # runners asked of the pool and not yet returned
        self._awake = 0  # ... of which not idle
        self._idle: list[threading.Lock] = []  # each idle runner waits on its own lock
        self._taken = 0  # tasks taken by runners, ever: the progress the looks compare
        self._stopping = False
        self.expired = 0  # tasks that waited past wait_timeout, ever (each got 503)

    # -- the reactor's side ---------------------------------------------------

    @property
    def queued(self) -> int:
        """Requests waiting for a thread now (for metrics: a snapshot, read without the lock)."""
        return len(self._queue)

    def dispatch(self, task: Task) -> None:
        """Queue ``task``. With no runner at all, ask the pool for one now; else look soon."""
        self._reactor_thread = threading.get_ident()
        with self._lock:
            self._queue.append((self._clock.seconds(), task))
            spawn = self._runners == 0
            if spawn:
                self._runners = self._awake = 1
        if spawn:
            self._pool.callInThread(self._drain)
        if self._look_call is None and self._queue:
            self._look_call = self._clock.callLater(0, self._look)

    def stop(self) -> list[Task]:
        """Let idle runners go at once (the reactor is shutting down and joins the pool).

        Returns the tasks still queued, which no runner will take now.
        """
        with self._lock:
            self._stopping = True
            idle, self._idle = self._idle, []
            self._awake += len(idle)
            queued = [task for _, task in self._queue]
            self._queue.clear()
        for waiter in idle:
            waiter.release()
        return queued

    def _look(self) -> None:
        """Expire overdue tasks; wake a runner if none is awake or none made progress."""
        self._look_call = None
        expired = []
        deadline = self._clock.seconds() - self._wait_timeout
        spawn = False
        with self._lock:
            queue = self._queue
            while queue and queue[0][0] <= deadline:
                expired.append(queue.popleft()[1])
            stalled = self._awake == 0 or self._taken == self._seen_taken
            self._seen_taken = self._taken
            if queue and stalled:
                if self._idle:
                    self._idle.pop().release()
                    self._awake += 1
                elif self._runners < self._max_runners:
                    self._runners += 1
                    self._awake += 1
                    spawn = True
            waiting = bool(queue)
        if spawn:
            self._pool.callInThread(self._drain)
        if waiting:
            self._look_call = self._clock.callLater(STALL, self._look)
        self.expired += len(expired)
        for task in expired:
            task.expire()

    # -- the runners' (pool threads') side -------------------------------------

    def blocking(self) -> None:
        """A runner is about to wait for its client: another takes the queue, if it holds any.

        What the container itself waits on (a request body, a client slow to
        read) is known: it need not wait for a look to see the stall.
        """
        with self._lock:
            if not self._queue:
                return
            if self._idle:
                self._idle.pop().release()
                self._awake += 1
                return
            if self._runners >= self._max_runners:
                return
            self._runners += 1
            self._awake += 1
        self._pool.callInThread(self._drain)

    def _drain(self) -> None:
        """Run queued tasks until there are none for LINGER seconds."""
        on_reactor = threading.get_ident() == self._reactor_thread  # a synchronous fake pool
        waiter: threading.Lock | None = None
        while True:
            with self._lock:
                if waiter is not None:
                    lingered = waiter in self._idle  # else a look woke it (and counted it)
                    if lingered:
                        self._idle.remove(waiter)
                        self._awake += 1
                    waiter = None
                else:
                    lingered = False
                if self._queue:
                    task = self._queue.popleft()[1]
                    self._taken += 1
                elif on_reactor or self._stopping or lingered:
                    self._runners -= 1
                    self._awake -= 1
                    return
                else:
                    waiter = threading.Lock()
                    waiter.acquire()
                    self._idle.append(waiter)
                    self._awake -= 1
            if waiter is not None:
                waiter.acquire(timeout=LINGER)
                continue
            try:
                task.run()
            except BaseException:  # never an Exception: KeyboardInterrupt and the like
                with self._lock:
                    self._runners -= 1
                    self._awake -= 1
                raise


class ReactorQueue:
    """A ``ThreadHop`` that batches: calls run on the reactor in the order they were made."""

    def __init__(self, reactor: ThreadHop) -> None:
        self._reactor = reactor
        self._lock = threading.Lock()
        self._calls: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        self._scheduled = False  # a run is on its way to the reactor

    def callFromThread(  # noqa: N802 - the ThreadHop protocol is Twisted's
        self, f: Callable[..., object], /, *args: Any
    ) -> None:
        with self._lock:
            self._calls.append((f, args))
            if self._scheduled:
                return
            self._scheduled = True
        self._reactor.callFromThread(self._run)

    def _run(self) -> None:
        """On the reactor: everything queued so far; a call raising does not stop the rest."""
        with self._lock:
            calls, self._calls = self._calls, []
            self._scheduled = False
        for f, args in calls:
            try:
                f(*args)
            except Exception:
                _log.failure("A call from a WSGI thread failed on the reactor")
