"""The settings model: the config file's mistakes, one exact line each with its line number;
the lesson's tables; where keys are found in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.python.usage import UsageError

from twisted_http.serve.configfile import key_lines
from twisted_http.serve.settings import StaticMount, StaticOptions, WSGIMount, WSGIOptions

from .support import parse

APP = (
    "def application(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [b'dynamic']\n"
)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The lesson's layout: static/, and dynamic/ holding the mini_frame-like app."""
    (tmp_path / "static").mkdir()
    (tmp_path / "dynamic").mkdir()
    (tmp_path / "dynamic" / "lesson_frame.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refusal(site: Path, text: str) -> str:
    """The one-line message for the config file ``text``."""
    (site / "site.toml").write_text(text)
    with pytest.raises(UsageError) as error:
        parse("--config", "site.toml")
    message = str(error.value)
    assert "\n" not in message
    return message


TWO_APPS = """\
port = 8000

[[wsgi]]
prefix = "/a"
module = "lesson_frame"
path = "dynamic"

[[wsgi]]
prefix = "/b"
module = "lesson_frame"
{line}
"""


# -- one test per kind of mistake ------------------------------------------------------------


def test_a_float_for_a_whole_number(site: Path) -> None:
    """threads = 2.7 is refused, not rounded down to 2."""
    assert refusal(site, "# threads\n\nthreads = 2.7\n") == (
        "site.toml:3: threads takes a whole number, not 2.7")


def test_a_boolean_for_a_whole_number(site: Path) -> None:
    """max_body_size = true is refused, not taken as 1."""
    assert refusal(site, "threads = 4\nmax_body_size = true\n") == (
        "site.toml:2: max_body_size takes a whole number, not true")


def test_a_string_for_a_boolean(site: Path) -> None:
    """access_log = "no" is refused rather than being true because it is not empty."""
    assert refusal(site, 'access_log = "no"\n') == (
        'site.toml:1: access_log takes true or false, not "no"')


def test_a_string_for_a_number(site: Path) -> None:
    """Seconds as a string are refused: the file has numbers for numbers."""
    assert refusal(site, 'keep_alive_timeout = "30"\n') == (
        'site.toml:1: keep_alive_timeout takes a number, not "30"')


def test_an_unknown_key_names_the_closest(site: Path) -> None:
    assert refusal(site, "port = 8000\nthread = 4\n") == (
        "site.toml:2: unknown key 'thread'; did you mean 'threads'?")
    assert refusal(site, "colour = 'blue'\n") == (
        "site.toml:1: unknown key 'colour'; twistd minihttp --help lists them")


def test_an_unknown_key_in_the_second_wsgi_table(site: Path) -> None:
    """The line is the key's own, inside the second [[wsgi]] table."""
    assert refusal(site, TWO_APPS.format(line='calable = "application"')) == (
        "site.toml:11: unknown key 'calable' in [[wsgi]]; did you mean 'callable'?")
    assert refusal(site, TWO_APPS.format(line='app = "application"')) == (
        "site.toml:11: unknown key 'app' in [[wsgi]]; it takes prefix, module, callable,"
        " path, input_buffer, output_window, read_ahead_memory, read_ahead_size")


def test_a_bad_value_in_the_second_wsgi_table(site: Path) -> None:
    assert refusal(site, TWO_APPS.format(line="input_buffer = 2.5")) == (
        "site.toml:11: [[wsgi]] input_buffer takes a whole number, not 2.5")
    assert refusal(site, TWO_APPS.format(line="callable = 'app-lication'")) == (
        "site.toml:11: [[wsgi]] callable must be a name, or NAME() to call an app factory,"
        " not 'app-lication'")


def test_a_table_of_the_wrong_kind(site: Path) -> None:
    """[wsgi] for [[wsgi]], a table where a number goes, a number where mounts go."""
    assert refusal(site, '\n[wsgi]\nmodule = "lesson_frame"\n') == (
        "site.toml:2: wsgi must be [[wsgi]], not [wsgi]: one [[wsgi]] table per mount")
    assert refusal(site, "[threads]\nmost = 4\n") == (
        "site.toml:1: threads takes a whole number, not a table")
    assert refusal(site, "static = 3\n") == (
        'site.toml:1: static takes "[PREFIX=]DIR" strings or tables, not 3')
    assert refusal(site, "[[static]]\nprefix = '/'\n") == (
        "site.toml:1: [[static]] needs path = ...")


def test_a_bad_port(site: Path) -> None:
    assert refusal(site, 'threads = 2\nport = ["8000", "nope"]\n') == (
        "site.toml:2: port takes a port number or a Twisted endpoint string, not \"nope\""
        " (Unknown endpoint type: 'nope')")
    assert refusal(site, "port = [8000, true]\n") == (
        "site.toml:1: port takes a port number or a Twisted endpoint string or a list of"
        " them, not true")
    assert refusal(site, "port = 80000\n") == (
        "site.toml:1: port takes port numbers up to 65535, not 80000")


def test_a_missing_folder(site: Path) -> None:
    """Folders are relative to the file, and the message shows where it looked."""
    assert refusal(site, '[[static]]\nprefix = "/"\npath = "nowhere"\n') == (
        f"site.toml:3: [[static]] path must be a folder; there is none at"
        f" {str(site / 'nowhere')!r}")
    assert refusal(site, TWO_APPS.format(line='path = "missing"')) == (
        f"site.toml:11: [[wsgi]] path must be a folder; there is none at"
        f" {str(site / 'missing')!r}")


def test_an_app_that_cannot_be_imported(site: Path) -> None:
    assert refusal(site, '[[wsgi]]\nmodule = "no_such_frame"\n') == (
        "site.toml:2: [[wsgi]] module: cannot import 'no_such_frame': ModuleNotFoundError:"
        " No module named 'no_such_frame'")
    assert refusal(site, '[[wsgi]]\nmodule = "lesson_frame"\npath = "dynamic"\n'
                         'callable = "app"\n') == (
        "site.toml:2: [[wsgi]] module: module 'lesson_frame' has no 'app'")


def test_a_file_that_is_not_toml(site: Path) -> None:
    assert refusal(site, "threads = 1\nport = [\n") == (
        "site.toml: not valid TOML: Invalid value (at end of document)")
    assert refusal(site, "threads = 1\nthreads = 2\n") == (
        "site.toml:2: not valid TOML: Cannot overwrite a value")


# -- what the file sets ---------------------------------------------------------------------


def test_the_lessons_five_settings_as_tables(site: Path) -> None:
    """Static folder, app folder, port, app module and callable; folders relative to the file."""
    (site / "conf").mkdir()
    (site / "conf" / "web_server.toml").write_text(
        "port = 7890\n"
        "[[static]]\nprefix = \"/\"\npath = \"../static\"\n"
        "[[wsgi]]\nprefix = \"/app\"\nmodule = \"lesson_frame\"\ncallable = \"application\"\n"
        "path = \"../dynamic\"\ninput_buffer = 1024\n"
    )
    settings = parse("--config", "conf/web_server.toml")
    assert settings.port == ("tcp:7890",)
    static, app = settings.mounts()
    assert static == StaticMount(prefix="/", path=str(site / "conf" / "../static"))
    assert app == WSGIMount(prefix="/app", module="lesson_frame", callable="application",
                            path=str(site / "conf" / "../dynamic"),
                            options=WSGIOptions(input_buffer=1024))
    assert isinstance(app, WSGIMount) and app.app.__name__ == "application"


def test_dir_is_the_older_name_of_path(site: Path) -> None:
    (site / "site.toml").write_text('[[static]]\ndir = "static"\nlisting = true\n')
    assert parse("--config", "site.toml").mounts() == [
        StaticMount(prefix="/", path=str(site / "static"), options=StaticOptions(listing=True))]


def test_port_as_int_string_or_list(site: Path) -> None:
    for text, ports in [("port = 8080", ("tcp:8080",)), ('port = "8080"', ("tcp:8080",)),
                        ('port = [8080, "unix:/tmp/m.sock"]', ("tcp:8080", "unix:/tmp/m.sock"))]:
        (site / "site.toml").write_text(text + "\n")
        assert parse("--config", "site.toml").port == ports


def test_dashes_or_underscores(site: Path) -> None:
    (site / "site.toml").write_text("keep-alive-timeout = 3\nstatic-listing = true\n")
    settings = parse("--config", "site.toml")
    assert settings.limits.keep_alive_timeout == 3.0 and settings.static_options.listing
    assert refusal(site, "keep-alive-timeout = 3\nkeep_alive_timeout = 4\n") == (
        "site.toml:2: keep_alive_timeout and keep-alive-timeout name the same setting;"
        " keep one")


def test_pythonpath_from_the_file_comes_before_the_command_lines(site: Path) -> None:
    (site / "other").mkdir()
    (site / "site.toml").write_text('pythonpath = ["dynamic"]\nwsgi = "lesson_frame:application"\n')
    settings = parse("--config", "site.toml", "--pythonpath", "other")
    assert settings.pythonpath == (str(site / "dynamic"), "other")


# -- where keys are --------------------------------------------------------------------------


def test_key_lines_of_tables_and_arrays_of_tables() -> None:
    text = (
        'a = 1\n'                       # 1
        'b = """\n'                     # 2
        'c = not a key\n'               # 3
        '"""\n'                         # 4
        'd = [\n'                       # 5
        '  "e = 1",\n'                  # 6
        ']\n'                           # 7
        '"quoted key" = { f = 1 }\n'    # 8
        '[[wsgi]]  # first\n'           # 9
        'module = "x"\n'                # 10
        '[[wsgi]]\n'                    # 11
        '\n'                            # 12
        '  module-name = "y"\n'         # 13
        '[table.sub]\n'                 # 14
        'g.h = 2\n'                     # 15
    )
    assert key_lines(text) == {
        ("a",): 1, ("b",): 2, ("d",): 5, ("quoted key",): 8,
        ("wsgi", 0): 9, ("wsgi", 0, "module"): 10,
        ("wsgi", 1): 11, ("wsgi", 1, "module-name"): 13,
        ("table", "sub"): 14, ("table", "sub", "g", "h"): 15,
    }


def test_the_lessons_file_in_running_md_serves_the_bundled_site(tmp_path: Path) -> None:
    """The minihttp side of docs/running.md's side-by-side is a config that works, here
    beside the bundled site's static/ and dynamic/ folders."""
    root = Path(__file__).parent.parent
    page = (root / "docs" / "running.md").read_text()
    example = page.split("```toml\n", 1)[1].split("```", 1)[0]
    assert "[[wsgi]]" in example and "[[static]]" in example
    for folder in ("static", "dynamic"):
        (tmp_path / folder).symlink_to(root / folder)
    (tmp_path / "web_server.toml").write_text(example)
    settings = parse("--config", str(tmp_path / "web_server.toml"))
    static, app = settings.mounts()
    assert settings.port == ("tcp:7890",)
    assert isinstance(static, StaticMount) and static.path == str(tmp_path / "static")
    assert isinstance(app, WSGIMount) and (app.module, app.callable) == (
        "mini_frame", "application")
    assert callable(app.app)


def test_a_new_setting_is_one_field_declaration() -> None:
    """The option, its repeatability, the kind of value and the --no- form all follow from
    the field: what the other issues' settings (shutdown_timeout, trusted_proxy, reload...)
    rely on."""
    import attrs

    from twisted_http.serve.kinds import Origin
    from twisted_http.serve.settings import entries
    from twisted_http.wire.limits import positive, setting

    @attrs.frozen(kw_only=True)
    class Extra:
        shutdown_timeout: float = setting(10.0, validator=positive, help="h.", why="w.")
        trusted_proxy: tuple[str, ...] = setting((), help="h.", why="w.")
        reload: bool = setting(False, help="h.", why="w.")
        metrics: bool = setting(True, help="h.", why="w.")
        max_requests: int | None = setting(None, help="h.", why="w.")

    found = {entry.name: (entry.option, entry.kind.allowed, entry.is_flag, entry.help)
             for entry in entries(Extra)}
    assert found == {
        "shutdown_timeout": ("--shutdown-timeout", "a number", False, "h."),
        "trusted_proxy": ("--trusted-proxy", "a string or a list of them", False,
                          "h. Repeatable."),
        "reload": ("--reload", "true or false", True, "h."),
        "metrics": ("--no-metrics", "true or false", True, "h."),
        "max_requests": ("--max-requests", "a whole number", False, "h."),
    }
    kind = next(entry.kind for entry in entries(Extra) if entry.name == "trusted_proxy")
    assert kind.from_file("10.0.0.1", Origin("x", "f.toml", 1)) == ("10.0.0.1",)
