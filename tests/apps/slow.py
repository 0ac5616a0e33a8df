"""A WSGI app that takes its time: ``/?seconds=S`` answers after S seconds with its pid.

With ``mark=PATH`` it first creates the file PATH, so a test knows the request
has reached the app before it acts (a signal, a restart).
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import parse_qs


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "mark" in query:
        with open(query["mark"][0], "w"):
            pass
    time.sleep(float(query.get("seconds", ["0"])[0]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % os.getpid()]
