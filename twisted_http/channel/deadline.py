"""Deadline: one connection timer that is cheap to move.

A connection's timers change several times per request (idle, head, body), and
almost always to a later time. Cancelling and re-scheduling a DelayedCall each
time costs a heap push per move; instead this keeps one call scheduled and, when
the deadline moves later, lets that call fire early and re-arm itself for the
rest. Moving a deadline later is two attribute writes; earlier, one ``reset``.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class Deadline:
    """Calls ``action`` when ``seconds`` have passed since the last ``set``, unless cleared."""

    __slots__ = ("_action", "_call", "_clock", "_deadline", "_target")

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._call: IDelayedCall | None = None
        self._target = 0.0  # when the scheduled call fires
        self._deadline = 0.0  # when the action is due
        self._action: Callable[[], None] | None = None

    @property
    def pending(self) -> bool:
        return self._action is not None

    def set(self, seconds: float, action: Callable[[], None]) -> None:
        """Replace any earlier deadline with one ``seconds`` from now."""
        deadline = self._clock.seconds() + seconds
        self._deadline = deadline
        self._action = action
        call = self._call
        if call is None:
            self._call = self._clock.callLater(seconds, self._fire)
            self._target = deadline
        elif deadline < self._target:
            call.reset(seconds)
            self._target = deadline
        # else: the scheduled call fires first and re-arms for the rest.

    def clear(self) -> None:
        """No deadline for now; the scheduled call, if any, will find nothing to do."""
        self._action = None

    def stop(self) -> None:
        """Clear and cancel: nothing of this deadline stays on the clock."""
        self._action = None
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _fire(self) -> None:
        self._call = None
        action = self._action
        if action is None:
            return
        if self._deadline > self._target:  # moved later since this call was scheduled
            left = self._deadline - self._clock.seconds()
            if left > 0:
                self._call = self._clock.callLater(left, self._fire)
                self._target = self._deadline
                return
            # A busy reactor ran this call late, past the moved deadline too: due now.
        self._action = None
        action()
