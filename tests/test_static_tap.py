"""The static options on the command line and in the config file, down to the StaticFiles built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.internet.testing import MemoryReactor
from twisted.python.usage import UsageError

from twisted_http import StaticFiles
from twisted_http.serve.tap import Options, makeService

from .support import parse


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "public").mkdir()
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def built(options: Options) -> dict[bytes, StaticFiles]:
    """The StaticFiles makeService mounts, by prefix."""
    reactor = MemoryReactor()
    service = makeService(options, reactor)
    service.startService()
    try:
        [factory] = {factory for _, factory, _, _ in reactor.tcpServers}
        return {
            prefix: handler
            for prefix, handlers in factory.router.mounts
            for handler in handlers
            if isinstance(handler, StaticFiles)
        }
    finally:
        service.stopService()


def test_a_plain_mount_keeps_the_defaults(site: Path) -> None:
    """--static DIR alone: the target stays the directory, and StaticFiles has its defaults."""
    options = parse("--static", "public")
    assert options["mounts"] == [(b"", "static", "public")]
    handler = built(options)[b""]
    assert handler.index == ("index.html",)
    assert (handler.listing, handler.max_age, handler.follow_symlinks, handler.dotfiles,
            handler.precompressed) == (False, None, False, False, True)


def test_every_static_option_on_the_command_line(site: Path) -> None:
    """Each --static-* option reaches every mount's StaticFiles."""
    options = parse(
        "--static", "public", "--static", "/docs=docs", "--static-listing",
        "--static-index", "home.html", "--static-index", "index.htm",
        "--static-max-age", "600", "--static-follow-symlinks", "--static-dotfiles",
        "--static-no-precompressed", "--static-type", ".log=text/plain",
        "--static-type", "md=text/markdown; charset=latin-1",
    )
    expected: dict[str, Any] = {
        "listing": True, "index": ["home.html", "index.htm"], "max_age": 600,
        "follow_symlinks": True, "dotfiles": True, "precompressed": False,
        "content_types": {".log": "text/plain", "md": "text/markdown; charset=latin-1"},
    }
    assert options["mounts"] == [(b"", "static", ("public", expected)),
                                 (b"/docs", "static", ("docs", expected))]
    for handler in built(options).values():
        assert handler.index == ("home.html", "index.htm")
        assert (handler.listing, handler.max_age, handler.follow_symlinks, handler.dotfiles,
                handler.precompressed) == (True, 600, True, True, False)


def test_config_file_keys_tables_and_command_line_precedence(site: Path) -> None:
    """static_* keys apply to every mount, a [[static]] table's keys to its own, and the
    command line wins over both; table dirs are relative to the file."""
    conf = site / "conf"
    conf.mkdir()
    (conf / "site").mkdir()
    (conf / "minihttp.toml").write_text(
        'static_max_age = 60\n'
        'static_listing = true\n'
        '[[static]]\nprefix = "/a"\ndir = "site"\nmax-age = 5\nindex = "start.html"\n'
        'types = { ".x" = "text/x" }\n'
        '[[static]]\nprefix = "/b"\ndir = "site"\nlisting = false\n'
    )
    options = parse("--config", str(conf / "minihttp.toml"))
    handlers = built(options)
    assert (handlers[b"/a"].max_age, handlers[b"/a"].listing) == (5, True)
    assert handlers[b"/a"].index == ("start.html",)
    assert (handlers[b"/b"].max_age, handlers[b"/b"].listing) == (60, False)
    assert handlers[b"/a"].root == str((conf / "site").resolve())
    overridden = built(parse("--config", str(conf / "minihttp.toml"), "--static-max-age", "1"))
    assert overridden[b"/a"].max_age == overridden[b"/b"].max_age == 1


def test_cache_bounds_come_from_the_config_file(site: Path) -> None:
    """static_cache_entries / static_cache_bytes, and per mount cache_entries / cache_bytes,
    reach each mount's cache; with none, the defaults."""
    (site / "minihttp.toml").write_text(
        'static_cache_bytes = 4096\n'
        '[[static]]\nprefix = "/a"\ndir = "public"\ncache_entries = 0\n'
        '[[static]]\nprefix = "/b"\ndir = "docs"\ncache-entries = 10\n'
    )
    handlers = built(parse("--config", str(site / "minihttp.toml")))
    caches = {prefix: (h.cache.max_entries, h.cache.max_bytes) for prefix, h in handlers.items()}
    assert caches == {b"/a": (0, 4096), b"/b": (10, 4096)}
    default = built(parse("--static", "public"))[b""].cache
    assert (default.max_entries, default.max_bytes) == (1024, 16 * 1024 * 1024)


@pytest.mark.parametrize(("argv", "message"), [
    (["--static-max-age", "soon"], "--static-max-age takes a whole number"),
    (["--static-max-age", "-5"], "max_age must be 0 or more"),
    (["--static-type", "text/plain"], "is not .EXT=TYPE"),
    (["--static-type", ".x=nonsense"], "not a media type"),
    (["--static-index", "../up.html"], "plain file name"),
])
def test_bad_static_options_are_one_clear_line(site: Path, argv: list[str], message: str) -> None:
    """A bad static option is a UsageError naming it, before anything starts."""
    with pytest.raises(UsageError, match=message.replace(".", r"\.")):
        parse("--static", "public", *argv)


@pytest.mark.parametrize(("toml", "message"), [
    ('[[static]]\nprefix = "/a"\n', "needs dir"),
    ('[[static]]\ndir = "public"\nlisting = "yes"\n', "'listing' takes true or false"),
    ('[[static]]\ndir = "public"\nmax_age = true\n', "'max_age' takes a whole number"),
    ('[[static]]\ndir = "public"\ncolour = "red"\n', "unknown key 'colour'"),
    ('static_colour = 1\n', "unknown key 'static_colour'"),
    ('static_cache_bytes = -1\nstatic = "public"\n', "cache_bytes must be 0 or more"),
])
def test_bad_static_config_is_one_clear_line(site: Path, toml: str, message: str) -> None:
    """Mistakes in the config file's static settings are UsageErrors naming the key."""
    (site / "minihttp.toml").write_text(toml)
    with pytest.raises(UsageError, match=message):
        parse("--config", str(site / "minihttp.toml"))
