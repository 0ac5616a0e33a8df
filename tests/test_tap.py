"""The twistd command line and config file: parsed results pinned, every mistake one clear line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError

from twisted_http import ServerConfig
from twisted_http.serve.settings import StaticMount, WSGIMount
from twisted_http.serve.tap import makeService

from .support import parse, parse_options


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a static/ folder, as `make run` has."""
    (tmp_path / "static").mkdir()
    (tmp_path / "media").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_serve_static_on_port_8000(site: Path) -> None:
    """With no options: ./static at / on TCP port 8000, every limit at its default."""
    settings = parse()
    assert settings.port == ("tcp:8000",)
    assert settings.mounts() == [StaticMount(prefix="/", path="static")]
    assert settings.limits == ServerConfig()
    assert settings.workers == 1 and settings.pythonpath == ()


def test_every_option_is_parsed(site: Path) -> None:
    """The whole parsed result of a command line using every option, pinned."""
    settings = parse(
        "--port", "8080", "--port", "tcp:9090:interface=127.0.0.1", "-p", "unix:/tmp/minihttp.sock",
        "--static", "/=static", "--static", "/media/=media",
        "--max-request-line", "1000", "--max-header-line", "2000", "--max-head-size", "30000",
        "--max-headers", "50", "--max-body-size", "1048576", "--max-discard-size", "1024",
        "--first-request-timeout", "2.5", "--keep-alive-timeout", "3", "--head-timeout", "4",
        "--body-timeout", "5", "--write-timeout", "6", "--max-connections", "10",
        "--thread-wait-timeout", "7", "--threads", "7", "--no-access-log",
        "--server-header", "edge", "--wsgi-input-buffer", "100", "--wsgi-output-window", "200",
        "--wsgi-read-ahead-memory", "300", "--wsgi-read-ahead-size", "400",
    )
    assert settings.port == (
        "tcp:8080", "tcp:9090:interface=127.0.0.1", "unix:/tmp/minihttp.sock"
    )
    assert settings.mounts() == [StaticMount(prefix="/", path="static"),
                                 StaticMount(prefix="/media/", path="media")]
    assert settings.limits == ServerConfig(
        max_request_line=1000, max_header_line=2000, max_head_size=30000, max_headers=50,
        max_body_size=1048576, max_discard_size=1024, first_request_timeout=2.5,
        keep_alive_timeout=3, head_timeout=4, body_timeout=5, write_timeout=6,
        max_connections=10, thread_wait_timeout=7, threads=7, access_log=False,
        server_header=b"edge",
    )
    assert (settings.wsgi_options.input_buffer, settings.wsgi_options.output_window) == (
        100, 200)
    assert (settings.wsgi_options.read_ahead_memory, settings.wsgi_options.read_ahead_size) == (
        300, 400)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "nope"], "--port takes a port number or a Twisted endpoint string, not"
                             " 'nope' (Unknown endpoint type: 'nope')"),
        (["--port", "70000"], "--port takes port numbers up to 65535, not '70000'"),
        (["--threads", "x"], "--threads takes a whole number, not 'x'"),
        (["--threads", "2.7"], "--threads takes a whole number, not '2.7'"),
        (["--threads", "0"], "--threads must be at least 1, not 0"),
        (["--keep-alive-timeout", "-1"], "--keep-alive-timeout must be more than 0, not -1.0"),
        (["--head-timeout", "soon"], "--head-timeout takes a number, not 'soon'"),
        (["--head-timeout", "inf"], "--head-timeout takes a number, not 'inf'"),
        (["--static", "missing"],
         "--static must be a folder; there is none at 'missing'"),
        (["--static", "app=static"], "--static must be a folder; there is none at 'app=static'"),
        (["--wsgi", "no_colon"], "--wsgi takes [PREFIX=]MODULE:CALLABLE, not 'no_colon'"),
        (["--wsgi", "/x=a-b:app"], "--wsgi must be a module name like 'pkg.app', not 'a-b'"),
        (["--wsgi", "no_such_module_here:app"], "--wsgi: cannot import 'no_such_module_here':"
                                               " ModuleNotFoundError: No module named"
                                               " 'no_such_module_here'"),
        (["--max-request-line", "100000"],
         "--max-request-line must not exceed max_head_size (65536)"),
        (["--server-header", "a\x01"], "--server-header must be visible ASCII text, not"
                                        " b'a\\x01'"),
        (["--config", "absent.toml"], "--config: cannot read absent.toml: No such file or"
                                      " directory"),
    ],
)
def test_mistakes_are_one_line_naming_the_option(site: Path, argv: list[str], message: str) -> None:
    """A bad option or value is a UsageError of one line that names it."""
    with pytest.raises(UsageError) as error:
        parse(*argv)
    assert str(error.value) == message


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
    settings = parse("--pythonpath", str(app_dir), "--wsgi", "/app=demo_app:application",
                     "--wsgi", "/made=demo_app:make_app()", "--static", "static")
    assert settings.mounts() == [
        StaticMount(prefix="/", path="static"),
        WSGIMount(prefix="/app", module="demo_app", callable="application"),
        WSGIMount(prefix="/made", module="demo_app", callable="make_app()"),
    ]
    static, app, made = settings.mounts()
    assert isinstance(app, WSGIMount) and isinstance(made, WSGIMount)
    assert app.app is made.app
    assert app.app.__name__ == "application"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("demo_app:missing", "--wsgi: module 'demo_app' has no 'missing'"),
        ("demo_app:not_callable", "--wsgi: demo_app:not_callable is not callable"),
        ("demo_app:broken_factory()",
         "--wsgi: demo_app:broken_factory() failed: RuntimeError: no database"),
        ("explodes_on_import:app",
         "--wsgi: cannot import 'explodes_on_import': ImportError: missing dependency"),
    ],
)
def test_bad_wsgi_apps_are_reported_at_start_up(app_dir: Path, spec: str, message: str) -> None:
    """An app that cannot be loaded stops start-up with one line saying why."""
    with pytest.raises(UsageError) as error:
        parse("--pythonpath", str(app_dir), "--wsgi", spec)
    assert str(error.value) == message


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
    settings = parse("--config", str(conf_dir / "config.toml"))
    assert settings.port == ("tcp:8081", "tcp:8082:interface=127.0.0.1")
    assert settings.mounts() == [StaticMount(prefix="/", path=str(conf_dir / "public"))]
    assert settings.limits == ServerConfig(threads=3, keep_alive_timeout=2.5, access_log=False)


def test_command_line_wins_over_the_config_file(site: Path) -> None:
    """An option given on the command line replaces the file's value."""
    (site / "config.toml").write_text('port = 8081\nthreads = 3\nstatic = "static"\n')
    settings = parse("--config", "config.toml", "--threads", "9", "--port", "9999")
    assert settings.limits.threads == 9
    assert settings.port == ("tcp:9999",)


# -- makeService ------------------------------------------------------------------------------


def test_make_service_listens_on_every_endpoint(site: Path) -> None:
    """The service listens with one factory on each endpoint when started."""
    reactor = MemoryReactorClock()
    options = parse_options("--port", "8080", "--port", "tcp:8081:interface=127.0.0.1")
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


def test_wsgi_mounts_get_their_read_ahead_options() -> None:
    """--wsgi-read-ahead-memory and --wsgi-read-ahead-size reach every WSGIHandler."""

    from twisted_http.serve.tap import make_site
    from twisted_http.wsgi.handler import WSGIHandler

    settings = parse("--wsgi", "tests.apps.simple:hello", "--wsgi-read-ahead-memory", "3",
                     "--wsgi-read-ahead-size", "4")
    factory = make_site(settings, MemoryReactorClock()).factory
    [handler] = factory.router.route(b"/")[1]
    assert isinstance(handler, WSGIHandler)
    assert (handler.read_ahead_memory, handler.read_ahead_size) == (3, 4)
