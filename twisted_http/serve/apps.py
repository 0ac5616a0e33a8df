"""Loading a WSGI mount's app: import its module, find its callable, call a factory.

Done while the settings are built, so an app that cannot be imported stops
start-up with one line, before any port is opened (and with ``--workers``, in
the parent, before any worker starts).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .settings import WSGIMount


class AppError(Exception):
    """The app cannot be loaded; the message says why, in one line."""


def load_app(mount: WSGIMount, pythonpath: tuple[str, ...] = ()) -> Any:
    """The app ``mount`` names, imported from its ``path``, ``pythonpath`` or sys.path."""
    folders = [*pythonpath, *([mount.path] if mount.path else [])]
    for folder in reversed(folders):
        folder = os.path.abspath(folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(mount.module)
    except Exception as error:
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise AppError(f"cannot import {mount.module!r}: {reason}") from None
    name = mount.callable.removesuffix("()")
    app = getattr(module, name, None)
    if app is None:
        raise AppError(f"module {mount.module!r} has no {name!r}")
    if mount.callable.endswith("()"):
        try:
            app = app()
        except Exception as error:
            reason = " ".join(f"{type(error).__name__}: {error}".split())
            raise AppError(f"{mount.module}:{mount.callable} failed: {reason}") from None
    if not callable(app):
        raise AppError(f"{mount.module}:{mount.callable} is not callable")
    return app
