"""The WSGI callable: a table of paths and the handler of each.

The lesson's mini-framework picked a function by the ``.py`` suffix of the
path; here a dict maps whole paths to handlers, and anything else gets the
site's own 404 page (minihttp has already served any static file on the path).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import datetime
from http import HTTPStatus

from . import forms, pages
from .accounts import Accounts
from .people import People
from .web import BadForm, Environ, FormTooLarge, Request, Response, StartResponse, redirect

Handler = Callable[[Request], Response]
Now = Callable[[], datetime]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

DATA_VARIABLE = "MINI_FRAME_DATA"
# data/ beside the app folder (the repository root when run by `make run`).
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "data")


def _local_now() -> datetime:
    return datetime.now().astimezone()


def make_app(data_folder: str | None = None, now: Now = _local_now) -> WSGIApp:
    """The site's WSGI app, storing its data in ``data_folder``.

    ``data_folder`` defaults to ``$MINI_FRAME_DATA``, else ``data/`` beside the
    app folder; ``now`` is the clock of the time page (tests pass a fixed one).
    """
    folder = data_folder or os.environ.get(DATA_VARIABLE) or DEFAULT_DATA
    people = People(folder)
    accounts = Accounts(folder)

    def time_(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        moment = now()
        vary = (("Vary", "Accept"),)
        if request.prefers_json():
            body = json.dumps({"iso": moment.isoformat(), "timestamp": moment.timestamp()})
            return Response(HTTPStatus.OK, body.encode(), "application/json", vary)
        return Response(HTTPStatus.OK, pages.time_page(moment), headers=vary)

    def register(request: Request, form: dict[str, str]) -> Response:
        person, values, errors = forms.validate(form)
        if person is None:
            return _register_form(request, HTTPStatus.BAD_REQUEST, values, errors)
        people.add(person)
        # 303: the browser follows with a GET, so reloading the list never posts again.
        return redirect("/register")

    def _register_form(request: Request, status: HTTPStatus,
                       values: dict[str, str] | None = None,
                       errors: forms.FormErrors | None = None) -> Response:
        token, cookie = _csrf(request)
        body = pages.register_page(people.latest(), token, values, errors)
        return Response(status, body, headers=(cookie,))

    def login(request: Request, form: dict[str, str]) -> Response:
        creating = form.get("action") == "create"
        username, password, errors = forms.validate_credentials(form, creating)
        if not errors and creating and not accounts.create(username, password):
            errors = {"username": "That user name is taken."}
        elif not errors and not creating and not accounts.check(username, password):
            # One message for both: which names exist is none of a guesser's business.
            errors = {"form": "Unknown user name or wrong password."}
        if errors:
            return _login_form(request, HTTPStatus.BAD_REQUEST, username, errors)
        session = accounts.start_session(username)
        return redirect("/login", extra=(forms.session_cookie(session, _secure(request)),))

    def logout(request: Request, form: dict[str, str]) -> Response:
        accounts.end_session(request.cookie(forms.SESSION_COOKIE))
        return redirect("/login", extra=(forms.session_cookie(None, _secure(request)),))

    def _login_form(request: Request, status: HTTPStatus, username: str = "",
                    errors: forms.FormErrors | None = None) -> Response:
        token, cookie = _csrf(request)
        user = accounts.session_user(request.cookie(forms.SESSION_COOKIE))
        return Response(status, pages.login_page(user, token, username, errors),
                        headers=(cookie,))

    routes: dict[str, Handler] = {
        "/time": time_,
        "/register": form_page(lambda r: _register_form(r, HTTPStatus.OK), register),
        "/login": form_page(lambda r: _login_form(r, HTTPStatus.OK), login),
        "/logout": form_page(None, logout),
    }

    def application(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        handler = routes.get(request.path.rstrip("/") or "/")
        if handler is None:
            response = Response(HTTPStatus.NOT_FOUND, pages.not_found_page(request.path))
        else:
            response = handler(request)
        # For HEAD the server sends the head and drops the body (RFC 9110 §9.3.2).
        return response(start_response)

    return application


def _secure(request: Request) -> bool:
    return request.environ.get("wsgi.url_scheme") == "https"


def _csrf(request: Request) -> tuple[str, tuple[str, str]]:
    """The browser's CSRF token (a new one if it has none) and the cookie keeping it."""
    token = request.cookie(forms.CSRF_COOKIE)
    if not token or len(token) > 100:
        token = forms.new_token()
    return token, forms.token_cookie(token, _secure(request))


def form_page(show: Handler | None, take: Callable[[Request, dict[str, str]], Response]
              ) -> Handler:
    """A page that ``show``s its form on GET and HEAD and hands a posted one to ``take``.

    ``take`` gets only forms that passed ``_posted``: small enough, readable,
    and carrying the CSRF token. Without ``show`` the page takes POST only.
    """
    allow = "GET, HEAD, POST" if show is not None else "POST"

    def handle(request: Request) -> Response:
        if show is not None and request.method in ("GET", "HEAD"):
            return show(request)
        if request.method != "POST":
            return _not_allowed(allow)
        form = _posted(request)
        return form if isinstance(form, Response) else take(request, form)

    return handle


def _posted(request: Request) -> dict[str, str] | Response:
    """The posted form, or the response refusing it: too large, unreadable, or forged."""
    try:
        form = request.form()
    except FormTooLarge:
        return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "That form is far too large.")
    except BadForm as error:
        return _error(HTTPStatus.BAD_REQUEST, str(error))
    if not forms.token_matches(request.cookie(forms.CSRF_COOKIE), form.get(forms.CSRF_FIELD)):
        # No token, or not ours: a stale page or another site posting. Say so
        # rather than act on it.
        return _error(HTTPStatus.FORBIDDEN,
                      "The form expired or did not come from this site: please try again.")
    return form


def _not_allowed(allow: str) -> Response:
    return Response(HTTPStatus.METHOD_NOT_ALLOWED,
                    pages.error_page("Method not allowed", f"This page takes {allow}."),
                    headers=(("Allow", allow),))


def _error(status: HTTPStatus, message: str) -> Response:
    return Response(status, pages.error_page(status.phrase, message))


application = make_app()
