"""The testing kit's own promises: MemoryAgent's clock, and typed public signatures."""

from __future__ import annotations

import inspect
import re
import typing

import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer
from twisted.internet.task import Clock
from twisted.web.iweb import IBodyProducer, IResponse
from zope.interface import implementer

import twisted_http.testing
from twisted_http import HTTPFactory, Router, ServerConfig
from twisted_http.testing import MemoryAgent

from .handlers import Echo

QUIET = ServerConfig(access_log=False)


@implementer(IBodyProducer)
class Stalled:
    """A request body of ten bytes that never comes."""

    length = 10

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:  # noqa: N802
        return Deferred()

    def pauseProducing(self) -> None:  # noqa: N802
        pass

    def resumeProducing(self) -> None:  # noqa: N802
        pass

    def stopProducing(self) -> None:  # noqa: N802
        pass


def stalled_upload(agent: MemoryAgent) -> Deferred[IResponse]:
    return agent.request(b"POST", b"http://example.com/", None, Stalled())


def status_codes(answer: Deferred[IResponse]) -> list[int]:
    codes: list[int] = []
    answer.addCallback(lambda response: codes.append(response.code))
    return codes


def test_memory_agent_runs_the_connections_timers_on_its_own_clock() -> None:
    """A factory left on the default reactor: its connections' timers still move with
    ``agent.clock``, and nothing is scheduled on the global reactor."""
    before = len(reactor.getDelayedCalls())
    agent = MemoryAgent(HTTPFactory(Router([("/", Echo())]), QUIET))
    codes = status_codes(stalled_upload(agent))
    agent.flush()
    assert len(reactor.getDelayedCalls()) == before
    assert codes == []
    agent.clock.advance(QUIET.body_timeout)
    agent.flush()
    assert codes == [408]


def test_memory_agent_takes_another_clock_when_told() -> None:
    """``clock=`` puts the connections' timers there instead."""
    clock = Clock()
    agent = MemoryAgent(HTTPFactory(Router([("/", Echo())]), QUIET), clock=clock)
    codes = status_codes(stalled_upload(agent))
    agent.flush()
    agent.clock.advance(QUIET.body_timeout)
    agent.flush()
    assert codes == []
    clock.advance(QUIET.body_timeout)
    agent.flush()
    assert codes == [408]


def _public_callables() -> list[tuple[str, typing.Any]]:
    found = []
    for name in twisted_http.testing.__all__:
        thing = getattr(twisted_http.testing, name)
        if inspect.isclass(thing):
            found += [(f"{name}.{attr}", member) for attr, member in vars(thing).items()
                      if (not attr.startswith("_") or attr == "__init__")
                      and (inspect.isfunction(member) or isinstance(member, property))]
        elif inspect.isfunction(thing):
            found.append((name, thing))
    return found


@pytest.mark.parametrize(("name", "member"), _public_callables())
def test_no_any_in_the_public_signatures(name: str, member: typing.Any) -> None:
    """What users call is typed precisely: no ``Any`` in a parameter or a result."""
    function = member.fget if isinstance(member, property) else member
    annotations = function.__annotations__  # strings: the kit's modules defer them
    loose = [key for key, hint in annotations.items() if re.search(r"\bAny\b", str(hint))]
    assert not loose, f"{name}: {loose} typed Any"
