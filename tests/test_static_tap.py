"""The static options on the command line and in the config file, down to the StaticFiles built."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError

from twisted_http import StaticFiles
from twisted_http.serve.options import Options
from twisted_http.serve.settings import StaticMount, StaticOptions
from twisted_http.serve.tap import makeService

from .support import parse, parse_options


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "public").mkdir()
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def built(options: Options) -> dict[bytes, StaticFiles]:
    """The StaticFiles makeService mounts, by prefix."""
    reactor = MemoryReactorClock()
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
    options = parse_options("--static", "public")
    assert options.settings.mounts() == [StaticMount(prefix="/", path="public")]
    handler = built(options)[b""]
    assert handler.index == ("index.html",)
    assert (handler.listing, handler.max_age, handler.follow_symlinks, handler.dotfiles,
            handler.precompressed) == (False, None, False, False, True)


def test_every_static_option_on_the_command_line(site: Path) -> None:
    """Each --static-* option reaches every mount's StaticFiles."""
    options = parse_options(
        "--static", "public", "--static", "/docs=docs", "--static-listing",
        "--static-index", "home.html", "--static-index", "index.htm",
        "--static-max-age", "600", "--static-follow-symlinks", "--static-dotfiles",
        "--static-no-precompressed", "--static-type", ".log=text/plain",
        "--static-type", "md=text/markdown; charset=latin-1",
    )
    expected = StaticOptions(
        listing=True, index=("home.html", "index.htm"), max_age=600,
        follow_symlinks=True, dotfiles=True, precompressed=False,
        types={".log": "text/plain", "md": "text/markdown; charset=latin-1"},
    )
    assert options.settings.mounts() == [
        StaticMount(prefix="/", path="public", options=expected),
        StaticMount(prefix="/docs", path="docs", options=expected),
    ]
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
    handlers = built(parse_options("--config", str(conf / "minihttp.toml")))
    assert (handlers[b"/a"].max_age, handlers[b"/a"].listing) == (5, True)
    assert handlers[b"/a"].index == ("start.html",)
    assert (handlers[b"/b"].max_age, handlers[b"/b"].listing) == (60, False)
    assert handlers[b"/a"].root == str((conf / "site").resolve())
    overridden = built(parse_options("--config", str(conf / "minihttp.toml"),
                                     "--static-max-age", "1"))
    assert overridden[b"/a"].max_age == overridden[b"/b"].max_age == 1


def test_cache_bounds_come_from_the_config_file(site: Path) -> None:
    """static_cache_entries / static_cache_bytes, and per mount cache_entries / cache_bytes,
    reach each mount's cache; with none, the defaults."""
    (site / "minihttp.toml").write_text(
        'static_cache_bytes = 4096\n'
        '[[static]]\nprefix = "/a"\ndir = "public"\ncache_entries = 0\n'
        '[[static]]\nprefix = "/b"\ndir = "docs"\ncache-entries = 10\n'
    )
    handlers = built(parse_options("--config", str(site / "minihttp.toml")))
    caches = {prefix: (h.cache.max_entries, h.cache.max_bytes) for prefix, h in handlers.items()}
    assert caches == {b"/a": (0, 4096), b"/b": (10, 4096)}
    default = built(parse_options("--static", "public"))[b""].cache
    assert (default.max_entries, default.max_bytes) == (1024, 16 * 1024 * 1024)


@pytest.mark.parametrize(("argv", "message"), [
    (["--static-max-age", "soon"], "--static-max-age takes a whole number, not 'soon'"),
    (["--static-max-age", "-5"], "--static-max-age must be 0 or more seconds, not -5"),
    (["--static-type", "text/plain"], "--static-type takes .EXT=TYPE, not 'text/plain'"),
    (["--static-type", ".x=nonsense"], "--static-type: not a media type for '.x': 'nonsense'"),
    (["--static-index", "../up.html"],
     "--static-index must be plain file names, not '../up.html'"),
])
def test_bad_static_options_are_one_clear_line(site: Path, argv: list[str], message: str) -> None:
    """A bad static option is a UsageError naming it, before anything starts."""
    with pytest.raises(UsageError) as error:
        parse("--static", "public", *argv)
    assert str(error.value) == message


@pytest.mark.parametrize(("toml", "message"), [
    ('[[static]]\nprefix = "/a"\n', "m.toml:1: [[static]] needs path = ..."),
    ('[[static]]\ndir = "public"\nlisting = "yes"\n',
     'm.toml:3: [[static]] listing takes true or false, not "yes"'),
    ('[[static]]\ndir = "public"\nmax_age = true\n',
     "m.toml:3: [[static]] max_age takes a whole number, not true"),
    ('[[static]]\ndir = "public"\ncolour = "red"\n',
     "m.toml:3: unknown key 'colour' in [[static]]; it takes prefix, path, dir, index,"
     " listing, max_age, follow_symlinks, dotfiles, precompressed, types, max_ranges,"
     " cache_entries, cache_bytes"),
    ('static_colour = 1\n', "m.toml:1: unknown key 'static_colour'; did you mean"
                            " 'static_dotfiles'?"),
    ('static_cache_bytes = -1\nstatic = "public"\n',
     "m.toml:1: static_cache_bytes must be at least 0, not -1"),
    ('[[static]]\ndir = "public"\npath = "public"\n',
     "m.toml:3: [[static]] path and dir name the same setting; keep one"),
])
def test_bad_static_config_is_one_clear_line(site: Path, toml: str, message: str) -> None:
    """Mistakes in the config file's static settings are UsageErrors naming the key."""
    (site / "m.toml").write_text(toml)
    with pytest.raises(UsageError) as error:
        parse("--config", "m.toml")
    assert str(error.value) == message
