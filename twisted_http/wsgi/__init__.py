"""The WSGI container (PEP 3333): the handler, the environ, wsgi.input and
wsgi.errors, the response output and the thread hand-offs.
"""
