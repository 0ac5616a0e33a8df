"""Mounts and their options: what a ``--static``/``--wsgi``/``--handler`` string or a
``[[static]]``/``[[wsgi]]``/``[[handler]]`` table becomes in the settings model (``settings``).

A mount class is a frozen attrs class whose ``setting`` fields are the keys of
its table, plus one ``section`` of options (``StaticOptions``,
``WSGIOptions``) whose fields are also top-level settings with the section's
prefix (``static_max_age``), the defaults of every mount of that kind.
``parse_spec`` turns the one-string form into the same keys.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import attrs

from ..handlers import spec
from ..static.filecache import DEFAULT_BYTES, DEFAULT_ENTRIES
from ..static.mimetypes import ContentTypes
from ..static.ranges import DEFAULT_MAX_RANGES
from ..wire.limits import at_least, setting
from .kinds import PATH, Kind, Refused, TextMap

# -- validators -------------------------------------------------------------------------------


def folder(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not os.path.isdir(value):
        raise ValueError(f"{attribute.name} must be a folder; there is none at {value!r}")


def _prefix(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.startswith("/"):
        raise ValueError(f"{attribute.name} must start with '/', not {value!r}")


def _plain_names(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for name in value:
        if not name or "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
            raise ValueError(f"{attribute.name} must be plain file names, not {name!r}")


def _optional_at_least_0(instance: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more seconds, not {value!r}")


def _media_types(instance: Any, attribute: attrs.Attribute[Any], value: dict[str, str]) -> None:
    ContentTypes(value)  # raises ValueError naming the bad extension or type


def _module_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not all(part.isidentifier() for part in value.split(".")):
        raise ValueError(f"{attribute.name} must be a module name like 'pkg.app', not {value!r}")


def _callable_name(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.removesuffix("()").isidentifier():
        raise ValueError(f"{attribute.name} must be a name, or NAME() to call an app factory,"
                         f" not {value!r}")


def section(cls: type, prefix: str = "", title: str = "") -> Any:
    """A field holding a group of settings whose keys are flattened with ``prefix``."""
    return attrs.field(factory=cls, metadata={"section": cls, "prefix": prefix, "title": title})


class MountKind(Kind):
    """A repeatable mount: ``"SPEC"`` strings, or tables in the file (``[[static]]``)."""

    repeatable = True

    def __init__(self, mount: Any, spec: str) -> None:
        self.mount = mount  # a mount class: frozen attrs, its fields the table keys
        self.spec = spec
        self.allowed = f'"{spec}" strings or tables'

    def show(self, value: object) -> str:
        return "none"


@attrs.frozen(kw_only=True)
class StaticOptions:
    """How a static mount serves its folder (docs/static.md): ``StaticFiles``' options."""

    index: tuple[str, ...] = setting(
        ("index.html",), validator=_plain_names, metavar="NAME",
        help="Index file of a folder; several are tried in order.",
        why="What every web server looks for.")
    listing: bool = setting(
        False, help="List the files of a folder that has no index file.",
        why="A listing shows what was perhaps not meant to be found.")
    max_age: int | None = setting(
        None, validator=_optional_at_least_0, metavar="SECONDS",
        help="Send Cache-Control: max-age=SECONDS with static files.",
        why="Without it browsers revalidate with the ETag, which is always right;"
            " only you know which files may be cached blind.")
    follow_symlinks: bool = setting(
        False, help="Follow symlinks that lead out of the folder.",
        why="A link out of the folder can expose any file the server may read.")
    dotfiles: bool = setting(
        False, help="Serve files and folders whose names start with '.'.",
        why=".git, .env and .htpasswd are not for visitors.")
    precompressed: bool = setting(
        True, help="Send a file's .br or .gz sibling to clients that accept it.",
        why="Compressed once at build time, sent for free.")
    types: dict[str, str] = setting(
        attrs.Factory(dict), validator=_media_types, kind=TextMap(".EXT=TYPE"), flag="type",
        metavar=".EXT=TYPE",
        help="Content-Type of files ending in .EXT, over the built-in table.",
        why="The built-in table covers the web's usual files.")
    max_ranges: int = setting(
        DEFAULT_MAX_RANGES, validator=at_least(1),
        help="Most ranges one request may ask for; more get the whole file.",
        why="Enough for any reader; a thousand tiny ranges cost more than the file.")
    cache_entries: int = setting(
        DEFAULT_ENTRIES, validator=at_least(0),
        help="Paths whose lookup is remembered per mount; 0 turns the cache off.",
        why="A site's hot set of pages, scripts, styles and icons.")
    cache_bytes: int = setting(
        DEFAULT_BYTES, validator=at_least(0),
        help="Bytes of small files kept in memory per mount; 0 keeps none.",
        why="Every small file of a typical site, and small next to the page cache.")

    def handler_options(self) -> dict[str, Any]:
        """``StaticFiles`` keyword arguments."""
        options = attrs.asdict(self)
        options["content_types"] = options.pop("types")
        return options


@attrs.frozen(kw_only=True)
class WSGIOptions:
    """How a WSGI mount moves bodies between the client and the app (docs/wsgi.md)."""

    input_buffer: int = setting(
        65536, validator=at_least(1),
        help="Bytes of a request body held for the app; a body that fits is read before"
             " the app starts, so its thread never waits for the client.",
        why="Most form posts and API bodies fit; a larger one streams.")
    output_window: int = setting(
        1 << 20, validator=at_least(1),
        help="Bytes of the app's output that may wait for the client before the app's"
             " thread waits.",
        why="Twisted is handed a stream in large batches: fewer reactor turns per byte.")
    read_ahead_memory: int = setting(
        1 << 20, validator=at_least(0),
        help="Bytes of a chunked request body held in memory while it is read before the"
             " app runs; the rest goes to a temporary file.",
        why="Form posts and JSON bodies fit; 4096 connections hold at most 4 GiB.")
    read_ahead_size: int = setting(
        1 << 30, validator=at_least(0),
        help="Largest chunked request body read before the app runs, so the app gets"
             " CONTENT_LENGTH and a seekable wsgi.input, and bad chunk framing gets its 400"
             " before the app runs; a longer one is streamed with no CONTENT_LENGTH"
             " (docs/wsgi.md); 0 streams every chunked body.",
        why="max_body_size's default: most apps (Django's among them) read exactly"
            " CONTENT_LENGTH bytes and see nothing without it. Costs disk for large"
            " chunked uploads, as in waitress.")


@attrs.frozen(kw_only=True)
class StaticMount:
    """A folder served at a prefix: ``--static [PREFIX=]DIR`` or a ``[[static]]`` table."""

    prefix: str = setting(
        "/", validator=_prefix, help="Where the folder appears in URLs.",
        why="The root, as a plain web server serves its folder.")
    path: str = setting(
        attrs.NOTHING, kind=PATH, validator=folder, aliases=("dir",),
        help="The folder to serve; relative to the config file.",
        why="Required.")
    options: StaticOptions = section(StaticOptions)

    @staticmethod
    def parse_spec(spec: str) -> dict[str, str]:
        prefix, path = _split_mount(spec)
        return {"prefix": prefix, "path": path}


@attrs.frozen(kw_only=True)
class WSGIMount:
    """A WSGI app at a prefix: ``--wsgi [PREFIX=]MODULE:CALLABLE`` or a ``[[wsgi]]`` table.

    ``app`` is the loaded application, filled in by the conversion.
    """

    prefix: str = setting(
        "/", validator=_prefix, help="Where the app appears in URLs.",
        why="The root: a site that is all app.")
    module: str = setting(
        attrs.NOTHING, validator=_module_name, help="The module to import the app from.",
        why="Required.")
    callable: str = setting(
        "application", validator=_callable_name,
        help="The app's name in the module; NAME() calls an app factory.",
        why="What PEP 3333's examples and mod_wsgi call it.")
    path: str | None = setting(
        None, kind=PATH, validator=folder,
        help="Folder to import the module from, relative to the config file.",
        why="Imports come from --pythonpath and the current folder.")
    options: WSGIOptions = section(WSGIOptions)
    app: Any = attrs.field(default=None, eq=False, repr=False)

    @staticmethod
    def parse_spec(spec: str) -> dict[str, str]:
        prefix, target = _split_mount(spec)
        module, colon, name = target.partition(":")
        if not colon or not module or not name:
            raise Refused
        return {"prefix": prefix, "module": module, "callable": name}


def _handler_spec(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        spec.parse(value)
    except ValueError as error:
        raise ValueError(f"{attribute.name} {error}") from None


@attrs.frozen(kw_only=True)
class HandlerMount:
    """A protocol handler at a prefix: ``--handler [PREFIX=]SPEC`` or a ``[[handler]]``
    table, whose keys besides ``prefix`` and ``handler`` are the handler's options
    (docs/extending.md). ``options`` gathers them with the spec's own
    ``(key=value)``; ``built`` is the handler, built by the conversion."""

    open_table: ClassVar[bool] = True  # a table's other keys are options, not mistakes
    prefix: str = setting("/", validator=_prefix, help="Where the handler answers.",
                          why="The root.")
    handler: str = setting(
        attrs.NOTHING, validator=_handler_spec,
        help="A handler's name (twistd minihttp --list-handlers) or MODULE:FACTORY,"
             " with its options in parentheses: redirect(to=/new, status=308).",
        why="Required.")
    options: dict[str, Any] = attrs.field(factory=dict)
    built: Any = attrs.field(default=None, eq=False, repr=False)

    @staticmethod
    def parse_spec(text: str) -> dict[str, str]:
        prefix, target = _split_mount(text)
        return {"prefix": prefix, "handler": target}


def _split_mount(spec: str) -> tuple[str, str]:
    if spec.startswith("/") and "=" in spec:
        prefix, _, target = spec.partition("=")
        return prefix, target
    return "/", spec
