"""The public face of the package: what users import, pinned so it cannot move by accident."""

import re
from pathlib import Path

import twisted_http
import twisted_http.testing

DOCS = Path(__file__).resolve().parent.parent

EXPECTED = {
    "BadRequest",
    "ConnectionInfo",
    "ContentTooLarge",
    "ExpectationFailed",
    "HTTPChannel",
    "HTTPFactory",
    "HandlerPlugin",
    "HeaderFieldsTooLarge",
    "HeaderBlock",
    "Headers",
    "IBodyReceiver",
    "IHandlerFactory",
    "IRequestHandler",
    "IResponseObserver",
    "MethodNotImplemented",
    "NotImplementedCoding",
    "ProtocolError",
    "Request",
    "RequestBody",
    "RequestTimeout",
    "Response",
    "Router",
    "ServerConfig",
    "StaticFiles",
    "URITooLong",
    "VersionNotSupported",
    "WSGIHandler",
    "WouldDeadlock",
    "WebSocketHandler",
    "WebSocketResource",
}


def test_all_is_pinned() -> None:
    """__all__ lists exactly the supported names."""
    assert set(twisted_http.__all__) == EXPECTED


def test_every_name_resolves() -> None:
    """Every name in __all__ is importable from the package."""
    for name in twisted_http.__all__:
        assert getattr(twisted_http, name) is not None, name


# The layer folders (docs/architecture.md): importing the face imports them, but
# what is in them is not the public API and may move between releases.
LAYERS = {"wire", "channel", "static", "wsgi", "handlers", "edge", "serve"}


def test_no_private_module_leaks() -> None:
    """Besides __all__, the package shows only its layer folders and the testing kit."""
    public = {name for name in vars(twisted_http) if not name.startswith("_")}
    assert public - EXPECTED <= LAYERS | {"testing"}


TESTING = {
    "BufferedTransport",
    "CLIENT_ADDRESS",
    "FakeConnection",
    "InlineReactor",
    "InlineThreadPool",
    "MemoryAgent",
    "QueuedThreadPool",
    "RecordedResponse",
    "SERVER_ADDRESS",
    "WebSocketClient",
    "parse_responses",
    "request_bytes",
}


def test_testing_helpers_are_pinned_and_public() -> None:
    """The testing kit's face is pinned too, and every name in it resolves."""
    assert set(twisted_http.testing.__all__) == TESTING
    for name in twisted_http.testing.__all__:
        assert hasattr(twisted_http.testing, name), name


def test_every_name_the_docs_import_is_exported() -> None:
    """Each ``from twisted_http[.testing] import ...`` in the docs names an exported name."""
    pages = [*sorted((DOCS / "docs").glob("*.md")), DOCS / "README.md"]
    faces = {"twisted_http": twisted_http, "twisted_http.testing": twisted_http.testing}
    found = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for module, names in re.findall(
            r"from (twisted_http(?:\.testing)?) import \(?([\w,\s]+?)\)?\n", text
        ):
            for name in filter(None, (n.strip() for n in names.split(","))):
                found += 1
                assert name in faces[module].__all__, f"{page.name}: {module}.{name}"
    assert found > 10  # the pattern still matches the docs' imports


def test_the_names_the_docs_tell_users_to_catch_are_exported() -> None:
    """An exception the docs say an app may see is importable from the face."""
    assert twisted_http.WouldDeadlock.__name__ in (DOCS / "docs" / "wsgi.md").read_text()
