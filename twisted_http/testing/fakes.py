"""Reactor and thread-pool fakes for the WSGI container: everything runs at once, or on
``run()``, on the test's own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec

from twisted.internet.task import Clock

P = ParamSpec("P")


class InlineReactor(Clock):
    """A reactor fake for WSGI tests: ``callFromThread`` runs the call at once.

    It is a ``Clock`` too, so timers (the WSGI send timeout) move with ``advance``.
    Give it to ``WSGIHandler(app, thread_pool=..., reactor=InlineReactor())``.
    """

    def callFromThread(  # noqa: N802 - Twisted's name
        self, f: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        f(*args, **kwargs)


class InlineThreadPool:
    """A thread pool fake: ``callInThread`` runs the call at once, on the caller's thread.

    A call made while another runs waits for it to return (no deep recursion).
    An app that reads a request body cannot run here: it would run before the
    body is read from the connection; use ``QueuedThreadPool`` for those.
    """

    def __init__(self) -> None:
        self._queue: list[Callable[[], object]] = []
        self._running = False

    def callInThread(  # noqa: N802 - Twisted's name
        self, f: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        self._queue.append(lambda: f(*args, **kwargs))
        if not self._running:
            self.run()

    def run(self) -> None:
        """Run every queued call, and those they queue, in order."""
        self._running = True
        try:
            while self._queue:
                self._queue.pop(0)()
        finally:
            self._running = False


class QueuedThreadPool(InlineThreadPool):
    """A thread pool fake whose calls wait for ``run()``.

    Send the whole request first, then ``run()``: the app then finds its body
    waiting, as if a thread had picked the request up a moment later.
    """

    def callInThread(  # noqa: N802 - Twisted's name
        self, f: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        self._queue.append(lambda: f(*args, **kwargs))

    @property
    def pending(self) -> int:
        """How many calls wait for ``run()``."""
        return len(self._queue)
