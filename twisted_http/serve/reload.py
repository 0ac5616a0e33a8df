"""``--reload``: replace the workers when a Python file of the apps or the config file changes.

For development. The parent watches, with the ``watchfiles`` package (an
optional extra: ``pip install 'minihttp[reload]'``), the folder of every
mounted app's module (a package's whole folder) and the config file. A change
is a SIGHUP (``WorkerPool.restart``): new workers import the apps anew and
take over once they listen, so the browser never sees a refused connection,
and an app that no longer imports leaves the old workers serving, with the
error in the log.

The watcher runs in a thread of its own (watchfiles blocks) and hands each
batch of changes to the reactor.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from twisted.application.service import Service
from twisted.logger import Logger

log = Logger()

# watchfiles waits this long for more changes before it reports a batch: an
# editor saving several files, or a git checkout, is one restart.
DEBOUNCE_MS = 300


def watched_paths(modules: list[str], config_file: str | None) -> list[str]:
    """The folders of the app modules ``modules`` (imported already), and the config file."""
    paths: set[str] = set()
    for name in modules:
        module = sys.modules.get(name)
        source = getattr(module, "__file__", None)
        if source:
            paths.add(os.path.dirname(os.path.abspath(source)))
    if config_file:
        paths.add(os.path.abspath(config_file))
    return sorted(paths)


class ReloadWatcher(Service):
    """Calls ``restart`` in the reactor after each batch of changes to ``paths``."""

    def __init__(self, paths: list[str], restart: Any, reactor: Any) -> None:
        self.paths = paths
        self._restart = restart
        self._reactor = reactor
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def startService(self) -> None:
        super().startService()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="minihttp-reload",
                                        daemon=True)
        self._thread.start()
        log.info("minihttp --reload: watching {paths}", paths=", ".join(self.paths))

    def stopService(self) -> None:
        super().stopService()
        self._stop.set()

    def _watch(self) -> None:
        import watchfiles

        config = {path for path in self.paths if not os.path.isdir(path)}

        class Filter(watchfiles.DefaultFilter):
            def __call__(self, change: watchfiles.Change, path: str) -> bool:
                return (path.endswith(".py") or path in config) and super().__call__(
                    change, path)

        for changes in watchfiles.watch(*self.paths, watch_filter=Filter(),
                                        debounce=DEBOUNCE_MS, stop_event=self._stop,
                                        raise_interrupt=False):
            changed = sorted({os.path.relpath(path) for _, path in changes})
            self._reactor.callFromThread(self._changed, changed)

    def _changed(self, changed: list[str]) -> None:
        log.info("minihttp --reload: {files} changed; restarting the workers",
                 files=", ".join(changed))
        self._restart()
