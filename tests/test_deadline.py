"""Deadline: one cheap, movable connection timer, exact at its edges."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from twisted_http.channel.deadline import Deadline


def make() -> tuple[Clock, Deadline, list[float]]:
    clock = Clock()
    fired: list[float] = []
    return clock, Deadline(clock), fired


def test_fires_exactly_at_the_deadline() -> None:
    """The action runs when the clock reaches the deadline, not a moment before."""
    clock, deadline, fired = make()
    deadline.set(10, lambda: fired.append(clock.seconds()))
    clock.advance(9.999)
    assert fired == []
    clock.advance(0.001)
    assert fired == [10]
    assert not deadline.pending


def test_moving_later_keeps_one_call_and_fires_at_the_new_time() -> None:
    """A later deadline re-arms from the old call instead of scheduling another."""
    clock, deadline, fired = make()
    deadline.set(5, lambda: fired.append(1))
    clock.advance(3)
    deadline.set(10, lambda: fired.append(clock.seconds()))
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(2)  # the old call fires at 5 and re-arms for 13
    assert fired == [] and len(clock.getDelayedCalls()) == 1
    clock.advance(7.75)  # binary-exact steps, so the edge is exactly 13
    assert fired == []
    clock.advance(0.25)
    assert fired == [13]


def test_moving_earlier_fires_at_the_earlier_time() -> None:
    """An earlier deadline moves the scheduled call forward."""
    clock, deadline, fired = make()
    deadline.set(10, lambda: fired.append(1))
    deadline.set(2, lambda: fired.append(clock.seconds()))
    clock.advance(2)
    assert fired == [2]
    clock.advance(100)
    assert fired == [2]


def test_only_the_latest_action_runs() -> None:
    """Setting a deadline replaces the action as well as the time."""
    clock, deadline, fired = make()
    deadline.set(5, lambda: fired.append(1))
    deadline.set(5, lambda: fired.append(2))
    clock.advance(5)
    assert fired == [2]


def test_clear_runs_nothing() -> None:
    """A cleared deadline's call fires harmlessly and runs no action."""
    clock, deadline, fired = make()
    deadline.set(5, lambda: fired.append(1))
    deadline.clear()
    clock.advance(5)
    assert fired == [] and clock.getDelayedCalls() == []


def test_set_after_clear_works() -> None:
    """A deadline set again after clearing fires at its new time."""
    clock, deadline, fired = make()
    deadline.set(5, lambda: fired.append(1))
    deadline.clear()
    clock.advance(1)
    deadline.set(5, lambda: fired.append(clock.seconds()))
    clock.advance(5)
    assert fired == [6]


def test_stop_leaves_nothing_on_the_clock() -> None:
    """stop() cancels the scheduled call."""
    clock, deadline, fired = make()
    deadline.set(5, lambda: fired.append(1))
    deadline.stop()
    assert clock.getDelayedCalls() == []
    clock.advance(10)
    assert fired == []


class StrictClock(Clock):
    """A Clock that refuses negative delays, as the real reactor does."""

    def callLater(self, delay: float, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        assert delay >= 0, f"negative delay {delay}"
        return super().callLater(delay, *args, **kwargs)


def test_a_late_early_call_past_the_moved_deadline_acts_at_once() -> None:
    """A busy reactor firing the early call after the moved deadline: due now, not re-armed."""
    clock = StrictClock()
    deadline = Deadline(clock)
    fired: list[float] = []
    deadline.set(5, lambda: fired.append(1))
    deadline.set(10, lambda: fired.append(clock.seconds()))
    clock.rightNow = 12.0  # the reactor was busy: the call for 5 runs at 12
    clock.advance(0)
    assert fired == [12.0]
    assert clock.getDelayedCalls() == []
