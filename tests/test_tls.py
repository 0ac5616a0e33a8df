"""TLS for real on 127.0.0.1: ALPN, the Python ssl client, treq, curl, twistd, and SNI.

Certificates come from ``trustme``, made fresh by each test; nothing is read
from the machine's trust store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted
import treq
import trustme
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.ssl import Certificate
from twisted.internet.threads import deferToThread
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_http import HTTPFactory, IRequestHandler, Request, Response, Router

from .support import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
TWISTD = Path(sys.executable).parent / "twistd"
CURL = shutil.which("curl")


@implementer(IRequestHandler)
class Secure:
    """Answers with what the request says about its connection."""

    def handle(self, request: Request, response: Response) -> bool:
        body = b"secure=%r" % request.connection.secure
        response.send(200, body, [(b"Content-Type", b"text/plain")])
        return True


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def write_pair(ca: trustme.CA, folder: Path, *names: str) -> tuple[Path, Path]:
    """A key and a certificate for ``names``, issued by ``ca``, as two PEM files."""
    folder.mkdir(parents=True, exist_ok=True)
    issued = ca.issue_cert(*names)
    key, cert = folder / "key.pem", folder / "cert.pem"
    issued.private_key_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(cert))
    return key, cert


def get(port: int, context: ssl.SSLContext, server_name: str, path: str = "/"
        ) -> tuple[str | None, bytes, bytes]:
    """One GET over TLS with the ``ssl`` module: (ALPN chosen, certificate DER, response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            request = f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n"
            tls.sendall(request.encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            der = tls.getpeercert(binary_form=True) or b""
            return tls.selected_alpn_protocol(), der, data


def client_context(ca: trustme.CA, alpn: list[str] | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


def test_factory_offers_http11_in_alpn() -> None:
    """HTTPFactory provides IProtocolNegotiationFactory, as twisted.web's Site does."""
    factory = HTTPFactory(Router([]))
    assert verifyObject(IProtocolNegotiationFactory, factory)
    assert factory.acceptableProtocols() == [b"http/1.1"]


@pytest_twisted.ensureDeferred
async def test_ssl_port_alpn_and_secure_request(ca: trustme.CA, tmp_path: Path) -> None:
    """An ssl: port: a client offering h2 and http/1.1 gets http/1.1; one offering no
    ALPN is served too; the handler sees a secure connection."""
    key, cert = write_pair(ca, tmp_path, "127.0.0.1", "localhost")
    endpoint = serverFromString(
        reactor, f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
    port = await endpoint.listen(HTTPFactory(Router([("/", Secure())])))
    try:
        number = port.getHost().port
        protocol, _, data = await deferToThread(
            get, number, client_context(ca, ["h2", "http/1.1"]), "localhost")
        assert protocol == "http/1.1"
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"secure=True")
        protocol, _, data = await deferToThread(get, number, client_context(ca, None),
                                                "localhost")
        assert protocol is None and data.endswith(b"secure=True")
    finally:
        await port.stopListening()




@pytest_twisted.ensureDeferred
async def test_treq_over_tls(ca: trustme.CA, tmp_path: Path) -> None:
    """treq, verifying the certificate against the test's CA, gets the page over https."""
    key, cert = write_pair(ca, tmp_path, "127.0.0.1")
    endpoint = serverFromString(
        reactor, f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
    port = await endpoint.listen(HTTPFactory(Router([("/", Secure())])))
    try:
        root = Certificate.loadPEM(ca.cert_pem.bytes())
        agent = Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=root))
        response = await treq.get(f"https://127.0.0.1:{port.getHost().port}/", agent=agent)
        assert response.code == 200
        assert await treq.content(response) == b"secure=True"
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_tls_endpoint_picks_the_certificate_by_sni(ca: trustme.CA, tmp_path: Path) -> None:
    """A tls: port with a folder of two certificates answers each server name with its
    own certificate, and still offers http/1.1 in ALPN."""
    folder = tmp_path / "certs"
    folder.mkdir()
    for name in ("alpha.test", "beta.test"):
        issued = ca.issue_cert(name)
        pem = b"".join(blob.bytes() for blob in (issued.private_key_pem,
                                                 *issued.cert_chain_pems))
        (folder / f"{name}.pem").write_bytes(pem)
    endpoint = serverFromString(reactor, f"tls:{folder}:port=0:interface=127.0.0.1")
    port = await endpoint.listen(HTTPFactory(Router([("/", Secure())])))
    try:
        number = port.getHost().port
        for name in ("alpha.test", "beta.test"):
            # check_hostname in the default context: a wrong certificate fails the handshake.
            protocol, der, data = await deferToThread(
                get, number, client_context(ca, ["h2", "http/1.1"]), name)
            assert protocol == "http/1.1"
            assert data.endswith(b"secure=True")
            peer = ssl.DER_cert_to_PEM_cert(der)
            assert name in _subject_names(peer, tmp_path)
    finally:
        await port.stopListening()


def _subject_names(pem: str, tmp_path: Path) -> str:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(pem.encode())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return " ".join(names.value.get_values_for_type(x509.DNSName))


@pytest.fixture
def twistd_tls(ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`twistd -n minihttp` on an ssl: port with a WSGI app that shows its environ;
    (port, CA file)."""
    key, cert = write_pair(ca, tmp_path / "server", "127.0.0.1", "localhost")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    process = subprocess.Popen(
        [str(TWISTD), "--nodaemon", "--pidfile=", f"--logfile={tmp_path / 'twistd.log'}",
         "minihttp", "--port",
         f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}",
         "--pythonpath", str(ROOT / "tests" / "apps"), "--wsgi", "edge_apps:environ"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(port, process)
        yield port, ca_file
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


@pytest.mark.slow
@pytest.mark.skipif(CURL is None, reason="curl is not installed (.ci/run installs it)")
def test_curl_over_tls_to_twistd(twistd_tls: tuple[int, Path]) -> None:
    """curl, with ALPN as it does by default, gets http/1.1 from `twistd minihttp` on an
    ssl: port, and the WSGI app sees wsgi.url_scheme https."""
    port, ca_file = twistd_tls
    assert CURL is not None
    result = subprocess.run(
        [CURL, "--silent", "--show-error", "--verbose", "--cacert", str(ca_file),
         f"https://127.0.0.1:{port}/"],
        capture_output=True, timeout=30, check=True,
    )
    # curl 7.x says "ALPN, server accepted to use http/1.1", 8.x "ALPN: server accepted http/1.1".
    assert re.search(rb"ALPN.*server accepted.*http/1\.1", result.stderr), result.stderr
    environ = json.loads(result.stdout)
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["SERVER_PORT"] == str(port)
    assert environ["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.slow
def test_python_client_to_twistd_over_tls(twistd_tls: tuple[int, Path], ca: trustme.CA) -> None:
    """The ssl module, offering h2 and http/1.1, gets http/1.1 from twistd and a 200."""
    port, _ = twistd_tls
    protocol, _, data = get(port, client_context(ca, ["h2", "http/1.1"]), "localhost")
    assert protocol == "http/1.1"
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["wsgi.url_scheme"] == "https"
