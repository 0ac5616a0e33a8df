"""The ``twistd minihttp`` plugin; imports nothing of minihttp until it is used."""

from twisted.application.service import ServiceMaker

minihttp = ServiceMaker(
    "minihttp",
    "twisted_http.serve.tap",
    "A small, strict HTTP/1.1 server for static files and WSGI apps.",
    "minihttp",
)
