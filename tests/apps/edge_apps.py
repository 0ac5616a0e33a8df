"""A WSGI app for the edge tests (TLS, proxies): it shows what the app was told."""

from __future__ import annotations

import json
from typing import Any

KEYS = ("REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME",
        "SERVER_PORT", "HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR")


def environ(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The environ keys a proxy or TLS changes, as one JSON object."""
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({key: environ.get(key) for key in KEYS}).encode()]
