"""The twistd command line and config file: parsed results pinned, every mistake one clear line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from twisted.internet.testing import MemoryReactor
from twisted.python.usage import UsageError

from twisted_http import ServerConfig
from twisted_http.serve.tap import makeService

from .support import parse


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a static/ folder, as `make run` has."""
    (tmp_path / "static").mkdir()
    (tmp_path / "media").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_serve_static_on_port_8000(site: Path) -> None:
    """With no options: ./static at / on TCP port 8000, every limit at its default."""
    options = parse()
    assert options["endpoints"] == ["tcp:8000"]
    assert options["mounts"] == [(b"", "static", "static")]
    assert options["config"] == ServerConfig()


def test_every_option_is_parsed(site: Path) -> None:
    """The whole parsed result of a command line using every option, pinned."""
    options = parse(
        "--port", "8080", "--port", "tcp:9090:interface=127.0.0.1", "-p", "unix:/tmp/minihttp.sock",
        "--static", "/=static", "--static", "/media/=media",
        "--max-request-line", "1000", "--max-header-line", "2000", "--max-head-size", "30000",
        "--max-headers", "50", "--max-body-size", "1048576", "--max-discard-size", "1024",
        "--first-request-timeout", "2.5", "--keep-alive-timeout", "3", "--head-timeout", "4",
        "--body-timeout", "5", "--threads", "7", "--no-access-log",
    )
    assert options["endpoints"] == [
        "tcp:8080", "tcp:9090:interface=127.0.0.1", "unix:/tmp/minihttp.sock"
    ]
    assert options["mounts"] == [(b"", "static", "static"), (b"/media", "static", "media")]
    assert options["config"] == ServerConfig(
        max_request_line=1000, max_header_line=2000, max_head_size=30000, max_headers=50,
        max_body_size=1048576, max_discard_size=1024, first_request_timeout=2.5,
        keep_alive_timeout=3, head_timeout=4, body_timeout=5, threads=7, access_log=False,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "nope"], "--port: 'nope' is not a port number or endpoint string"),
        (["--threads", "x"], "--threads takes a whole number, not 'x'"),
        (["--threads", "0"], "threads must be at least 1"),
        (["--keep-alive-timeout", "-1"], "keep-alive-timeout must be positive"),
        (["--head-timeout", "soon"], "--head-timeout takes a number of seconds, not 'soon'"),
        (["--static", "missing"], "--static: 'missing' is not a directory"),
        (["--wsgi", "no_colon"], "--wsgi: 'no_colon' is not MODULE:CALLABLE or MODULE:FACTORY()"),
        (["--wsgi", "no_such_module_here:app"], "--wsgi: cannot import 'no_such_module_here'"),
        (["--max-request-line", "100000"], "max-request-line must not exceed max-head-size"),
        (["--config", "absent.toml"], "--config: cannot read absent.toml"),
    ],
)
def test_mistakes_are_one_line_naming_the_option(site: Path, argv: list[str], message: str) -> None:
    """A bad option or value is a UsageError of one line that names it."""
    with pytest.raises(UsageError) as error:
        parse(*argv)
    text = str(error.value)
    assert message in text
    assert "\n" not in text


def test_unknown_option_is_refused(site: Path) -> None:
    """An option that does not exist is a usage error, not a traceback."""
    with pytest.raises(UsageError, match="no-such-option"):
        parse("--no-such-option")


# -- WSGI app specs ----------------------------------------------------------------------------


@pytest.fixture
def app_dir(site: Path) -> Path:
    apps = site / "apps"
    apps.mkdir()
    (apps / "demo_app.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'hi']\n"
        "def make_app():\n"
        "    return application\n"
        "def broken_factory():\n"
        "    raise RuntimeError('no database')\n"
        "not_callable = 42\n"
        "raise_on_import = None\n"
    )
    (apps / "explodes_on_import.py").write_text("raise ImportError('missing dependency')\n")
    return apps


def test_wsgi_app_and_factory_are_loaded_at_parse_time(app_dir: Path) -> None:
    """module:callable is imported, module:factory() is called; apps mount after statics."""
    options = parse("--pythonpath", str(app_dir), "--wsgi", "/app=demo_app:application",
                    "--wsgi", "/made=demo_app:make_app()", "--static", "static")
    prefixes = [(prefix, kind) for prefix, kind, _ in options["mounts"]]
    assert prefixes == [(b"", "static"), (b"/app", "wsgi"), (b"/made", "wsgi")]
    assert options["mounts"][1][2] is options["mounts"][2][2]
    assert options["mounts"][1][2].__name__ == "application"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("demo_app:missing", "module 'demo_app' has no 'missing'"),
        ("demo_app:not_callable", "'demo_app:not_callable' is not callable"),
        ("demo_app:broken_factory()", "RuntimeError: no database"),
        ("explodes_on_import:app", "ImportError: missing dependency"),
    ],
)
def test_bad_wsgi_apps_are_reported_at_start_up(app_dir: Path, spec: str, message: str) -> None:
    """An app that cannot be loaded stops start-up with one line saying why."""
    with pytest.raises(UsageError) as error:
        parse("--pythonpath", str(app_dir), "--wsgi", spec)
    assert message in str(error.value) and "\n" not in str(error.value)


# -- the config file ----------------------------------------------------------------------------


def test_config_file_sets_everything_relative_to_itself(site: Path) -> None:
    """Ports, mounts, limits and the Python path come from TOML; paths are relative to the file."""
    conf_dir = site / "conf"
    (conf_dir / "public").mkdir(parents=True)
    (conf_dir / "config.toml").write_text(
        'port = [8081, "tcp:8082:interface=127.0.0.1"]\n'
        'static = ["/=public"]\n'
        "threads = 3\n"
        "keep-alive-timeout = 2.5\n"
        "access_log = false\n"
    )
    options = parse("--config", str(conf_dir / "config.toml"))
    assert options["endpoints"] == ["tcp:8081", "tcp:8082:interface=127.0.0.1"]
    assert options["mounts"] == [(b"", "static", str(conf_dir / "public"))]
    assert options["config"] == ServerConfig(threads=3, keep_alive_timeout=2.5, access_log=False)


def test_command_line_wins_over_the_config_file(site: Path) -> None:
    """An option given on the command line replaces the file's value."""
    (site / "config.toml").write_text('port = 8081\nthreads = 3\nstatic = "static"\n')
    options = parse("--config", "config.toml", "--threads", "9", "--port", "9999")
    assert options["config"].threads == 9
    assert options["endpoints"] == ["tcp:9999"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 'blue'\n", "unknown key 'colour'"),
        ("threads = 'many'\n", "threads in the config file takes a whole number"),
        ("threads = [\n", "is not valid TOML"),
    ],
)
def test_config_file_mistakes(site: Path, text: str, message: str) -> None:
    """A bad config file is reported in one line naming the key or the syntax error."""
    (site / "config.toml").write_text(text)
    with pytest.raises(UsageError) as error:
        parse("--config", "config.toml")
    assert message in str(error.value)


# -- makeService ------------------------------------------------------------------------------


def test_make_service_listens_on_every_endpoint(site: Path) -> None:
    """The service listens with one factory on each endpoint when started."""
    reactor = MemoryReactor()
    options = parse("--port", "8080", "--port", "tcp:8081:interface=127.0.0.1")
    service = makeService(options, reactor)
    service.startService()
    try:
        ports = [(port, interface) for port, _, _, interface in reactor.tcpServers]
        assert ports == [(8080, ""), (8081, "127.0.0.1")]
        factories = {factory for _, factory, _, _ in reactor.tcpServers}
        assert len(factories) == 1
        [factory] = factories
        assert factory.config == ServerConfig()
        assert factory.clock is reactor
    finally:
        service.stopService()


def test_plugin_is_lazy_and_found_by_twistd() -> None:
    """twistd finds the minihttp plugin, and the plugin file itself imports nothing of ours."""
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins

    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert makers["minihttp"].module == "twisted_http.serve.tap"
    source = (Path(__file__).parent.parent / "twisted/plugins/minihttp_plugin.py").read_text()
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert imported == ["twisted.application.service"]
