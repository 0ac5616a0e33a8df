"""The public face of the package: what users import, pinned so it cannot move by accident."""

import twisted_http
import twisted_http.testing

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


def test_testing_helpers_are_public() -> None:
    """The test helpers users import are all in twisted_http.testing.__all__."""
    for name in twisted_http.testing.__all__:
        assert hasattr(twisted_http.testing, name), name
