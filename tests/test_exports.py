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
    "HeaderFieldsTooLarge",
    "HeaderBlock",
    "Headers",
    "IBodyReceiver",
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


def test_no_private_module_leaks() -> None:
    """Public names are defined in private modules; none of the modules is public."""
    public = {name for name in vars(twisted_http) if not name.startswith("_")}
    assert public - EXPECTED <= {"tap", "testing"}


def test_testing_helpers_are_public() -> None:
    """The test helpers users import are all in twisted_http.testing.__all__."""
    for name in twisted_http.testing.__all__:
        assert hasattr(twisted_http.testing, name), name
