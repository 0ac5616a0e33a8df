"""Built-in protocol handlers (time, redirect, WebSocket) and how handlers are found:
the ``IHandlerFactory`` plugin interface, ``--handler`` specs, and the WebSocket layer.
"""
