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
  to the same one;
- the same socket serves the next generation of workers (SIGHUP, recycling):
  the new worker accepts from it before the old one stops, so no connection
  waiting in its queue is ever reset.

A socket systemd passes (``--port systemd:domain=INET:index=0``, socket
activation) is opened by systemd instead, and every worker shares it.
``SystemdEndpoint`` finds it as Twisted's ``systemd:`` endpoint does, but
also when ``LISTEN_FDNAMES`` is unset (``systemd-socket-activate`` without
``--fdname`` sets none, and Twisted then sees no socket at all), and only when
it listens, so that workers, which get the socket from the parent, can parse
the same ``--port``.

Without workers, ``Listening`` listens on one endpoint. In both ways a port
that cannot be bound (taken, not allowed) stops twistd with one line,
``minihttp: cannot listen on tcp:8000: Address already in use``, on stderr and
in the log, and exit status 1 (``CannotListen``), before anything runs.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import attrs
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail
from twisted.internet.endpoints import (
    AdoptedStreamServerEndpoint,
    TCP4ServerEndpoint,
    TCP6ServerEndpoint,
    serverFromString,
)
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

log = Logger()

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
    description: str = attrs.field(default="", eq=False)  # the endpoint string, for messages


@attrs.frozen
class SystemdSocket:
    """A listening socket systemd passed: its family and its index or name."""

    family: socket.AddressFamily
    index: int | None
    name: str | None
    description: str = attrs.field(default="", eq=False)  # the endpoint string, for messages

    def fileno(self) -> int:
        """The descriptor of this socket; ValueError if systemd passed no such socket.

        Twisted reads (and removes) ``LISTEN_FDS`` and ``LISTEN_PID`` when
        its endpoints module is imported, long before this runs, so its
        reading is used where it has one. It has none when ``LISTEN_FDNAMES``
        is unset; then the descriptor ``3 + index`` is taken if it is a
        listening socket of the right family, which is what systemd passes.
        """
        from twisted.internet.endpoints import _SystemdParser

        passed = _SystemdParser._sddaemon
        if self.name is not None:
            named = passed.inheritedNamedDescriptors()
            if self.name not in named:
                raise ValueError(f"systemd passed no socket named {self.name!r}")
            return int(named[self.name])
        assert self.index is not None
        descriptors = passed.inheritedDescriptors()
        if descriptors:
            if self.index >= len(descriptors):
                raise ValueError(f"systemd passed {len(descriptors)} sockets;"
                                 f" there is no index {self.index}")
            return int(descriptors[self.index])
        fd = SD_LISTEN_FDS_START + self.index
        if not _listening(fd, self.family):
            raise ValueError(f"systemd passed no socket at index {self.index}")
        return fd


def _listening(fd: int, family: socket.AddressFamily) -> bool:
    """Whether ``fd`` is a listening stream socket of ``family``."""
    try:
        probe = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    with probe:
        try:
            accepting = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            return False
        return bool(accepting) and probe.family == family and probe.type == socket.SOCK_STREAM


ListenSpec = TCPAddress | SystemdSocket
SD_LISTEN_FDS_START = 3  # sd_listen_fds(3): systemd's first passed descriptor


def systemd_socket(description: str) -> SystemdSocket | None:
    """``systemd:domain=INET:index=0`` (or ``name=NAME``) as a SystemdSocket; None for
    other endpoint strings; ValueError for a systemd one that is malformed."""
    kind, _, rest = description.partition(":")
    if kind != "systemd":
        return None
    fields = dict(part.partition("=")[::2] for part in rest.split(":") if part)
    family = getattr(socket, "AF_" + fields.pop("domain", ""), None)
    if not isinstance(family, socket.AddressFamily):
        raise ValueError("systemd: needs domain=INET, INET6 or UNIX")
    index, name = fields.pop("index", None), fields.pop("name", None)
    if fields or (index is None) == (name is None) or (index is not None and
                                                       not index.isdigit()):
        raise ValueError("systemd: takes domain= and exactly one of index=N or name=NAME")
    return SystemdSocket(family, int(index) if index is not None else None, name, description)


@implementer(IStreamServerEndpoint)
class SystemdEndpoint:
    """Listens on the socket systemd passed; see the module docstring."""

    def __init__(self, reactor: Any, spec: SystemdSocket) -> None:
        self._reactor = reactor
        self._spec = spec

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        try:
            fd = self._spec.fileno()
        except ValueError as error:
            return fail(error)
        adopted = AdoptedStreamServerEndpoint(self._reactor, fd, self._spec.family)
        listening: Deferred[IListeningPort] = adopted.listen(factory)
        return listening


def server_endpoint(reactor: Any, description: str) -> IStreamServerEndpoint:
    """The endpoint for a ``--port`` string: Twisted's, but ours for ``systemd:``."""
    spec = systemd_socket(description)
    if spec is not None:
        return SystemdEndpoint(reactor, spec)
    endpoint: IStreamServerEndpoint = serverFromString(reactor, description)
    return endpoint


def listen_spec(description: str) -> ListenSpec | None:
    """What workers can share for an endpoint string: a TCP address or a systemd socket."""
    return systemd_socket(description) or tcp_address(description)


def tcp_address(description: str) -> TCPAddress | None:
    """The address a ``tcp:`` or ``tcp6:`` endpoint string listens on; None for any other."""
    from twisted.internet import reactor

    endpoint = serverFromString(reactor, description)
    if not isinstance(endpoint, TCP4ServerEndpoint | TCP6ServerEndpoint):
        return None
    family = socket.AF_INET6 if isinstance(endpoint, TCP6ServerEndpoint) else socket.AF_INET
    # Twisted keeps what the string said in private attributes; there is no public
    # accessor, and these three have not changed since endpoints were added.
    return TCPAddress(family, endpoint._interface, endpoint._port, endpoint._backlog,
                      description)


def open_listeners(
    addresses: list[ListenSpec], workers: int, reuse_port: bool = REUSE_PORT_BALANCES
) -> list[list[socket.socket]]:
    """For each worker, one listening socket per address, in the order of ``addresses``.

    With ``reuse_port`` every worker's sockets are its own, bound with
    SO_REUSEPORT; without it every worker gets the same socket objects, as
    they do for a socket systemd passed. On a failure every socket opened so
    far is closed before the error is raised.
    """
    opened: list[socket.socket] = []
    slots: list[list[socket.socket]] = [[] for _ in range(workers)]
    try:
        for address in addresses:
            if isinstance(address, SystemdSocket):
                inherited = socket.socket(fileno=os.dup(address.fileno()))
                inherited.setblocking(False)
                opened.append(inherited)
                for slot in slots:
                    slot.append(inherited)
                continue
            port = address.port
            listener: socket.socket | None = None
            for slot in slots:
                if listener is None or reuse_port:
                    listener = _listen(address, port, reuse_port)
                    opened.append(listener)
                    port = listener.getsockname()[1]  # tcp:0 -> the one the kernel chose
                slot.append(listener)
    except BaseException as error:
        for listener in opened:
            listener.close()
        if isinstance(address, SystemdSocket) and isinstance(error, ValueError):
            raise CannotListen(address.description, str(error)) from None
        if isinstance(error, OSError) and isinstance(address, TCPAddress):
            where = address.description or f"{address.host}:{address.port}"
            raise CannotListen(where, error.strerror or str(error)) from None
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


def adopt_port(reactor: Any, fd: int, factory: IProtocolFactory) -> IListeningPort:
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


class CannotListen(SystemExit, Exception):
    """A port that cannot be bound, raised from ``privilegedStartService``.

    An ``Exception`` so that twistd cleans up as for any start-up failure (it
    removes its pid file and tells a daemon's parent the reason); a
    ``SystemExit`` so that it then ends the process with status 1 and no
    traceback. ``str()`` is the one line to show.
    """

    def __init__(self, description: str, reason: str) -> None:
        super().__init__(f"cannot listen on {description}: {reason}")
        self.code = 1

    def report(self) -> None:
        """Say it on the real stderr (twistd has redirected ``sys.stderr`` into its log
        by now) and in the log, which is where a daemon's words go."""
        stderr = sys.__stderr__
        if stderr is not None:
            stderr.write(f"minihttp: {self}\n")
            stderr.flush()
        log.critical("minihttp: {reason}", reason=str(self))


def _reason(failure: Failure) -> str:
    error = failure.value
    if isinstance(error, CannotListenError) and isinstance(error.socketError, OSError):
        return error.socketError.strerror or str(error.socketError)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


# The most connections a stopping port accepts from its queue: the kernel's
# default limit on a listen queue (net.core.somaxconn, 4096 since Linux 5.4).
ACCEPT_AT_STOP = 4096


class Listening(Service):
    """Listens with ``factory`` on one endpoint string while running.

    The port is bound in ``privilegedStartService``, before twistd gives up
    root; if it cannot be, ``CannotListen`` stops start-up there.
    """

    def __init__(self, reactor: Any, description: str, factory: IProtocolFactory) -> None:
        self.description = description
        self._reactor = reactor
        self._factory = factory
        self._listening: Deferred[IListeningPort] | None = None

    def privilegedStartService(self) -> None:  # noqa: N802 - IService
        super().privilegedStartService()
        endpoint = server_endpoint(self._reactor, self.description)
        self._listening = endpoint.listen(self._factory)
        failures: list[Failure] = []
        self._listening.addErrback(failures.append)  # synchronous for tcp, unix and ssl
        if failures:
            self._listening = None
            error = CannotListen(self.description, _reason(failures[0]))
            error.report()
            raise error

    def startService(self) -> None:
        if self._listening is None:
            self.privilegedStartService()
        super().startService()

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        listening, self._listening = self._listening, None
        if listening is None:
            return None
        return listening.addCallback(
            lambda port: None if port is None else stop_listening(port))  # None: it failed


def stop_listening(port: IListeningPort) -> Deferred[None] | None:
    """Stop listening on ``port`` without resetting the connections the kernel has queued.

    The kernel completes a client's handshake before the server accepts it; a
    listening socket closed with connections still in its queue resets them,
    and the client, which has sent its request, sees it fail (a proxy does not
    resend a POST it has sent). So every queued connection is accepted first,
    by one last ``doRead`` of Twisted's TCP (and UNIX) port, which accepts until
    the queue is empty or it has accepted ``numberAccepts`` (which it lowers to
    what the last call found, often 1: so it is raised first); the drain then
    answers each. Then the socket is closed at once: Twisted closes it on the
    reactor's next turn, milliseconds later under load, and every connection
    the kernel queued meanwhile was reset (measured: 1 to 4 POSTs failing at
    nginx per SIGTERM of a --workers 2 instance). Closing it is safe once
    ``stopListening`` has taken it out of the reactor; Twisted's own close later
    finds it closed. A socket the workers share (the same socket serves old and
    new workers over a SIGHUP) lives on in the others: only this descriptor
    closes, and the kernel resets nothing while another holds it.
    """
    tcp: Any = port  # twisted.internet.tcp.Port (unix.Port is one too), or another kind
    if getattr(tcp, "connected", False) and hasattr(tcp, "numberAccepts"):
        tcp.numberAccepts = max(tcp.numberAccepts, ACCEPT_AT_STOP)
        tcp.doRead()
        stopped: Deferred[None] | None = port.stopListening()
        tcp.socket.close()
        return stopped
    return port.stopListening()
