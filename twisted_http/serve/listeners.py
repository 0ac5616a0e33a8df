"""The listening sockets that ``--workers`` processes share: opened by the parent, adopted by each.

Two ways to have N processes serve one TCP port:

- **one inherited socket**: the parent listens once and every worker accepts
  from the same queue. Portable, but it does not balance. Every worker's
  reactor wakes for a new connection and Twisted's ``Port.doRead`` accepts in a
  loop until the queue is empty, so the worker that wakes first takes a whole
  burst. wrk opens its 64 keep-alive connections in one burst; measured with
  2 workers (connections per worker, from ``ss``, in three runs): 64/0, 64/0
  and 38/26, so one core did nearly all the work for the whole run. The Linux
  commit that added SO_REUSEPORT reports the same unfairness (up to 3:1
  between threads accepting from one socket).
- **one SO_REUSEPORT socket per worker**, all bound to the same address: the
  kernel gives each its own accept queue and hashes each new connection's
  addresses and ports to one of them. Measured the same way: 37/27, 33/31 and
  34/30. This is what gunicorn's ``--reuse-port`` and nginx's ``reuseport`` do.

So on Linux each worker gets its own SO_REUSEPORT socket. Elsewhere all
workers share one socket, which works everywhere, just without the balance:
other systems either lack SO_REUSEPORT or do not promise to spread TCP
connections with it (FreeBSD balances only with its own SO_REUSEPORT_LB).

Either way the *parent* opens every socket and hands it to its worker as an
inherited file descriptor, rather than each worker binding its own:

- ports below 1024 are bound before twistd drops root (``--uid``), and workers
  never need the privilege, not even to restart;
- a worker's socket outlives the worker: connections the kernel queued for a
  worker that died wait for its replacement instead of being reset, and the
  port stays bound to minihttp while a worker is down;
- ``tcp:0`` works: the first socket gets a port from the kernel, the rest bind
  to the same one.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import attrs
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint, serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory

# SO_REUSEPORT spreads connections over the sockets that share a port on Linux
# (3.9 and later) only; see the module docstring.
REUSE_PORT_BALANCES = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


@attrs.frozen
class TCPAddress:
    """Where a TCP endpoint string listens: family, interface, port and backlog."""

    family: socket.AddressFamily
    host: str
    port: int
    backlog: int


def tcp_address(description: str) -> TCPAddress | None:
    """The address a ``tcp:`` or ``tcp6:`` endpoint string listens on; None for any other."""
    from twisted.internet import reactor

    endpoint = serverFromString(reactor, description)
    if not isinstance(endpoint, TCP4ServerEndpoint | TCP6ServerEndpoint):
        return None
    family = socket.AF_INET6 if isinstance(endpoint, TCP6ServerEndpoint) else socket.AF_INET
    # Twisted keeps what the string said in private attributes; there is no public
    # accessor, and these three have not changed since endpoints were added.
    return TCPAddress(family, endpoint._interface, endpoint._port, endpoint._backlog)


def open_listeners(
    addresses: list[TCPAddress], workers: int, reuse_port: bool = REUSE_PORT_BALANCES
) -> list[list[socket.socket]]:
    """For each worker, one listening socket per address, in the order of ``addresses``.

    With ``reuse_port`` every worker's sockets are its own, bound with
    SO_REUSEPORT; without it every worker gets the same socket objects. On a
    failure every socket opened so far is closed before the error is raised.
    """
    opened: list[socket.socket] = []
    slots: list[list[socket.socket]] = [[] for _ in range(workers)]
    try:
        for address in addresses:
            port = address.port
            listener: socket.socket | None = None
            for slot in slots:
                if listener is None or reuse_port:
                    listener = _listen(address, port, reuse_port)
                    opened.append(listener)
                    port = listener.getsockname()[1]  # tcp:0 -> the one the kernel chose
                slot.append(listener)
    except BaseException:
        for listener in opened:
            listener.close()
        raise
    return slots


def _listen(address: TCPAddress, port: int, reuse_port: bool) -> socket.socket:
    listener = socket.socket(address.family, socket.SOCK_STREAM)
    try:
        # As Twisted's own listenTCP does: a restart can bind while old
        # connections are still in TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((address.host, port))
        listener.listen(address.backlog)
        listener.setblocking(False)  # adoptStreamPort requires it
    except BaseException:
        listener.close()
        raise
    return listener


def adopt_port(reactor: Any, fd: int, factory: Factory) -> IListeningPort:
    """Listen with ``factory`` on the inherited listening socket ``fd``, then close ``fd``.

    The reactor works on its own duplicate of the descriptor.
    """
    inherited = socket.socket(fileno=fd)
    try:
        inherited.setblocking(False)
        port: IListeningPort = reactor.adoptStreamPort(inherited.fileno(), inherited.family,
                                                       factory)
    finally:
        inherited.close()
    return port
