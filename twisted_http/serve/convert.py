"""The one conversion: raw values from the command line and the config file -> ``Settings``.

Both sources arrive as ``Given`` values keyed by flat setting name (``threads``,
``static_max_age``), each with its ``Origin``. For every field of the model the
file's value is converted (strictly, by the field's kind), then the command
line's, which wins (or, for lists marked ``extend`` and tables of types, adds);
then the field's validator runs. Mounts come from the command line's strings
if it gives any, else from the file's strings and tables; a mount's options
are the file's top-level ones, then its table's, then the command line's.

Every mistake is a ``SettingsError`` of one line: the option, or the file, line
and key, then what is allowed. Nothing here prints or exits; ``options`` does.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from twisted.python.usage import UsageError

from .apps import AppError, load_app
from .configfile import ConfigFile
from .kinds import Boolean, Given, Kind, Origin, Refused, kind_of
from .listeners import listen_spec
from .settings import (
    DEFAULT_STATIC,
    HandlerMount,
    MountKind,
    Settings,
    WSGIMount,
    entries,
    table_keys,
)


class SettingsError(UsageError):
    """A bad option or config value; the message is one line naming it and what is allowed."""


Sources = Callable[[str], list[Given]]
_NOTHING: Any = attrs.NOTHING
_FLAT = {entry.name: entry for entry in entries()}


def build_settings(command_line: Mapping[str, Given], config: ConfigFile | None) -> Settings:
    """The settings the command line and the config file (if any) describe."""
    return _Builder(command_line, config).settings()


def _unknown(origin: Origin, key: str, allowed: list[str], hint: str) -> str:
    """``origin`` is the key's; the message names the closest allowed key, if one is close."""
    close = difflib.get_close_matches(key.replace("-", "_"), allowed, n=1)
    within = "" if origin.subject == key else f" in {origin.subject.removesuffix(key).strip()}"
    return (f"{origin.place}: unknown key {key!r}{within}; "
            + (f"did you mean {close[0]!r}?" if close else hint))


class _Builder:
    def __init__(self, command_line: Mapping[str, Given], config: ConfigFile | None) -> None:
        self.command_line = command_line
        self.config = config
        self.in_file: dict[str, Given] = {}
        self.raw_keys: dict[str, str] = {}  # the file's spelling, to find lines in its tables
        for key, value in (config.values if config is not None else {}).items():
            name = key.replace("-", "_")
            if name not in _FLAT:
                assert config is not None
                raise SettingsError(_unknown(config.origin((key,), key), key, list(_FLAT),
                                             "twistd minihttp --help lists them"))
            assert config is not None
            if name in self.in_file:  # keep-alive-timeout and keep_alive_timeout both
                raise SettingsError(f"{config.origin((key,), key)} and {self.raw_keys[name]}"
                                    " name the same setting; keep one")
            self.in_file[name] = Given(value, config.origin((key,), name))
            self.raw_keys[name] = key
        pythonpath = _FLAT["pythonpath"]
        given = self.top("pythonpath")
        self.pythonpath: tuple[str, ...] = (
            self.value(pythonpath.field, pythonpath.kind, given)[0] if given else ())

    def top(self, name: str) -> list[Given]:
        return [given for given in (self.in_file.get(name), self.command_line.get(name))
                if given is not None]

    def settings(self) -> Settings:
        settings: Settings = self.build(Settings, self.top)
        if not settings.static and not settings.wsgi and not settings.handler:
            origin = Origin(f"--static {DEFAULT_STATIC} (the default when nothing is mounted)")
            kind = _FLAT["static"].kind
            assert isinstance(kind, MountKind)
            static = self.mount("static", kind, Given(DEFAULT_STATIC, origin))
            settings = attrs.evolve(settings, static=(static,))
        if settings.pooled:
            for port in settings.port:
                if listen_spec(port) is None:
                    given = self.top("workers") or self.top("max_requests") or self.top("reload")
                    raise SettingsError(f"{given[-1].origin} can share TCP ports and systemd"
                                        f" sockets only, not {port!r}")
        return settings

    # -- fields ----------------------------------------------------------------------------

    def build(self, cls: type, sources: Sources, prefix: str = "",
              origin: Origin | None = None) -> Any:
        """An instance of ``cls`` from ``sources`` (by flat name), checked field by field."""
        values: dict[str, Any] = {}
        origins: dict[str, Origin] = {}
        for field in attrs.fields(cls):
            if "section" in field.metadata:
                values[field.name] = self.build(field.metadata["section"], sources,
                                                prefix + field.metadata["prefix"], origin)
                continue
            if "help" not in field.metadata:
                continue
            kind = kind_of(field)
            givens = sources(prefix + field.name)
            if not givens:
                if field.default is _NOTHING:
                    assert origin is not None
                    raise SettingsError(f"{origin} needs {field.name} = ...")
                continue
            if isinstance(kind, MountKind):
                values[field.name] = tuple(
                    self.mount(field.name, kind, given, index)
                    for index, given in enumerate(self.elements(kind, givens[-1], field.name))
                )
                continue
            values[field.name], origins[field.name] = self.value(field, kind, givens)
        try:
            return cls(**values)
        except ValueError as error:  # a check between fields (__attrs_post_init__)
            message = str(error)
            named = [name for name in origins if message.startswith(name)]
            where = origins[named[0]] if named else origin
            raise SettingsError(_explain(where, named[0] if named else "", message)) from None

    def value(self, field: attrs.Attribute[Any], kind: Kind,
              givens: list[Given]) -> tuple[Any, Origin]:
        value: Any = _NOTHING
        for given in givens:
            converted = self.convert(field, kind, given)
            value = converted if value is _NOTHING else kind.combine(value, converted)
        origin = givens[-1].origin
        if field.validator is not None:
            try:
                field.validator(None, field, value)
            except ValueError as error:
                raise SettingsError(_explain(origin, field.name, str(error))) from None
        return value, origin

    def convert(self, field: attrs.Attribute[Any], kind: Kind, given: Given) -> Any:
        origin = given.origin
        shown = given.value
        try:
            if origin.file is not None:
                return kind.from_file(given.value, origin)
            if isinstance(kind, Boolean):
                return not field.default  # a flag sets the opposite of the default
            texts = given.value if isinstance(given.value, list) else [given.value]
            shown = texts[-1]
            return kind.from_texts(texts, origin)
        except Refused as refused:
            if refused.args:
                raise SettingsError(str(refused.args[0])) from None
            raise SettingsError(
                f"{origin} takes {kind.allowed}, not {origin.show(shown)}") from None

    # -- mounts ----------------------------------------------------------------------------

    def elements(self, kind: MountKind, given: Given, name: str) -> list[Given]:
        """Each mount of a mount setting, as a spec string or a table, with its origin."""
        origin = given.origin
        if origin.file is None:
            return [Given(text, origin) for text in given.value]
        assert self.config is not None
        raw_key = self.raw_keys.get(name, name)
        value = given.value
        if isinstance(value, dict):
            raise SettingsError(f"{origin} must be [[{name}]], not [{name}]: one [[{name}]]"
                                f" table per mount")
        items = value if isinstance(value, list) else [value]
        elements = []
        for index, item in enumerate(items):
            if not isinstance(item, str | dict):
                raise SettingsError(
                    f"{origin} takes {kind.allowed}, not {origin.show(item)}")
            subject = f"[[{name}]]" if isinstance(item, dict) else name
            elements.append(Given(item, self.config.origin((raw_key, index), subject)))
        return elements

    def mount(self, name: str, kind: MountKind, element: Given, index: int = 0) -> Any:
        """One mount from its spec string or table; its options over the top-level ones."""
        origin = element.origin
        keys = table_keys(kind.mount)
        if isinstance(element.value, str):
            try:
                parts = kind.mount.parse_spec(element.value)
            except Refused:
                raise SettingsError(f"{origin} takes {kind.spec}, not"
                                    f" {origin.show(element.value)}") from None
            table = {key: Given(value, origin) for key, value in parts.items()}
        else:
            table = self.table(name, kind, element, keys, index)
        prefix = _options_prefix(kind.mount)
        own = {field.name for field in attrs.fields(kind.mount) if "help" in field.metadata}

        def sources(key: str) -> list[Given]:
            if key in own:
                return [table[key]] if key in table else []
            return [given for given in (self.in_file.get(prefix + key), table.get(key),
                                        self.command_line.get(prefix + key)) if given]

        mount = self.build(kind.mount, sources, origin=origin)
        if isinstance(mount, WSGIMount):
            try:
                mount = attrs.evolve(mount, app=load_app(mount, self.pythonpath))
            except AppError as error:
                where = table["module"].origin if "module" in table else origin
                raise SettingsError(f"{where}: {error}") from None
        if isinstance(mount, HandlerMount):
            mount = self.handler(mount, table, origin)
        return mount

    def handler(self, mount: HandlerMount, table: dict[str, Given],
                origin: Origin) -> HandlerMount:
        """Build the handler now, so a bad one stops start-up with one line (spec.py)."""
        from ..handlers import spec

        extras = table.get("options")
        where = table["handler"].origin if "handler" in table else origin
        try:
            parsed = spec.parse(mount.handler)
            options = dict(parsed.options)
            for key, value in (extras.value.items() if extras is not None else ()):
                if key in options:
                    raise ValueError(f"option {key!r} is given twice")
                options[key] = value
            built = spec.build(spec.HandlerSpec(mount.prefix, parsed.target, options),
                               self.pythonpath)
        except ValueError as error:
            raise SettingsError(f"{where}: {error}") from None
        return attrs.evolve(mount, options=options, built=built)

    def table(self, name: str, kind: MountKind, element: Given,
              keys: dict[str, attrs.Attribute[Any]], index: int) -> dict[str, Given]:
        assert self.config is not None
        raw_key = self.raw_keys.get(name, name)
        table: dict[str, Given] = {}
        written: dict[str, str] = {}  # field name -> the key that set it
        for key, value in element.value.items():
            origin = self.config.origin((raw_key, index, key), f"[[{name}]] {key}")
            field = keys.get(key.replace("-", "_"))
            if field is None and getattr(kind.mount, "open_table", False):
                options = table.setdefault("options", Given({}, element.origin)).value
                options[key.replace("-", "_")] = value  # the mount's own options
                continue
            if field is None:
                raise SettingsError(_unknown(origin, key, list(keys),
                                             "it takes " + ", ".join(keys)))
            if field.name in table:
                raise SettingsError(f"{origin} and {written[field.name]} name the same"
                                    " setting; keep one")
            table[field.name] = Given(value, origin)
            written[field.name] = key
        return table


def _options_prefix(mount: type) -> str:
    """The top-level prefix of a mount's options (``static_``); "" if it has none."""
    options = [field.metadata["section"] for field in attrs.fields(mount)
               if "section" in field.metadata]
    for field in attrs.fields(Settings):
        if options and field.metadata.get("section") is options[0]:
            return str(field.metadata["prefix"])
    return ""


def _explain(origin: Origin | None, name: str, message: str) -> str:
    """A validator's ``"NAME must ..."`` with NAME replaced by where the value came from."""
    if origin is None:
        return message
    if name and message.startswith(name + " "):
        return f"{origin} {message[len(name) + 1:]}"
    return f"{origin}: {message}"
