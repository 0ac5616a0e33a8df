"""The settings model: everything ``twistd minihttp`` runs with, one frozen, validated tree.

``Settings`` holds the ports, the mounts (``StaticMount``, ``WSGIMount``), the
worker count, the Python path and three sections: ``limits`` (the
``ServerConfig`` the connection reads), ``static_options`` and
``wsgi_options`` (the defaults of every static and WSGI mount). The command
line (``options``) and the config file (``configfile``) both produce it
through one conversion (``convert.build_settings``); nothing else reads raw
options. ``--help`` and docs/configuration.md are generated from the fields'
metadata (``reference``; ``python -m twisted_http.serve.reference``).

Names. A field ``max_body_size`` is the option ``--max-body-size`` and the
config key ``max_body_size`` (or ``max-body-size``). A section's fields take
its prefix: ``StaticOptions.max_age`` is ``--static-max-age`` and
``static_max_age``, and plain ``max_age`` inside a ``[[static]]`` table.
A true-or-false field whose default is true is turned off on the command line
by ``--no-NAME`` (``--no-access-log``, ``--static-no-precompressed``).

How to add a setting: declare ONE field with ``setting`` (from
``twisted_http.wire.limits``) on the class that owns it: ``ServerConfig`` if
the connection reads it, ``Settings`` if serving does (``makeService`` then
reads ``settings.NAME``), ``StaticOptions``/``WSGIOptions`` for a mount option.
Give it a default, ``help`` (what it does) and ``why`` (why that default)::

    shutdown_timeout: float = setting(
        10.0, validator=positive,
        help="Seconds a stopping server waits for requests in progress.",
        why="Shorter than the 30 s Kubernetes and systemd wait before SIGKILL.")

and regenerate the reference (``make reference``, checked by tests/test_settings_cli.py).
The kind of value follows from the type (``int``, ``float``, ``bool``, ``str``,
``bytes``, ``int | None``, ``tuple[str, ...]`` which is repeatable, ``dict[str,
str]``); metadata changes the rest:

- ``kind=PATH``: a path, relative to the config file when it comes from one
  (``kind=ListOf(PATH)`` for a repeatable one; ``ListOf(PATH, extend=True)``
  adds the command line's to the file's instead of replacing them);
- ``validator=``: an attrs validator raising ``ValueError("NAME must ...")``
  (``at_least(1)``, ``positive``, ``between(1, 128)``, ``folder``); the
  message is shown after the option or the file, line and key;
- ``flag="type"``: the command-line name when it is not the field's
  (``--static-type``); ``short="p"``: a one-letter option;
- ``aliases=("dir",)``: other names accepted in the file;
- ``metavar="SECONDS"``: the word ``--help`` shows for the value.

A new kind of mount is a frozen class like ``HandlerMount`` (mounts.py) whose
fields are its table keys, with ``parse_spec`` for its one-string form, plus a
field on ``Settings``::

    handler: tuple[HandlerMount, ...] = setting(
        (), kind=MountKind(HandlerMount, "[PREFIX=]SPEC"), help=..., why=...)

and ``tap.make_site`` turning it into a handler.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import attrs

from ..edge.accesslog import DEFAULT_FORMAT, FORMATS
from ..edge.proxies import TrustedProxies
from ..wire.limits import ServerConfig, at_least, positive, setting
from .kinds import PATH, Kind, ListOf, Origin, Path, Refused, kind_of
from .mounts import (
    HandlerMount,
    MountKind,
    StaticMount,
    StaticOptions,
    WSGIMount,
    WSGIOptions,
    folder,
    section,
)

DEFAULT_PORT = "tcp:8000"
DEFAULT_STATIC = "static"
# A guard against typos (--workers 1000 would start a thousand Pythons), not a
# tuning limit: more workers than cores only costs memory.
MAX_WORKERS = 128


# -- validators -------------------------------------------------------------------------------


def between(low: int, high: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
        if not low <= value <= high:
            raise ValueError(f"{attribute.name} must be from {low} to {high}, not {value!r}")

    return check


def folders(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for path in value:
        folder(instance, attribute, path)


def health_path(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value and not value.startswith("/"):
        raise ValueError(f"health must be a path starting with '/', not {value!r}")


def reload_needs_watchfiles(instance: Any, attribute: attrs.Attribute[Any], value: bool) -> None:
    if value:
        try:
            import watchfiles  # noqa: F401
        except ImportError:
            raise ValueError(RELOAD_NEEDS) from None


RELOAD_NEEDS = "reload needs the watchfiles package: pip install 'minihttp[reload]'"


def trusted_proxies(instance: Any, attribute: attrs.Attribute[Any],
                    value: tuple[str, ...]) -> None:
    TrustedProxies.parse(value)  # its ValueError names the value


def metrics_path(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value and (not value.startswith("/") or value != value.strip()):
        raise ValueError(f"metrics must be a path starting with /, such as /metrics,"
                         f" not {value!r}")


def log_format(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in FORMATS:
        raise ValueError(f"access_log_format must be one of {', '.join(FORMATS)},"
                         f" not {value!r}")


def log_path(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ("", "-") and not os.path.isdir(os.path.dirname(value) or "."):
        raise ValueError(f"access_log_path must be a file in an existing folder, not {value!r}")


class LogPath(Path):
    """A file path, or ``-`` for standard output (which no config file moves)."""

    allowed = "a path or -"

    def from_file(self, value: object, origin: Origin) -> str:
        return "-" if value == "-" else super().from_file(value, origin)


# -- ports ------------------------------------------------------------------------------------


class Port(Kind):
    """A port number (TCP on every interface) or a Twisted endpoint string."""

    allowed = "a port number or a Twisted endpoint string"

    def from_text(self, text: str, origin: Origin) -> str:
        return self._endpoint(text, origin, text)

    def from_file(self, value: object, origin: Origin) -> str:
        if type(value) is int:
            return self._endpoint(str(value), origin, value)
        if not isinstance(value, str):
            raise Refused
        return self._endpoint(value, origin, value)

    def _endpoint(self, port: str, origin: Origin, given: object) -> str:
        description = f"tcp:{port}" if port.isdigit() else port
        if port.isdigit() and int(port) > 65535:
            raise Refused(f"{origin} takes port numbers up to 65535, not {origin.show(given)}")
        from twisted.internet import reactor

        from .listeners import server_endpoint

        try:
            server_endpoint(reactor, description)
        except (ValueError, KeyError, TypeError, OSError) as error:
            raise Refused(f"{origin} takes {self.allowed}, not {origin.show(given)}"
                          f" ({error})") from None
        return description


# -- the whole ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Settings:
    """Everything ``twistd minihttp`` runs with. Build it with ``convert.build_settings``."""

    port: tuple[str, ...] = setting(
        (DEFAULT_PORT,), kind=ListOf(Port()), short="p", metavar="PORT",
        help="Where to listen: a port number (TCP, every interface) or a Twisted endpoint"
             " string (tcp:8080:interface=127.0.0.1, unix:/path).",
        why="The usual port for a development web server that needs no root.")
    static: tuple[StaticMount, ...] = setting(
        (), kind=MountKind(StaticMount, "[PREFIX=]DIR"), metavar="[PREFIX=]DIR",
        help="Serve the files of DIR at PREFIX (default /). With no --static,"
             " --wsgi or --handler, ./static is served at /.",
        why="./static at / when nothing else is mounted, as `make run` serves.")
    wsgi: tuple[WSGIMount, ...] = setting(
        (), kind=MountKind(WSGIMount, "[PREFIX=]MODULE:CALLABLE"),
        metavar="[PREFIX=]MODULE:CALLABLE",
        help="Run a WSGI app at PREFIX (default /); MODULE:FACTORY() calls an app factory."
             " On one prefix a static file is tried before an app.",
        why="No app unless one is named.")
    handler: tuple[HandlerMount, ...] = setting(
        (), kind=MountKind(HandlerMount, "[PREFIX=]SPEC"), metavar="[PREFIX=]SPEC",
        help="Mount a protocol handler at PREFIX (default /): a name from --list-handlers"
             " (time, redirect, websocket-echo, installed plugins) or MODULE:FACTORY, with"
             " options as NAME(key=value, ...). Tried after static files and apps.",
        why="No handler unless one is named.")
    pythonpath: tuple[str, ...] = setting(
        (), kind=ListOf(PATH, extend=True), validator=folders, metavar="DIR",
        help="Folder to import WSGI apps and handlers from; the command line's come after"
             " the config file's.",
        why="Apps are imported from the current folder and the installed packages.")
    workers: int = setting(
        1, validator=between(1, MAX_WORKERS), metavar="N",
        help=f"Processes serving the TCP ports, 1 to {MAX_WORKERS}; one per core uses them"
             " all.",
        why="One process is simplest to run and to debug.")
    shutdown_timeout: float = setting(
        30.0, validator=positive, metavar="SECONDS",
        help="Seconds a stopping server (SIGTERM, SIGINT, or an old worker after SIGHUP) waits"
             " for the requests it has received; what still runs then is cut and counted.",
        why="Kubernetes waits 30 s before SIGKILL: a request slower than that is better cut"
            " by the server, which logs it, than with the whole process.")
    shutdown_delay: float = setting(
        0.0, validator=at_least(0), metavar="SECONDS",
        help="Seconds a stopping server goes on serving, its --health check answering 503,"
             " before it closes its ports and drains; part of --shutdown-timeout.",
        why="None: closing the ports at once sends new connections elsewhere soonest. Behind a"
            " balancer that polls --health, set it to the time the balancer takes to notice"
            " (its interval times its failure count), so no request reaches a closed port.")
    max_requests: int = setting(
        0, validator=at_least(0), metavar="N",
        help="Replace a worker once it has served N requests (a new one starts, then the old"
             " one drains); 0 never. Serving runs in worker processes when it is set.",
        why="Off: only an app that leaks memory needs it.")
    max_requests_jitter: int = setting(
        0, validator=at_least(0), metavar="N",
        help="Add a random 0 to N to --max-requests, per worker.",
        why="Workers started together would otherwise all be replaced together.")
    health: str = setting(
        "", validator=health_path, metavar="PATH",
        help="Answer PATH with 200 while serving and 503 from the moment a drain starts;"
             " never access-logged, never passed to an app.",
        why="Off: a path of the site is the site's.")
    reload: bool = setting(
        False, validator=reload_needs_watchfiles,
        help="Replace the workers when a Python file of the apps or the config file changes"
             " (development; needs the watchfiles package: pip install 'minihttp[reload]').",
        why="Watching files costs a thread and surprises in production.")
    trusted_proxy: tuple[str, ...] = setting(
        (), validator=trusted_proxies, metavar="CIDR",
        help="A proxy whose Forwarded and X-Forwarded-* headers say who the client is: a"
             " CIDR (10.0.0.0/8), an address, 'unix' for peers on UNIX sockets, or '*' for"
             " every peer (only where nothing but the proxy can reach the server).",
        why="None: from anyone but a proxy of yours, those headers are the client's own"
            " claims, and believing them lets any client pose as any address.")
    metrics: str = setting(
        "", validator=metrics_path, metavar="PATH",
        help="Serve Prometheus metrics at PATH (/metrics, say); with --workers, the whole"
             " server's.",
        why="Off: the figures tell how the site is used, which not every site shows.")
    access_log_path: str = setting(
        "", kind=LogPath(), validator=log_path, flag="access_log", metavar="PATH",
        help="Write the access log to this file (opened in append mode, reopened on"
             " SIGUSR1 for logrotate; every worker appends to it directly), or to"
             " standard output with -. Unset, the lines go to twistd's log.",
        why="twistd's log is where a server started by hand is watched; a file of its own"
            " is for production, where logrotate moves it.")
    access_log_format: str = setting(
        DEFAULT_FORMAT, validator=log_format, metavar="FORMAT",
        help="combined (NCSA common + Referer, User-Agent and the request's seconds),"
             " common, or json (one object per line).",
        why="nginx's and Apache's default, which every log tool reads; the duration"
            " comes last, where those tools ignore it.")
    limits: ServerConfig = section(ServerConfig, title="Limits, timeouts and the server")
    static_options: StaticOptions = section(
        StaticOptions, "static_", "Static files: the defaults of every static mount")
    wsgi_options: WSGIOptions = section(
        WSGIOptions, "wsgi_", "WSGI apps: the defaults of every WSGI mount")

    def __attrs_post_init__(self) -> None:
        if self.shutdown_delay >= self.shutdown_timeout:
            raise ValueError(f"shutdown_delay must be less than the shutdown timeout"
                             f" ({self.shutdown_timeout:g} s), not {self.shutdown_delay:g}")

    @property
    def pooled(self) -> bool:
        """Whether worker processes serve (the parent only watches them)."""
        return self.workers > 1 or self.max_requests > 0 or self.reload

    def mounts(self) -> list[StaticMount | WSGIMount | HandlerMount]:
        """Every mount in the order the router tries them on one prefix: statics first,
        then apps, then handlers."""
        return [*self.static, *self.wsgi, *self.handler]


# -- walking the model ------------------------------------------------------------------------


@attrs.frozen
class Entry:
    """One setting as the command line and the file name it: ``name`` is the flat key."""

    name: str
    field: attrs.Attribute[Any]
    kind: Kind
    owner: type
    title: str

    @property
    def option(self) -> str:
        prefix = self.name[: len(self.name) - len(self.field.name)].replace("_", "-")
        base = self.field.metadata.get("flag", self.field.name).replace("_", "-")
        negated = self.field.default is True  # --no-access-log
        return f"--{prefix}{'no-' if negated else ''}{base}"

    @property
    def help(self) -> str:
        """What the setting does; a list says it may be given many times."""
        text: str = self.field.metadata["help"]
        return f"{text} Repeatable." if self.kind.repeatable else text

    @property
    def is_flag(self) -> bool:
        return self.field.default in (True, False) and type(self.field.default) is bool

    def default_text(self) -> str:
        default = self.field.default
        factory = getattr(default, "factory", None)
        if factory is not None and hasattr(default, "takes_self"):  # an attrs.Factory
            default = factory()
        return self.kind.show(default)


def entries(cls: type = Settings, prefix: str = "", title: str = "") -> Iterator[Entry]:
    """Every setting of ``cls``, sections flattened, in declaration order."""
    for field in attrs.fields(cls):
        if "section" in field.metadata:
            yield from entries(field.metadata["section"], prefix + field.metadata["prefix"],
                               field.metadata["title"])
        elif "help" in field.metadata:
            yield Entry(prefix + field.name, field, kind_of(field), cls, title)


def table_keys(mount: type) -> dict[str, attrs.Attribute[Any]]:
    """The keys a mount's table takes, aliases included, with the field each sets."""
    keys: dict[str, attrs.Attribute[Any]] = {}
    for entry in entries(mount):
        keys[entry.name] = entry.field
        for alias in entry.field.metadata.get("aliases", ()):
            keys[alias] = entry.field
    return keys


__all__ = ["HandlerMount", "MountKind", "Settings", "StaticMount", "StaticOptions", "WSGIMount",
           "WSGIOptions", "entries", "table_keys"]
