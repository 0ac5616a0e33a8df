"""HTTPFactory: what every connection shares — the config, the mount table, the clock."""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory

from ._config import ServerConfig
from ._protocol import HTTPChannel
from ._routing import Router
from ._serializer import HTTPDate


class HTTPFactory(Factory):
    """Builds an ``HTTPChannel`` per connection.

    ``clock`` is the reactor by default; tests pass a ``twisted.internet.task.Clock``.
    """

    noisy = False  # one log line per listening port is enough, not one per connection

    def __init__(
        self,
        router: Router,
        config: ServerConfig | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as default_clock

            clock = default_clock
        self.router = router
        self.config = config if config is not None else ServerConfig()
        self.clock: IReactorTime = clock
        self.date = HTTPDate()

    def buildProtocol(self, addr: Any) -> HTTPChannel:
        channel = HTTPChannel(self)
        channel.factory = self
        return channel
