"""--handler specs: parsing (options are literals or plain strings, never code), and building
handlers by plugin name or MODULE:FACTORY, each mistake one clear ValueError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from zope.interface import implementer

from twisted_http import IRequestHandler, Request, Response
from twisted_http.handlers import registry, spec
from twisted_http.handlers.redirect import Redirect
from twisted_http.handlers.spec import HandlerSpec
from twisted_http.handlers.time import TimeHandler

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("text", "expected"), [
    ("time", HandlerSpec("/", "time", {})),
    ("/clock=time", HandlerSpec("/clock", "time", {})),
    ("/old=redirect(to=/new, status=308)",
     HandlerSpec("/old", "redirect", {"to": "/new", "status": 308})),
    ("/x=pkg.mod:make(names=['a', 'b'], flag=true, ratio=0.5, text='a, b')",
     HandlerSpec("/x", "pkg.mod:make",
                 {"names": ["a", "b"], "flag": True, "ratio": 0.5, "text": "a, b"})),
    ("/x=mod:Thing()", HandlerSpec("/x", "mod:Thing", {})),
    ("/x=mod:Thing(a={'k': (1, 2)})", HandlerSpec("/x", "mod:Thing", {"a": {"k": (1, 2)}})),
])
def test_specs_parse(text: str, expected: HandlerSpec) -> None:
    """Prefix, target and options come apart; values are literals or else plain strings."""
    assert spec.parse(text) == expected


def test_option_values_are_never_evaluated() -> None:
    """A value that is code stays a string: literal_eval or nothing, never eval."""
    parsed = spec.parse("/x=redirect(to=__import__('os').system('false'))")
    assert parsed.options == {"to": "__import__('os').system('false')"}


@pytest.mark.parametrize(("text", "message"), [
    ("/old", "has a prefix but no handler"),
    ("/x=redirect(to=/new", "not closed"),
    ("/x=redirect(/new)", "is not KEY=VALUE"),
    ("/x=redirect(to=a, to=b)", "given twice"),
    ("/x=redirect(to='a)", "unclosed quote"),
    ("/x=Not A Name", "neither a handler name"),
    ("/x=mod:", "neither a handler name"),
])
def test_bad_specs_are_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec.parse(text)


def test_a_table_gives_options_as_keys() -> None:
    """[[handler]] tables: handler and prefix keys, the rest are options."""
    table = {"prefix": "/old", "handler": "redirect", "to": "/new", "status": 301}
    assert spec.from_table(table) == HandlerSpec(
        "/old", "redirect", {"to": "/new", "status": 301})
    with pytest.raises(ValueError, match="needs handler"):
        spec.from_table({"prefix": "/x"})
    with pytest.raises(ValueError, match="given twice"):
        spec.from_table({"handler": "redirect(to=/a)", "to": "/b"})


def test_builtins_are_found_by_name() -> None:
    """The built-in handlers are plugins like any other package's."""
    found = registry.available()
    assert {"time", "redirect", "websocket-echo"} <= set(found)
    assert isinstance(spec.build(spec.parse("/t=time")), TimeHandler)
    redirect = spec.build(spec.parse("/old=redirect(to=/new, status=308)"))
    assert isinstance(redirect, Redirect)
    assert (redirect.to, redirect.status) == ("/new", 308)


def test_listing_names_and_describes_each() -> None:
    lines = registry.listing().splitlines()
    assert any(line.startswith("time ") and "date and time" in line for line in lines)
    assert any(line.startswith("redirect ") for line in lines)


@pytest.mark.parametrize(("text", "message"), [
    ("/x=nosuchhandler", "no handler named 'nosuchhandler'; installed: .*time"),
    ("/x=redirect(to=/new, status=200)", "redirect: status must be one of"),
    ("/x=redirect(to=/new, colour=red)", "redirect: .*colour"),
    ("/x=time(clock=1, extra=2)", "time: "),
    ("/x=no_such_module_here:thing", "cannot import 'no_such_module_here'"),
    ("/x=tests.test_handler_specs:missing", "has no 'missing'"),
    ("/x=tests.test_handler_specs:NOT_A_HANDLER", "not a handler"),
    ("/x=tests.test_handler_specs:make_nothing", "does not provide IRequestHandler"),
    ("/x=tests.test_handler_specs:INSTANCE(a=1)", "takes no options"),
])
def test_build_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        spec.build(spec.parse(text))
    assert "\n" not in str(caught.value)


@implementer(IRequestHandler)
class Fixed:
    def __init__(self, body: str = "fixed") -> None:
        self.body = body

    def handle(self, request: Request, response: Response) -> bool:
        response.send(200, self.body.encode())
        return True


NOT_A_HANDLER = 42
INSTANCE = Fixed()


def make_nothing() -> object:
    return object()


def test_module_references_build_classes_factories_and_instances() -> None:
    built = spec.build(spec.parse("/x=tests.test_handler_specs:Fixed(body=hi)"))
    assert isinstance(built, Fixed) and built.body == "hi"
    assert spec.build(spec.parse("/x=tests.test_handler_specs:INSTANCE")) is INSTANCE


def test_the_plugin_module_imports_no_handler_code() -> None:
    """Loading the plugins (which every twistd run does) imports none of the server, no
    handler and no wsproto: only the registry, and the package's face, which is lazy."""
    code = (
        "import sys\n"
        "from twisted.plugin import getPlugins\n"
        "from twisted_http.handlers.registry import IHandlerFactory\n"
        "import twisted.plugins\n"
        "names = [p.name for p in getPlugins(IHandlerFactory, twisted.plugins)]\n"
        "assert 'time' in names, names\n"
        "heavy = [m for m in sys.modules if m.startswith('wsproto')\n"
        "         or m.startswith('twisted_http.') and m not in\n"
        "         ('twisted_http.handlers', 'twisted_http.handlers.registry')]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
