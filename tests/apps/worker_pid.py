"""A WSGI app that answers with the id of the process serving it: which worker did."""

from __future__ import annotations

import os
from typing import Any


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % os.getpid()]
