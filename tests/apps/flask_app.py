"""A small Flask app: a form, an upload, a streamed response, a cookie and a redirect."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from flask import Flask, Response, redirect, request

app = Flask(__name__)


@app.post("/form")
def form() -> str:
    return f"hello {request.form['name']}"


@app.post("/upload")
def upload() -> str:
    upload = request.files["file"]
    data = upload.read()
    return f"{upload.filename} {len(data)} {hashlib.sha256(data).hexdigest()}"


@app.get("/stream")
def stream() -> Response:
    def parts() -> Iterator[bytes]:
        for i in range(5):
            yield b"part %d\n" % i

    return Response(parts(), mimetype="text/plain")


@app.get("/cookie")
def set_cookie() -> Response:
    response = Response("set")
    response.set_cookie("flavour", "oatmeal")
    return response


@app.get("/whoami")
def whoami() -> str:
    return request.cookies.get("flavour", "nobody")


@app.get("/old")
def old() -> Response:
    return redirect("/new")  # type: ignore[return-value]


@app.get("/new")
def new() -> str:
    return f"new at {request.script_root}{request.path}"
