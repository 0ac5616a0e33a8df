"""--reload: the workers are replaced when an app's Python file or the config file changes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from twisted.python.usage import UsageError

from twisted_http.serve.reload import watched_paths
from twisted_http.serve.settings import RELOAD_NEEDS

from .processes import get, running, wait_for
from .support import parse

APP = ("def app(environ, start_response):\n"
       "    start_response('200 OK', [])\n"
       "    return [b'{}']\n")


def test_watched_paths_are_the_apps_folders_and_the_config(tmp_path: Path) -> None:
    import json  # a module with a file: its folder is watched

    paths = watched_paths(["json", "not_imported"], str(tmp_path / "minihttp.toml"))
    assert paths == sorted([str(Path(json.__file__).parent), str(tmp_path / "minihttp.toml")])


def test_reload_without_watchfiles_is_one_line(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "static").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import fails
    with pytest.raises(UsageError) as error:
        parse("--reload")
    assert str(error.value) == "--" + RELOAD_NEEDS


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.cluster)])
def test_an_edited_app_is_served_without_a_restart_by_hand(tmp_path: Path,
                                                           workers: str) -> None:
    """Edit the app: the parent sees it, and new workers (every one of them) serve the new
    code; then break it: the old workers keep serving, the log says why."""
    pytest.importorskip("watchfiles")
    (tmp_path / "apps").mkdir()
    module = tmp_path / "apps" / "devapp.py"
    module.write_text(APP.format("one"))
    with running(tmp_path, "--reload", "--workers", workers, "--wsgi", "devapp:app",
                 "--pythonpath", str(tmp_path / "apps"),
                 ready="minihttp worker listening") as server:
        assert server.wait_log("minihttp worker listening", int(workers))
        assert server.wait_log("minihttp --reload: watching")
        assert get(server.port)[2] == b"one"
        module.write_text(APP.format("two"))
        assert server.wait_log("minihttp restart done"), server.text()
        assert wait_for(lambda: get(server.port)[2] == b"two")
        assert {get(server.port)[2] for _ in range(10)} == {b"two"}
        assert "devapp.py changed" in server.text()
        assert wait_for(lambda: len(server.workers()) == int(workers))  # the old ones ended
        serving = server.workers()
        module.write_text("raise ImportError('broken on purpose')\n")
        assert server.wait_log("minihttp restart abandoned"), server.text()
        assert "broken on purpose" in server.text()
        assert server.workers() == serving and get(server.port)[2] == b"two"
