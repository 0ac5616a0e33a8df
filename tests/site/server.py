"""The bundled site in a real ``twistd -n minihttp --config web_server.toml`` child process.

Shared by the integration tests here and the browser tests: the site listens on
127.0.0.1 only, on a free port (or a TLS endpoint), with its data in a folder of
the test's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "web_server.toml"


@contextmanager
def running_site(work: Path, *, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """Serve the site until the block ends; yields its base URL.

    ``tls`` is (private key, certificate) in PEM: the site then listens over TLS.
    """
    port = free_port()
    if tls is None:
        endpoint, base = f"tcp:{port}:interface=127.0.0.1", f"http://127.0.0.1:{port}"
    else:
        key, cert = tls
        endpoint = f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        base = f"https://localhost:{port}"
    twistd = Path(sys.executable).parent / "twistd"
    env = dict(os.environ, MINI_FRAME_DATA=str(work / "data"))
    log = open(work / "twistd.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(twistd), "-n", "--pidfile=", "minihttp", "--config", str(CONFIG),
         "--port", endpoint],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(port, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
