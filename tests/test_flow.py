"""WriteFlow: the connection's producer passes the client's pace on to the response's producer."""

from __future__ import annotations

from twisted.internet.task import Clock

from twisted_http.channel.flow import PULLS_PER_TURN, WriteFlow


class Recorder:
    """A producer that records what it is asked; as a pull producer it counts pulls."""

    def __init__(self, flow: WriteFlow | None = None, pulls_until_done: int = 10**9) -> None:
        self.calls: list[str] = []
        self.flow = flow
        self.left = pulls_until_done

    def pauseProducing(self) -> None:
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")
        self.left -= 1
        if self.left == 0 and self.flow is not None:
            self.flow.detach()  # done: the response unregisters it

    def stopProducing(self) -> None:
        self.calls.append("stop")


def make() -> tuple[Clock, WriteFlow, list[bool]]:
    clock = Clock()
    changes: list[bool] = []
    flow = WriteFlow(clock, lambda: changes.append(flow.blocked))
    return clock, flow, changes


def test_transport_pause_and_resume_reach_a_push_producer() -> None:
    """The client falling behind pauses the response's producer; catching up resumes it."""
    _, flow, changes = make()
    producer = Recorder()
    flow.attach(producer, streaming=True)
    flow.pauseProducing()
    flow.resumeProducing()
    assert producer.calls == ["pause", "resume"]
    assert changes == [True, False]


def test_push_producer_attached_while_blocked_starts_paused() -> None:
    """A producer registered while the client is behind is paused at once."""
    _, flow, _ = make()
    flow.pauseProducing()
    producer = Recorder()
    flow.attach(producer, streaming=True)
    assert producer.calls == ["pause"]


def test_blocked_is_tracked_without_a_producer() -> None:
    """With no response producer the flow still knows whether the client keeps up."""
    _, flow, changes = make()
    flow.pauseProducing()
    assert flow.blocked
    flow.resumeProducing()
    assert not flow.blocked and changes == [True, False]


def test_pull_producer_is_pulled_a_bounded_number_of_times_per_turn() -> None:
    """A pull producer is asked at once, at most PULLS_PER_TURN times, the rest on later turns."""
    clock, flow, _ = make()
    producer = Recorder(pulls_until_done=PULLS_PER_TURN * 2 + 3)
    producer.flow = flow
    flow.attach(producer, streaming=False)
    assert producer.calls.count("resume") == PULLS_PER_TURN
    assert len(clock.getDelayedCalls()) == 1  # the rest waits for the next turn
    clock.advance(0)  # a Clock runs the re-scheduled turns too, until the producer is done
    assert producer.calls.count("resume") == PULLS_PER_TURN * 2 + 3
    assert clock.getDelayedCalls() == []


def test_pull_producer_waits_while_blocked() -> None:
    """No pulls while the client is behind; pulling resumes when it catches up."""
    clock, flow, _ = make()
    producer = Recorder(pulls_until_done=5)
    producer.flow = flow
    flow.pauseProducing()
    flow.attach(producer, streaming=False)
    clock.advance(0)
    assert producer.calls == []
    flow.resumeProducing()
    assert producer.calls == ["resume"] * 5


def test_pull_producer_that_finishes_is_not_pulled_again() -> None:
    """Once the producer detaches, pulling stops and nothing is left on the clock."""
    clock, flow, _ = make()
    producer = Recorder(pulls_until_done=3)
    producer.flow = flow
    flow.attach(producer, streaming=False)
    assert producer.calls == ["resume"] * 3
    assert clock.getDelayedCalls() == []


def test_stop_reaches_the_producer_and_ends_pulling() -> None:
    """The connection going away stops the response's producer."""
    clock, flow, _ = make()
    producer = Recorder()
    flow.attach(producer, streaming=False)  # pulls one turn's worth, schedules the next
    flow.stopProducing()
    assert producer.calls[-1] == "stop"
    assert flow.producer is None and clock.getDelayedCalls() == []


def test_one_producer_at_a_time() -> None:
    """Registering a second producer before the first is gone is a programming error."""
    _, flow, _ = make()
    flow.attach(Recorder(), streaming=True)
    try:
        flow.attach(Recorder(), streaming=True)
    except RuntimeError:
        return
    raise AssertionError("a second producer was accepted")
