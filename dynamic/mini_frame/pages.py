"""The HTML of the app's pages, in the static site's layout and stylesheet.

Every value that comes from a user (names, paths) goes through ``html.escape``
here and nowhere else: the page functions take plain text and return bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from .forms import FIELDS, LOGIN_FIELDS, FormErrors, Person

# The site's layout lives once, in the static home page: every page of the app
# wears what static/index.html has around its <main> content, with its own title.
_HOME_PAGE = Path(__file__).resolve().parents[2] / "static" / "index.html"


def _site_frame(page: str) -> tuple[str, str, str]:
    """``page`` cut around its ``<main>`` content, with the title left out of the first part."""
    head, rest = page.split("<main>\n", 1)
    _, tail = rest.split("</main>", 1)
    before, title_end = head.split("<title>", 1)
    return before + "<title>", "·" + title_end.split("·", 1)[1] + "<main>\n", "  </main>" + tail


_BEFORE_TITLE, _AFTER_TITLE, _AFTER_MAIN = _site_frame(_HOME_PAGE.read_text(encoding="utf-8"))


def layout(title: str, content: str) -> bytes:
    """A whole page; ``title`` is text, ``content`` is HTML already escaped."""
    page = f"{_BEFORE_TITLE}{escape(title)} {_AFTER_TITLE}{content}\n{_AFTER_MAIN}"
    return page.encode("utf-8")


def time_page(now: datetime) -> bytes:
    stamp = escape(now.isoformat(timespec="seconds"))
    shown = escape(now.strftime("%A %d %B %Y, %H:%M:%S %Z"))
    return layout("Time", f"""    <h1>The time</h1>
    <p class="clock"><time datetime="{stamp}">{shown}</time></p>
    <p>Computed by the WSGI app on each request. Ask for
    <code>Accept: application/json</code> to get it as JSON.</p>""")


def register_page(people: Sequence[Person], token: str,
                  values: dict[str, str] | None = None,
                  errors: FormErrors | None = None) -> bytes:
    """The form (with the values and errors of a refused post) and the people so far."""
    values = values or {}
    errors = errors or {}
    rows = []
    for name, label, limit in FIELDS:
        error = errors.get(name)
        error_html = (f'\n        <p class="error" id="{name}-error">{escape(error)}</p>'
                      if error else "")
        invalid = ' aria-invalid="true"' if error else ""
        rows.append(f"""      <p>
        <label for="{name}">{escape(label)}</label>
        <input id="{name}" name="{name}" maxlength="{limit}" required{invalid}
               value="{escape(values.get(name, ""))}">{error_html}
      </p>""")
    summary = ('\n    <p class="error" role="alert">Please correct the form below.</p>'
               if errors else "")
    if people:
        items = "\n".join(
            f'      <li><span class="first">{escape(p.first_name)}</span> '
            f'<span class="last">{escape(p.last_name)}</span></li>'
            for p in people
        )
        listing = f'    <ol class="people">\n{items}\n    </ol>'
    else:
        listing = '    <p class="empty">Nobody yet: be the first.</p>'
    fields = "\n".join(rows)
    return layout("Register", f"""    <h1>Register</h1>{summary}
    <form method="post" action="/register" class="card" novalidate>
{fields}
      <input type="hidden" name="csrf_token" value="{escape(token)}">
      <p><button type="submit">Register</button></p>
    </form>
    <h2>Registered so far</h2>
{listing}""")


def _field(name: str, label: str, value: str, error: str | None, kind: str = "text",
           extra: str = "") -> str:
    error_html = (f'\n        <p class="error" id="{name}-error">{escape(error)}</p>'
                  if error else "")
    invalid = ' aria-invalid="true"' if error else ""
    value_html = f' value="{escape(value)}"' if value else ""
    return f"""      <p>
        <label for="{name}">{escape(label)}</label>
        <input id="{name}" name="{name}" type="{kind}"{extra}{invalid}{value_html}>{error_html}
      </p>"""


def login_page(user: str | None, token: str, username: str = "",
               errors: FormErrors | None = None) -> bytes:
    """Who is signed in, with a log-out button; else the form to log in or create an account."""
    errors = errors or {}
    if user is not None:
        return layout("Log in", f"""    <h1>Signed in</h1>
    <p class="signed-in">Signed in as <strong id="user">{escape(user)}</strong>.</p>
    <form method="post" action="/logout">
      <input type="hidden" name="csrf_token" value="{escape(token)}">
      <p><button type="submit" id="logout">Log out</button></p>
    </form>""")
    summary = ('\n    <p class="error" role="alert">' + escape(errors["form"]) + "</p>"
               if "form" in errors else "")
    (user_field, user_label), (password_field, password_label) = LOGIN_FIELDS
    fields = "\n".join([
        _field(user_field, user_label, username, errors.get(user_field),
               extra=' autocomplete="username" maxlength="30"'),
        _field(password_field, password_label, "", errors.get(password_field), "password",
               ' autocomplete="current-password" maxlength="200"'),
    ])
    return layout("Log in", f"""    <h1>Log in</h1>{summary}
    <form method="post" action="/login" class="card" novalidate>
{fields}
      <input type="hidden" name="csrf_token" value="{escape(token)}">
      <p><button type="submit" name="action" value="login" id="login">Log in</button>
         <button type="submit" name="action" value="create" id="create">Create account</button></p>
    </form>
    <p>Passwords are kept only as scrypt hashes, never as written.</p>""")


def not_found_page(path: str) -> bytes:
    return layout("Not found", f"""    <h1>Not found</h1>
    <p>There is nothing at <code>{escape(path)}</code>.</p>
    <p><a href="/">Back to the home page</a>.</p>""")


def error_page(title: str, message: str) -> bytes:
    return layout(title, f"""    <h1>{escape(title)}</h1>
    <p>{escape(message)}</p>
    <p><a href="/">Back to the home page</a>.</p>""")
