"""Makes the ``greeting`` handler known to minihttp (``--handler /hello=greeting``).

Every plugin file is imported whenever Twisted looks for plugins, so this one
only names its factory; minihttp imports ``minihttp_greeting`` when it is used.
"""

from twisted_http.handlers.registry import HandlerPlugin

greeting = HandlerPlugin(
    "greeting",
    "Says hello: greeting(name=world, style=plain|shout).",
    "minihttp_greeting:Greeting",
)
