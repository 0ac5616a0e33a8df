"""A Django project in one module, configured in code: the same five things as the Flask app."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import (  # noqa: E402
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import path  # noqa: E402


def form(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello {request.POST['name']}")


def upload(request: HttpRequest) -> HttpResponse:
    upload = request.FILES["file"]
    data = upload.read()
    return HttpResponse(f"{upload.name} {len(data)} {hashlib.sha256(data).hexdigest()}")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def parts() -> Iterator[bytes]:
        for i in range(5):
            yield b"part %d\n" % i

    return StreamingHttpResponse(parts(), content_type="text/plain")


def set_cookie(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("set")
    response.set_cookie("flavour", "oatmeal")
    return response


def whoami(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.COOKIES.get("flavour", "nobody"))


def old(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("new")


def new(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"new at {request.path}")


urlpatterns: list[Any] = [
    path("form", form),
    path("upload", upload),
    path("stream", stream),
    path("cookie", set_cookie),
    path("whoami", whoami),
    path("old", old),
    path("new", new),
]

app = get_wsgi_application()
