"""A Sphinx directive drawing the request parser's state machine from the parser itself.

``{parser-state-machine}`` runs minihttp's real ``RequestParser`` over a set
of requests (with and without bodies, chunked with trailers, pipelined, and a
bad input in each state that reads input), feeding it the way the channel
does: a line when ``wants_line`` says so, raw bytes otherwise. Every state
change it sees becomes an edge of a Graphviz diagram and a row of a table, and
the states come from the parser's ``State`` enum. Nothing is drawn by hand: if
the parser changes, the picture changes; if it grows a state that no request
here reaches, the build warns (and ``make docs`` fails) until one does.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.ext.graphviz import graphviz
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

FAIL = "fail()"  # the channel gave up: the connection closed or timed out
NEXT = "start_next()"  # the response is out: read the next request

# (what the trace shows, the steps): bytes are fed as the channel feeds them;
# NEXT and FAIL are the channel's two calls into the parser.
CORPUS: list[tuple[str, list[bytes | str]]] = [
    ("GET, no body, then the next request",
     [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", NEXT, b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n"]),
    ("empty lines before a request line",
     [b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"]),
    ("POST with Content-Length",
     [b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", b"he", b"llo"]),
    ("chunked, with an extension and trailers",
     [b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nChecksum: x\r\n\r\n"]),
    ("a bad request line", [b"GET / HTTP/1.1 extra\r\n"]),
    ("a bad header line", [b"GET / HTTP/1.1\r\nHost a\r\n"]),
    ("a bad chunk size", [b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"zz\r\n"]),
    ("no CRLF after a chunk", [b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"1\r\nab\r\n"]),
    ("a bad trailer", [b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"0\r\nbad trailer\r\n"]),
    ("closed in a body", [b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe", FAIL]),
    ("closed in a chunk", [b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"5\r\nhe", FAIL]),
]


def _parser_module() -> Any:
    """The parser's module: wire/parser.py since the layer folders, _parser.py before."""
    for name in ("twisted_http.wire.parser", "twisted_http._parser"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("minihttp's request parser module was not found")


Edge = tuple[str, str, str]


def trace() -> tuple[list[Any], set[Any], list[tuple[Any, Any, str, str]]]:
    """Run the corpus: (states in enum order, line states, [(from, to, input, example)])."""
    module = _parser_module()
    from twisted_http import ProtocolError, ServerConfig

    state_enum, line_states = module.State, module.LINE_STATES
    seen: dict[tuple[Any, Any, str], str] = {}

    def record(before: Any, after: Any, kind: str, example: str) -> None:
        seen.setdefault((before, after, kind), example)

    for example, steps in CORPUS:
        parser = module.RequestParser(ServerConfig())
        for step in steps:
            if step == NEXT:
                before = parser.state
                parser.start_next()
                record(before, parser.state, NEXT, example)
                continue
            if step == FAIL:
                before = parser.state
                parser.fail()
                record(before, parser.state, FAIL, example)
                continue
            assert isinstance(step, bytes)
            _feed(parser, step, line_states, ProtocolError, record, example)
    edges = [(a, b, kind, example) for (a, b, kind), example in seen.items()]
    return list(state_enum), set(line_states), edges


def _feed(parser: Any, data: bytes, line_states: Iterable[Any], error: type[Exception],
          record: Any, example: str) -> None:
    """Feed ``data`` as the channel does, recording each state change."""
    buffer = data
    while buffer and parser.state.name not in ("DONE", "FAILED"):
        before = parser.state
        if parser.wants_line:
            line, sep, rest = buffer.partition(b"\r\n")
            if not sep:
                return  # the channel would wait for the rest of the line
            buffer = rest
            kind = "CRLF (empty line)" if not line else "line"
            try:
                parser.line_received(line)
            except error as failure:
                status = getattr(failure, "status", "4xx")
                record(before, parser.state, f"bad input: {status}", example)
                return
        else:
            _, buffer = parser.data_received(buffer)
            kind = "bytes"
        record(before, parser.state, kind, example)


def dot_source(states: list[Any], line_states: set[Any], edges: list[Edge]) -> str:
    lines = [
        "digraph parser {",
        '  rankdir=LR; bgcolor="transparent";',
        '  node [fontname="sans-serif", fontsize=11];',
        '  edge [fontname="sans-serif", fontsize=9, color="#57606a"];',
    ]
    for state in states:
        if state in line_states:
            shape = 'shape=box, style="rounded,filled", fillcolor="#dbe7ff"'
        elif state.name in ("DONE", "FAILED"):
            shape = 'shape=doublecircle, style=filled, fillcolor="#eeeeee"'
        else:
            shape = 'shape=box, style="filled", fillcolor="#fff1c2"'
        lines.append(f'  {state.name} [label="{state.name}", {shape}];')
    merged: dict[tuple[str, str], list[str]] = {}
    for before, after, kind in edges:
        merged.setdefault((before, after), []).append(kind)
    for (before, after), kinds in merged.items():
        style = ', style=dashed, color="#b42318"' if after == "FAILED" else ""
        label = "\\n".join(sorted(set(kinds)))
        lines.append(f'  {before} -> {after} [label="{label}"{style}];')
    lines.append("}")
    return "\n".join(lines)


class ParserStateMachine(SphinxDirective):
    """The parser's states and every transition the corpus drives it through."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        states, line_states, traced = trace()
        for module_name in ("twisted_http.wire.parser", "twisted_http._parser"):
            self.env.note_dependency(module_name)  # informative only
        reached = {s for a, b, _, _ in traced for s in (a, b)}
        for state in states:
            if state not in reached:
                logger.warning(
                    "parser state %s is reached by no request of the diagram's corpus"
                    " (docs/_ext/parser_states.py): add one", state.name,
                    location=(self.env.docname, self.lineno))
        edges = [(a.name, b.name, kind) for a, b, kind, _ in traced]
        diagram = graphviz()
        diagram["code"] = dot_source(states, line_states, edges)
        diagram["options"] = {"docname": self.env.docname}
        diagram["alt"] = "The request parser's state machine"
        return [diagram, self._table(traced, line_states)]

    def _table(self, traced: list[tuple[Any, Any, str, str]], line_states: set[Any]) -> nodes.table:
        headers = ["from", "reads", "on", "to", "seen with"]
        table = nodes.table(classes=["parser-transitions"])
        group = nodes.tgroup(cols=len(headers))
        table += group
        for _ in headers:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        head += self._row(headers)
        body = nodes.tbody()
        group += body
        order = {state: index for index, state in enumerate(_parser_module().State)}
        for before, after, kind, example in sorted(
                traced, key=lambda t: (order[t[0]], order[t[1]], t[2])):
            reads = "a line" if before in line_states else (
                "bytes" if before.name in ("BODY", "CHUNK_DATA") else "nothing")
            body += self._row([before.name, reads, kind, after.name, example])
        return table

    @staticmethod
    def _row(cells: list[str]) -> nodes.row:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=cell)
            row += entry
        return row


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.graphviz")
    app.add_directive("parser-state-machine", ParserStateMachine)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
