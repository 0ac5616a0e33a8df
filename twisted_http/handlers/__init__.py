"""Built-in protocol handlers (time, redirect, WebSocket) and how handlers are found:
the ``IHandlerFactory`` plugin interface, ``--handler`` specs, and the WebSocket layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime


def global_reactor() -> IReactorTime:
    """The clock of a handler given none. Looked up when first used, not when the handler
    is built: handlers are built while options are parsed, before twistd picks a reactor."""
    from twisted.internet import reactor

    return reactor
