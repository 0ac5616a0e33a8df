"""docs/configuration.md, generated from the settings model's field metadata.

The tables come from the fields (help, default, why); the prose around them
is here. ``make reference`` writes the page; a test fails when the committed page
differs from what this makes.
"""

from __future__ import annotations

import sys

import attrs

from .settings import Entry, HandlerMount, StaticMount, WSGIMount, entries

GENERATED = (
    "<!-- Generated from the settings model (twisted_http/serve/settings.py,"
    " twisted_http/wire/limits.py) by `make reference`; edit those, not this page. -->"
)

INTRO = """\
# Configuration

Every setting of `twistd minihttp` is a command-line option and a key of the
config file, with the same name: `max_body_size` is `--max-body-size` and
`max_body_size = 1048576` (or `max-body-size`) in the file. A setting that is
on by default is turned off on the command line by `--no-NAME`
(`--no-access-log`). What the command line gives wins over the file.

A mistake is refused before anything starts, with one line on stderr naming the
option, or the file, line and key, and what is allowed, and exit status 2:

```text
$ twistd -n minihttp --config site.toml
minihttp: site.toml:3: threads takes a whole number, not 2.7
```

Values are never guessed at: a whole number refuses `2.7`, `true` and `"8"`;
true-or-false refuses `"no"`; an unknown key is an error, with the closest
known key suggested.

## The config file

`--config FILE` reads a [TOML](https://toml.io) file. Lists stand for
repeated options, and relative paths are relative to the file:

```toml
port = [8080, "tcp:8443:interface=127.0.0.1"]
pythonpath = ["apps"]
threads = 16
keep_alive_timeout = 30
access_log = true
static_max_age = 3600          # every static mount

[[static]]                     # or static = ["/=public", "/media=uploads"]
prefix = "/"
path = "public"

[[wsgi]]                       # or wsgi = ["/app=myapp:application"]
prefix = "/app"
module = "myapp"
callable = "application"
path = "apps"                  # the app's folder, added to the import path
```

`port` takes a number, an endpoint string or a list of them. A `[[static]]`
table takes the keys of the static options below (without `static_`) for its
own mount, a `[[wsgi]]` table those of the WSGI options (without `wsgi_`); the
top-level keys apply to every mount, and the command line wins over both.
"""

LIMITS = """\
Every limit is answered with a status and a short body, never a silent drop;
when a limit is hit the connection is closed after the answer, because the
bytes that follow can no longer be trusted to start a new request. Sizes are
bytes, times are seconds. RFC 9112 §9.5 lets a server close an idle connection
at any time; the timeouts say when minihttp does. No request timer runs while a
handler is producing a response: a slow app is bounded by
`thread_wait_timeout` before it starts and by the client's reading after, not
by the request timers.
"""

FIXED_RULES = """\
## Fixed rules (not settings)

- A request line, header line or head over its limit is answered, never
  dropped: twisted.web's `LineReceiver` default closes such connections silently.
- Content-Length must be exactly one decimal number of at most 18 digits; a
  chunk size at most 16 hex digits; a chunk-size line at most 4 KiB.
- Empty lines before a request line are ignored, but count toward the head size.
- Pipelined requests are read one at a time: while a response is pending the
  server reads nothing more from that client, so pipelining cannot make it
  buffer more than one read's worth of bytes. Nor does it start the next
  request while the client has not read the previous responses (the send
  buffer is over Twisted's high-water mark), so it cannot be made to queue them.
"""

_SERVING = "Listening, mounts and processes"


def markdown() -> str:
    """The whole page."""
    parts = [GENERATED, "", INTRO]
    groups: dict[str, list[Entry]] = {}
    for entry in entries():
        groups.setdefault(entry.title or _SERVING, []).append(entry)
    for title, group in groups.items():
        parts.append(f"## {title}\n")
        if group[0].field.name == "max_request_line":
            parts.append(LIMITS)
        parts.append(_table(group, options=True))
    for mount, name in ((StaticMount, "static"), (WSGIMount, "wsgi")):
        parts.append(f"## `[[{name}]]` tables\n")
        parts.append(f"These keys, and the {name} options above without their `{name}_`"
                     " prefix, for this mount only:\n")
        own = [entry for entry in entries(mount) if _is_key(mount, entry)]
        parts.append(_table(own, options=False))
    parts.append("## `[[handler]]` tables\n")
    parts.append("These keys; every other key is an option of the handler"
                 " (`to = \"/new\"` for `redirect`; see docs/extending.md):\n")
    parts.append(_table([entry for entry in entries(HandlerMount)], options=False))
    parts.append(FIXED_RULES)
    return "\n".join(parts)


def _is_key(mount: type, entry: Entry) -> bool:
    """A key of the mount's own, not one of its options section."""
    return any(field is entry.field for field in attrs.fields(mount))


def _table(group: list[Entry], options: bool) -> str:
    head = "| option | key | default | what it does | why this default |" if options \
        else "| key | default | what it does | why this default |"
    rows = [head, "|---" * head.count(" | ") + "|---|"]
    for entry in group:
        help_ = entry.help if options else entry.field.metadata["help"]
        keys = [f"`{entry.name}`", *(f"`{alias}`" for alias in
                                    entry.field.metadata.get("aliases", ()))]
        default = "required" if entry.field.default is attrs.NOTHING else \
            f"`{entry.default_text()}`"
        cells = [", ".join(keys), default, help_, entry.field.metadata["why"]]
        if options:
            cells.insert(0, f"`{_usage(entry)}`")
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def _usage(entry: Entry) -> str:
    if entry.is_flag:
        return entry.option
    metavar = entry.field.metadata.get("metavar") or (
        "SECONDS" if entry.kind.allowed == "a number" else
        "N" if entry.kind.allowed == "a whole number" else "TEXT")
    return f"{entry.option} {metavar}"


if __name__ == "__main__":
    # ``python -m twisted_http.serve.reference > docs/configuration.md`` (make reference)
    sys.stdout.write(markdown())
