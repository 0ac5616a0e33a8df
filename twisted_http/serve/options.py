"""``twistd minihttp``'s command line, generated from the settings model.

Every setting (``settings.entries``) becomes an option whose handler only
records the raw text with where it came from; ``postOptions`` reads the
``--config`` file and hands both to the one conversion
(``convert.build_settings``). Its help text is the setting's own, so
``--help`` lists every setting there is.

twistd answers a ``UsageError`` by printing the whole help text, then the
error, with exit status 1. ``Options.parseOptions``, which twistd calls,
instead writes the one line (``minihttp: ...``) to stderr and exits with
status 2, as command-line tools do for usage errors. ``Options.parse`` is the
same parse raising ``UsageError``, for the workers and the tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from twisted.python import usage

from .configfile import ConfigFileError, read_config
from .convert import SettingsError, build_settings
from .kinds import Given, Origin
from .settings import Entry, Settings, entries


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Serve static folders, WSGI apps and protocol handlers over HTTP/1.1. With no"
        " --static, --wsgi or --handler, ./static is served at /. Mounts take [PREFIX=]:"
        " the longest prefix wins, and on one prefix a static file is tried before an app,"
        " and an app before a handler. Every option is also a key of the --config file"
        " (docs/configuration.md)."
    )

    def __init__(self) -> None:
        super().__init__()
        self.given: dict[str, Given] = {}
        self.config_file: str | None = None
        self.argv: list[str] = []
        self.cwd = ""
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The settings parsed; only after a successful parse."""
        assert self._settings is not None, "parse the options first"
        return self._settings

    def parseOptions(self, options: Sequence[str] | None = None) -> None:  # noqa: N802
        """twistd's entry: parse, or write the one-line error to stderr and exit 2."""
        try:
            self.parse(options)
        except usage.UsageError as error:
            sys.stderr.write(f"minihttp: {error}\n")
            sys.stderr.flush()
            raise SystemExit(2) from None

    def parse(self, options: Sequence[str] | None = None) -> Settings:
        """Parse ``options`` (default ``sys.argv[1:]``); UsageError for any mistake. The
        arguments are kept: ``--workers`` starts each worker with them."""
        self.argv = list(sys.argv[1:] if options is None else options)
        self.cwd = os.getcwd()
        super().parseOptions(options)
        return self.settings

    def opt_list_handlers(self) -> None:
        """List the handlers --handler can mount by name (built-in and plugins), and exit."""
        from ..handlers.registry import listing

        try:
            sys.stdout.write(listing())
        except ValueError as error:  # two plugins of one name
            raise SettingsError(str(error)) from None
        sys.stdout.flush()
        raise SystemExit(0)

    def opt_config(self, value: str) -> None:
        """A TOML file setting any of these (docs/configuration.md); the command line wins."""
        self.config_file = value

    def postOptions(self) -> None:
        try:
            config = read_config(self.config_file) if self.config_file is not None else None
        except ConfigFileError as error:
            raise SettingsError(str(error)) from None
        self._settings = build_settings(self.given, config)


def _handler(entry: Entry) -> Callable[..., None]:
    """The ``opt_`` method recording ``entry``'s raw value."""
    option = entry.option
    name = entry.name

    if entry.is_flag:
        def flag(self: Options) -> None:
            self.given[name] = Given(True, Origin(option))

        flag.__doc__ = entry.help + (
            " On by default; this turns it off." if entry.field.default else "")
        return flag

    def parameter(self: Options, value: str) -> None:
        earlier = self.given.get(name)
        texts = [*earlier.value, value] if earlier is not None else [value]
        self.given[name] = Given(texts, Origin(option))

    parameter.__doc__ = f"{entry.help} [default: {entry.default_text()}]"
    return parameter


def _install(cls: type[usage.Options]) -> None:
    """Give ``cls`` an option per setting (and its short form)."""
    for entry in entries():
        handler = _handler(entry)
        method = "opt_" + entry.option[2:].replace("-", "_")
        handler.__name__ = method
        setattr(cls, method, handler)
        short: Any = entry.field.metadata.get("short")
        if short:
            setattr(cls, "opt_" + short, handler)


_install(Options)
