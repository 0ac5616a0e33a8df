"""The ``twistd minihttp`` command line: Options, the config file, and makeService.

Every limit and timeout of ``ServerConfig`` is an option of the same name
(``max_body_size`` is ``--max-body-size``) and a key of the config file; the
command line wins over the file. Mounts, ports and the Python path come from
both as well. A mistake in either is reported in one line naming the option.

``--workers N`` runs N processes on the same TCP ports (``_workers``); each
builds the same site from the same arguments (``make_site``).
"""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, MultiService, Service
from twisted.internet.endpoints import serverFromString
from twisted.python import usage
from twisted.python.threadpool import ThreadPool

from ..channel.factory import HTTPFactory
from ..channel.interfaces import IRequestHandler
from ..channel.routing import Router, normalize_prefix
from ..static.handler import StaticFiles
from ..wire.limits import ServerConfig
from .listeners import TCPAddress, tcp_address

DEFAULT_PORT = "tcp:8000"
DEFAULT_STATIC = "static"
# A guard against typos (--workers 1000 would start a thousand Pythons), not a
# tuning limit: more workers than cores only costs memory.
MAX_WORKERS = 128

# One line of help per ServerConfig field that the command line exposes.
_HELP = {
    "max_request_line": "Longest request line in bytes; longer gets 414.",
    "max_header_line": "Longest header line in bytes; longer gets 431.",
    "max_head_size": "Largest request head in bytes; larger gets 431.",
    "max_headers": "Most header fields in a request; more gets 431.",
    "max_body_size": "Largest request body in bytes; larger gets 413.",
    "max_discard_size": "Largest unread body thrown away to keep a connection open.",
    "first_request_timeout": "Seconds a new connection may wait before its first request.",
    "keep_alive_timeout": "Seconds an idle persistent connection is kept open.",
    "head_timeout": "Seconds from a request's first byte to the end of its head.",
    "body_timeout": "Seconds a body may go without sending any bytes.",
    "write_timeout": "Seconds a client may leave its responses unread before it is cut off.",
    "max_connections": "Open connections at most; past it new ones get 503.",
    "thread_wait_timeout": "Seconds a WSGI request may wait for a thread before it gets 503.",
    "threads": "Threads running WSGI apps.",
}
_FIELDS = {field.name: field for field in attrs.fields(ServerConfig)}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Serve static folders and WSGI apps over HTTP/1.1. With no --static or --wsgi,"
        " ./static is served at /. Mounts take [PREFIX=]: the longest prefix wins, and on"
        " one prefix a static file is tried before an app."
    )
    optFlags = [
        ["no-access-log", None, "Do not log a line per response."],
        # Static mount options: they apply to every --static mount (docs/static.md).
        ["static-listing", None, "List the files of a directory with no index file."],
        ["static-follow-symlinks", None, "Follow symlinks that lead out of a static root."],
        ["static-dotfiles", None, "Serve files and folders whose names start with '.'."],
        ["static-no-precompressed", None, "Never send a file's .br or .gz sibling."],
    ]
    optParameters = [
        [name.replace("_", "-"), None, None, f"{help_} [default: {_FIELDS[name].default}]"]
        for name, help_ in _HELP.items()
    ] + [["static-max-age", None, None,
          "Send Cache-Control: max-age=SECONDS with static files. [default: none]"],
         ["workers", None, None,
          f"Processes serving the TCP ports, 1 to {MAX_WORKERS}; one per core uses them all."
          " [default: 1]"]]

    def __init__(self) -> None:
        super().__init__()
        self["port"] = []
        self["static"] = []
        self["wsgi"] = []
        self["pythonpath"] = []
        self["config-file"] = None
        self["static-index"] = []
        self["static-type"] = []
        self["argv"] = []

    def parseOptions(self, options: Sequence[str] | None = None) -> None:  # noqa: N802
        """Parse, keeping the arguments: ``--workers`` starts each worker with them."""
        self["argv"] = list(sys.argv[1:] if options is None else options)
        self["cwd"] = os.getcwd()
        super().parseOptions(options)

    def opt_port(self, value: str) -> None:
        """Endpoint to listen on: a port number or a Twisted endpoint string
        (tcp:8080:interface=127.0.0.1, unix:/path). Repeatable. [default: 8000]"""
        self["port"].append(value)

    opt_p = opt_port

    def opt_static(self, value: str) -> None:
        """[PREFIX=]DIR: serve the files of DIR at PREFIX (default /). Repeatable."""
        self["static"].append(value)

    def opt_static_index(self, value: str) -> None:
        """Index file of static directories, tried in order. [default: index.html]"""
        self["static-index"].append(value)

    def opt_static_type(self, value: str) -> None:
        """.EXT=TYPE: the Content-Type of static files ending in .EXT. Repeatable."""
        self["static-type"].append(value)

    def opt_wsgi(self, value: str) -> None:
        """[PREFIX=]MODULE:CALLABLE, or MODULE:FACTORY() to call an app factory:
        run a WSGI app at PREFIX (default /). Repeatable."""
        self["wsgi"].append(value)

    def opt_pythonpath(self, value: str) -> None:
        """Directory to import WSGI apps from. Repeatable."""
        self["pythonpath"].append(value)

    def opt_config(self, value: str) -> None:
        """A TOML file with any of these options (see docs/configuration.md)."""
        self["config-file"] = value

    def postOptions(self) -> None:
        file_values = _read_config_file(self["config-file"]) if self["config-file"] else {}
        settings: dict[str, Any] = {}
        for name in _HELP:
            kind = _FIELDS[name].type
            given = self.get(name.replace("_", "-"))
            if given is not None:
                settings[name] = _coerce(_option(name), given, kind)
            elif name in file_values:
                settings[name] = _coerce(f"{name} in the config file", file_values[name], kind)
        if self["no-access-log"]:
            settings["access_log"] = False
        elif "access_log" in file_values:
            settings["access_log"] = bool(file_values["access_log"])
        try:
            self["config"] = ServerConfig(**settings)
        except ValueError as error:
            raise usage.UsageError(str(error).replace("_", "-")) from None

        ports = self["port"] or file_values.get("port", []) or [DEFAULT_PORT]
        self["endpoints"] = [_endpoint(str(port)) for port in ports]
        self["workers"] = _workers(self["workers"], file_values.get("workers"))
        self["addresses"] = _tcp_addresses(self["endpoints"]) if self["workers"] > 1 else []
        self["pythonpath"] = file_values.get("pythonpath", []) + self["pythonpath"]
        static = self["static"] or file_values.get("static", [])
        wsgi = self["wsgi"] or file_values.get("wsgi", [])
        if not static and not wsgi:
            static = [DEFAULT_STATIC]
        file_defaults, command_line = _static_settings(file_values, self)
        self["mounts"] = [
            _static_mount(spec, file_defaults, command_line) for spec in static
        ] + [
            _wsgi_mount(spec, self["pythonpath"]) for spec in wsgi
        ]


def _read_config_file(path: str) -> dict[str, Any]:
    """The config file's keys, with relative paths made relative to the file."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise usage.UsageError(f"--config: cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise usage.UsageError(f"--config: {path} is not valid TOML: {error}") from None
    data = {key.replace("-", "_"): value for key, value in data.items()}
    allowed = {"port", "static", "wsgi", "pythonpath", "access_log", "workers", *_HELP,
               *_STATIC_KEYS}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise usage.UsageError(
            f"--config: unknown key {unknown[0]!r} in {path}; allowed: {', '.join(sorted(allowed))}"
        )
    for key in ("port", "static", "wsgi", "pythonpath"):
        if key in data and not isinstance(data[key], list):
            data[key] = [data[key]]
    here = os.path.dirname(os.path.abspath(path))
    data["pythonpath"] = [os.path.join(here, p) for p in data.get("pythonpath", [])]
    data["static"] = [_relative_to(here, spec) for spec in data.get("static", [])]
    return data


def _relative_to(base: str, spec: Any) -> Any:
    if isinstance(spec, dict):  # a [[static]] table: {prefix=, dir=, options...}
        if not isinstance(spec.get("dir"), str):
            raise usage.UsageError("--config: a [[static]] table needs dir = \"DIRECTORY\"")
        return {**spec, "dir": os.path.join(base, spec["dir"])}
    prefix, directory = _split_mount(spec)
    return f"{prefix}={os.path.join(base, directory)}"


def _coerce(option: str, value: Any, kind: Any) -> Any:
    converter: Callable[[Any], Any] = int if kind in (int, "int") else float
    try:
        return converter(value)
    except (TypeError, ValueError):
        wanted = "a whole number" if converter is int else "a number of seconds"
        raise usage.UsageError(f"{option} takes {wanted}, not {value!r}") from None


def _endpoint(port: str) -> str:
    description = f"tcp:{port}" if port.isdigit() else port
    from twisted.internet import reactor

    try:
        serverFromString(reactor, description)
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise usage.UsageError(
            f"--port: {port!r} is not a port number or endpoint string ({error})"
        ) from None
    return description


def _workers(given: str | None, in_file: Any) -> int:
    """The number of worker processes, from the command line or else the file, checked."""
    if given is None and in_file is None:
        return 1
    option = "--workers" if given is not None else "workers in the config file"
    workers: int = _coerce(option, given if given is not None else in_file, int)
    if not 1 <= workers <= MAX_WORKERS:
        raise usage.UsageError(f"{option} must be from 1 to {MAX_WORKERS}, not {workers}")
    return workers


def _tcp_addresses(endpoints: list[str]) -> list[TCPAddress]:
    """Where each endpoint listens; workers share TCP ports only."""
    addresses = []
    for description in endpoints:
        address = tcp_address(description)
        if address is None:
            raise usage.UsageError(
                f"--workers: workers can share TCP ports only, not {description!r}"
            )
        addresses.append(address)
    return addresses


def _split_mount(spec: str) -> tuple[str, str]:
    if spec.startswith("/") and "=" in spec:
        prefix, _, target = spec.partition("=")
        return prefix, target
    return "/", spec


# StaticFiles keyword -> value type, as the config file spells them: top-level
# "static_<name>" keys for every mount, or bare names in a [[static]] table.
_STATIC_OPTIONS: dict[str, type] = {
    "index": list, "listing": bool, "max_age": int, "follow_symlinks": bool,
    "dotfiles": bool, "precompressed": bool, "types": dict, "max_ranges": int,
    "cache_entries": int, "cache_bytes": int,
}
_STATIC_KEYS = {f"static_{name}" for name in _STATIC_OPTIONS}


def _static_settings(
    file_values: dict[str, Any], options: usage.Options
) -> tuple[dict[str, Any], dict[str, Any]]:
    """StaticFiles options for every mount: from the file's static_* keys, and from the
    command line (which wins over everything in the file)."""
    file_defaults = {
        name: file_values[f"static_{name}"]
        for name in _STATIC_OPTIONS
        if f"static_{name}" in file_values
    }
    settings: dict[str, Any] = {}
    if options["static-index"]:
        settings["index"] = list(options["static-index"])
    for flag, name, value in (("static-listing", "listing", True),
                              ("static-follow-symlinks", "follow_symlinks", True),
                              ("static-dotfiles", "dotfiles", True),
                              ("static-no-precompressed", "precompressed", False)):
        if options[flag]:
            settings[name] = value
    if options["static-max-age"] is not None:
        settings["max_age"] = _coerce("--static-max-age", options["static-max-age"], int)
    if options["static-type"]:
        types = dict(settings.get("types", {}))
        for spec in options["static-type"]:
            extension, equals, content_type = spec.partition("=")
            if not equals:
                raise usage.UsageError(f"--static-type: {spec!r} is not .EXT=TYPE")
            types[extension] = content_type
        settings["types"] = {**file_defaults.get("types", {}), **types}
    return file_defaults, settings


def _static_mount(
    spec: Any, file_defaults: dict[str, Any] | None = None,
    command_line: dict[str, Any] | None = None,
) -> tuple[bytes, str, Any]:
    """(prefix, "static", DIR or (DIR, StaticFiles keyword arguments)), checked.

    Options: the file's static_* keys, then a [[static]] table's own keys, then
    the command line's --static-* options.
    """
    table: dict[str, Any] = {}
    if isinstance(spec, dict):
        table = {key.replace("-", "_"): value for key, value in spec.items()}
        prefix, directory = str(table.pop("prefix", "/")), table.pop("dir")
        unknown = sorted(set(table) - set(_STATIC_OPTIONS))
        if unknown:
            raise usage.UsageError(
                f"--config: unknown key {unknown[0]!r} in a [[static]] table;"
                f" allowed: prefix, dir, {', '.join(_STATIC_OPTIONS)}"
            )
    else:
        prefix, directory = _split_mount(spec)
    settings = {**(file_defaults or {}), **table, **(command_line or {})}
    if not os.path.isdir(directory):
        raise usage.UsageError(f"--static: {directory!r} is not a directory")
    if isinstance(settings.get("index"), str):
        settings["index"] = [settings["index"]]
    for name, value in settings.items():
        kind = _STATIC_OPTIONS[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            wanted = {bool: "true or false", int: "a whole number", list: "a list of names",
                      dict: "a table"}[kind]
            raise usage.UsageError(f"static option {name!r} takes {wanted}, not {value!r}")
    kwargs = {("content_types" if name == "types" else name): value
              for name, value in settings.items()}
    try:
        StaticFiles(directory, **kwargs)
    except ValueError as error:
        raise usage.UsageError(f"--static: {error}") from None
    # A mount with no options keeps the plain directory as its target.
    return normalize_prefix(prefix), "static", (directory, kwargs) if kwargs else directory


def _wsgi_mount(spec: str, pythonpath: list[str]) -> tuple[bytes, str, Any]:
    prefix, target = _split_mount(spec)
    return normalize_prefix(prefix), "wsgi", load_app(target, pythonpath)


def load_app(spec: str, pythonpath: list[str] = ()) -> Any:  # type: ignore[assignment]
    """Import ``module:callable``, or call ``module:factory()``; UsageError if it fails."""
    module_name, colon, attribute = spec.partition(":")
    call = attribute.endswith("()")
    attribute = attribute.removesuffix("()")
    if not colon or not module_name or not attribute.isidentifier():
        raise usage.UsageError(
            f"--wsgi: {spec!r} is not MODULE:CALLABLE or MODULE:FACTORY()"
        )
    for directory in reversed(pythonpath):
        directory = os.path.abspath(directory)
        if directory not in sys.path:
            sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise usage.UsageError(
            f"--wsgi: cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from None
    app = getattr(module, attribute, None)
    if app is None:
        raise usage.UsageError(f"--wsgi: module {module_name!r} has no {attribute!r}")
    if call:
        try:
            app = app()
        except Exception as error:
            raise usage.UsageError(
                f"--wsgi: {spec!r} failed: {type(error).__name__}: {error}"
            ) from None
    if not callable(app):
        raise usage.UsageError(f"--wsgi: {spec!r} is not callable")
    return app


class _ThreadPoolService(Service):
    """Starts the WSGI thread pool with the server and stops it (joining threads) after."""

    def __init__(self, pool: ThreadPool) -> None:
        self.pool = pool

    def startService(self) -> None:
        super().startService()
        self.pool.start()

    def stopService(self) -> None:
        super().stopService()
        self.pool.stop()


def makeService(options: Options, reactor: Any = None) -> IService:  # noqa: N802
    """The service ``twistd minihttp`` runs: one listening port per endpoint, or with
    ``--workers`` N > 1 a pool of N processes that each run one."""
    if reactor is None:
        from twisted.internet import reactor
    if options["workers"] > 1:
        from .workers import WorkerPool

        return WorkerPool(options["argv"], options["cwd"], options["addresses"],
                          options["workers"], reactor)
    service = MultiService()
    factory = make_site(options, reactor, service)
    for description in options["endpoints"]:
        endpoint = serverFromString(reactor, description)
        StreamServerEndpointService(endpoint, factory).setServiceParent(service)
    return service


def make_site(options: Options, reactor: Any, service: MultiService) -> HTTPFactory:
    """The factory serving ``options``' mounts; a WSGI thread pool, if any, runs under
    ``service``."""
    config: ServerConfig = options["config"]
    mounts: list[tuple[bytes, IRequestHandler]] = []
    pool = None
    for prefix, kind, target in options["mounts"]:
        if kind == "static":
            directory, static_options = target if isinstance(target, tuple) else (target, {})
            mounts.append((prefix, StaticFiles(directory, **static_options)))
        else:
            if pool is None:
                pool = ThreadPool(minthreads=0, maxthreads=config.threads, name="minihttp-wsgi")
                _ThreadPoolService(pool).setServiceParent(service)
            from ..wsgi.handler import WSGIHandler

            mounts.append((prefix, WSGIHandler(
                target, thread_pool=pool, reactor=reactor,
                thread_wait_timeout=config.thread_wait_timeout,
            )))
    return HTTPFactory(Router(mounts), config, clock=reactor)
