"""minihttp's built-in handlers, found by name like any other package's (``--handler NAME``).

Each is imported only when a mount builds it: plugin modules are imported by
every plugin lookup, plain ``twistd`` included.
"""

from twisted_http.handlers.registry import HandlerPlugin

time = HandlerPlugin(
    "time",
    "The current date and time as text, or JSON with Accept: application/json.",
    "twisted_http.handlers.time:TimeHandler",
)
redirect = HandlerPlugin(
    "redirect",
    "Redirect to another URL: redirect(to=/new, status=308).",
    "twisted_http.handlers.redirect:Redirect",
)
websocket_echo = HandlerPlugin(
    "websocket-echo",
    "A WebSocket endpoint that sends every message back (test a proxy's upgrades).",
    "twisted_http.handlers.echo:EchoResource",
)
