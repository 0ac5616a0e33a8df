"""mini_frame: the bundled site's WSGI app, the lesson's mini-framework grown up.

Plain WSGI (PEP 3333), no framework. ``application`` answers ``/time``,
``/register``, ``/login`` and ``/logout``, and renders the site's 404 page for
anything else; minihttp serves the static files beside it. The SQLite file
lives in the folder named by the ``MINI_FRAME_DATA`` environment variable,
``data/`` beside the app folder by default, created on first use.
"""

from .app import application, make_app

__all__ = ["application", "make_app"]
