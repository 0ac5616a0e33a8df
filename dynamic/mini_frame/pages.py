"""The HTML of the app's pages, in the static site's layout and stylesheet.

Every value that comes from a user (names, paths) goes through ``html.escape``
here and nowhere else: the page functions take plain text and return bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from .forms import FIELDS, FormErrors, Person

_LAYOUT = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · minihttp</title>
  <link rel="stylesheet" href="/style.css">
</head>
<body>
  <header class="site">
    <a class="brand" href="/">minihttp</a>
    <nav><a href="/">Home</a> <a href="/time">Time</a> <a href="/register">Register</a></nav>
  </header>
  <main>
{content}
  </main>
  <footer class="site">Served by minihttp: static files and a plain WSGI app, side by side.</footer>
</body>
</html>
"""


def layout(title: str, content: str) -> bytes:
    """A whole page; ``title`` is text, ``content`` is HTML already escaped."""
    return _LAYOUT.format(title=escape(title), content=content).encode("utf-8")


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


def not_found_page(path: str) -> bytes:
    return layout("Not found", f"""    <h1>Not found</h1>
    <p>There is nothing at <code>{escape(path)}</code>.</p>
    <p><a href="/">Back to the home page</a>.</p>""")


def error_page(title: str, message: str) -> bytes:
    return layout(title, f"""    <h1>{escape(title)}</h1>
    <p>{escape(message)}</p>
    <p><a href="/">Back to the home page</a>.</p>""")
