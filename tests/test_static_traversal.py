"""Nothing outside the root, ever: a corpus of traversal attempts, symlinks, dotfiles, odd files.

The corpus goes byte for byte over FakeConnection and over a raw 127.0.0.1
socket (no client library may tidy the path first). Every answer is a 4xx
with a small page and none of the secret bytes; never a 5xx, never a hang.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_twisted

from twisted_http import Router, StaticFiles
from twisted_http.testing import FakeConnection, parse_responses

from .static_fixtures import (  # noqa: F401 - connect_fixture and root_fixture are fixtures
    Connect,
    SocketClient,
    connect_fixture,
    root_fixture,
)

SECRETS = (b"SECRET", b"[core]")

# (request target, the status it must get). 400: the path is refused as such
# (by the static handler or, for bytes no request line may hold, by the
# parser); 404: it names nothing the folder serves; 403: it names something
# outside the root.
CORPUS: list[tuple[bytes, int]] = [
    (b"/../site-sibling.txt", 400),
    (b"/../outside/secret.txt", 400),
    (b"/sub/../../site-sibling.txt", 400),
    (b"/sub/../hello.txt", 400),
    (b"/./hello.txt", 400),
    (b"/%2e%2e/site-sibling.txt", 400),
    (b"/%2E%2E/site-sibling.txt", 400),
    (b"/.%2e/site-sibling.txt", 400),
    (b"/%2e./site-sibling.txt", 400),
    (b"/..%2fsite-sibling.txt", 400),
    (b"/..%2Fsite-sibling.txt", 400),
    (b"/%2e%2e%2fsite-sibling.txt", 400),
    (b"/sub/%2e%2e/%2e%2e/site-sibling.txt", 400),
    (b"/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400),
    (b"/..%5csite-sibling.txt", 400),
    (b"/%5c..%5csite-sibling.txt", 400),
    (b"/sub%5c..%5c..%5csite-sibling.txt", 400),
    (b"/..\\site-sibling.txt", 400),
    (b"/%c0%ae%c0%ae/site-sibling.txt", 400),  # overlong "."
    (b"/%c0%af..%c0%afsite-sibling.txt", 400),  # overlong "/"
    (b"/%e0%80%ae%e0%80%ae/site-sibling.txt", 400),  # three-byte overlong "."
    (b"/%c1%9c..%c1%9csite-sibling.txt", 400),  # overlong "\"
    (b"/%ed%a0%80", 400),  # a UTF-16 surrogate
    (b"/%ff%fe", 400),
    (b"/%00", 400),
    (b"/hello.txt%00", 400),
    (b"/hello.txt%00.html", 400),
    (b"/%00/../site-sibling.txt", 400),
    (b"/%u002e%u002e/site-sibling.txt", 400),  # IIS-style escapes are not percent-encoding
    (b"/%252e%252e/site-sibling.txt", 404),  # double-encoded: a literal "%2e%2e" folder
    (b"//etc/passwd", 404),  # slashes merge: root/etc/passwd, which does not exist
    (b"/%2fetc%2fpasswd", 404),
    (b"/etc/passwd", 404),
    (b"///outside/secret.txt", 404),
    (b"/link_out.txt", 403),
    (b"/link_dir_out/secret.txt", 403),
    (b"/link_dir_out/", 403),
    (b"/.env", 404),
    (b"/%2eenv", 404),
    (b"/.git/config", 404),
    (b"/.git/", 404),
    (b"/sub/.%2e/.env", 400),
    (b"http://example.com/../site-sibling.txt", 400),
    (b"http://example.com/%2e%2e/site-sibling.txt", 400),
]


def check(status: int, body: bytes, expected: int, target: bytes) -> None:
    assert status == expected, target
    assert len(body) < 512, target
    for secret in SECRETS:
        assert secret not in body, target


@pytest.fixture
def handler(root: Path) -> StaticFiles:
    return StaticFiles(root)


@pytest.mark.parametrize(("target", "expected"), CORPUS)
def test_corpus_on_string_transport(handler: StaticFiles, target: bytes, expected: int) -> None:
    """Each traversal attempt on FakeConnection: the expected 4xx, a small page, no secret."""
    connection = FakeConnection(handler)
    connection.send(b"GET " + target + b" HTTP/1.1\r\nHost: example.com\r\n\r\n")
    (response,) = connection.responses()
    check(response.status, response.body, expected, target)


@pytest_twisted.ensureDeferred
async def test_corpus_over_a_real_socket(handler: StaticFiles) -> None:
    """The same corpus byte for byte over 127.0.0.1: the same answers."""
    client = SocketClient(Router([("/", handler)]))
    try:
        for target, expected in CORPUS:
            reply = await client.raw(b"GET", target)
            check(reply.status, reply.body, expected, target)
    finally:
        await client.close()


@pytest.mark.parametrize("mount", [b"/files", b"/a/b"])
def test_corpus_under_a_prefix(root: Path, mount: bytes) -> None:
    """Under a mount prefix the corpus is refused just the same (../ never climbs the prefix)."""
    data = b""
    for target, _ in CORPUS:
        if target.startswith(b"http://"):
            continue
        connection = FakeConnection(Router([(mount, StaticFiles(root))]))
        connection.send(b"GET " + mount + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        (response,) = parse_responses(connection.written)
        data += response.body
        assert response.status in (400, 403, 404), target
    for secret in SECRETS:
        assert secret not in data


# -- symlinks, dotfiles and files that are not files ------------------------------------------


@pytest_twisted.ensureDeferred
async def test_symlinks_inside_the_root_are_followed(connect: Connect) -> None:
    """A link to a file inside the root serves that file."""
    reply = await connect().request(b"GET", b"/link_in.txt")
    assert reply.status == 200 and reply.body == b"hello world\n"


@pytest_twisted.ensureDeferred
async def test_symlinks_leaving_the_root_are_403(connect: Connect) -> None:
    """A link to a file or folder outside the root: 403, nothing of the target."""
    client = connect()
    for target in (b"/link_out.txt", b"/link_dir_out/secret.txt"):
        reply = await client.request(b"GET", target)
        assert reply.status == 403
        assert b"SECRET" not in reply.body
        assert reply.header(b"x-content-type-options") == b"nosniff"


@pytest_twisted.ensureDeferred
async def test_follow_symlinks_serves_targets_outside(connect: Connect) -> None:
    """follow_symlinks=True: links out of the root are served."""
    client = connect(follow_symlinks=True)
    assert (await client.request(b"GET", b"/link_out.txt")).body == b"TOP SECRET\n"
    assert (await client.request(b"GET", b"/link_dir_out/secret.txt")).body == b"TOP SECRET\n"


@pytest_twisted.ensureDeferred
async def test_a_root_that_is_a_symlink_still_works(connect: Connect, root: Path,
                                                    tmp_path: Path) -> None:
    """The root may itself be a link: it is resolved once, and its files are inside it."""
    os.symlink(root, tmp_path / "alias")
    client = connect(Router([("/", StaticFiles(tmp_path / "alias"))]))
    assert (await client.request(b"GET", b"/hello.txt")).status == 200
    assert (await client.request(b"GET", b"/link_out.txt")).status == 403


@pytest_twisted.ensureDeferred
async def test_dotfiles_are_hidden_by_default(connect: Connect) -> None:
    """Names starting with "." are not there: 404, nothing of them."""
    client = connect()
    for target in (b"/.env", b"/.git/config", b"/.git/", b"/bare/.secret"):
        reply = await client.request(b"GET", target)
        assert reply.status == 404, target
        assert b"SECRET" not in reply.body and b"hidden" not in reply.body


@pytest_twisted.ensureDeferred
async def test_dotfiles_option_serves_them(connect: Connect) -> None:
    """dotfiles=True serves them like any file."""
    reply = await connect(dotfiles=True).request(b"GET", b"/.env")
    assert reply.status == 200 and reply.body == b"SECRET=1\n"


@pytest_twisted.ensureDeferred
async def test_broken_links_loops_and_fifos_are_missing(connect: Connect) -> None:
    """A dangling link, a link loop and a FIFO are 404 at once (a FIFO is never opened)."""
    client = connect()
    for target in (b"/broken", b"/loop", b"/fifo"):
        assert (await client.request(b"GET", target)).status == 404, target


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
@pytest_twisted.ensureDeferred
async def test_unreadable_file_is_403(connect: Connect, root: Path) -> None:
    """A file the server may not read: 403."""
    (root / "locked.txt").write_bytes(b"locked")
    (root / "locked.txt").chmod(0)
    try:
        assert (await connect().request(b"GET", b"/locked.txt")).status == 403
    finally:
        (root / "locked.txt").chmod(0o644)


def test_permission_denied_is_403(handler: StaticFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the server may not open: 403 (faked, since tests may run as root)."""
    import twisted_http.static.handler as static

    def denied(path: str) -> tuple[int, os.stat_result]:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(static, "open_regular", denied)
    connection = FakeConnection(handler)
    connection.request(b"GET", b"/hello.txt")
    (response,) = connection.responses()
    assert response.status == 403 and b"hello" not in response.body


def test_a_path_naming_nothing_valid_is_400_not_500(handler: StaticFiles) -> None:
    """Odd but parseable paths: very long segments, control bytes: a 4xx, never a 500."""
    for target in (b"/" + b"a" * 4000, b"/%01%02", b"/a%0d%0aSet-Cookie:x", b"/" + b"%41" * 2000):
        connection = FakeConnection(handler)
        connection.send(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        (response,) = connection.responses()
        assert 400 <= response.status < 500, target
        assert b"Set-Cookie" not in connection.written.split(b"\r\n\r\n")[0]
