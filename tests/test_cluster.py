"""A balanced pair, proven: nginx in front of two minihttp instances, restarted one after the
other under load, and not one request failing at the client.

Run by ``make cluster`` (and by CI): it takes about half a minute. nginx comes
from Debian's package, which ``.ci/run`` installs; the upstream block is the
one docs/deploy.md explains.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .processes import Twistd, get, wait_for
from .support import free_port
from .test_drain_real import Load

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's"),
]

CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
user root root;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream minihttp {{
        server 127.0.0.1:{first} max_fails=1 fail_timeout=2s;
        server 127.0.0.1:{second} max_fails=1 fail_timeout=2s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://minihttp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 1s;
        }}
    }}
}}
"""
INSTANCE = ["--workers", "2", "--health", "/healthz", "--wsgi", "tests.apps.slow:app",
            "--no-access-log"]


def start(tmp_path: Path, port: int) -> Twistd:
    server = Twistd(tmp_path, *INSTANCE, port=port).start()
    assert server.wait_log("minihttp worker listening", 2), server.text()
    return server


def test_rolling_restart_behind_nginx_fails_no_request(tmp_path: Path) -> None:
    """SIGTERM and start again, one instance then the other, then SIGHUP to each, while
    four clients (two GET, two POST) ask through nginx without pause: 0 failed requests
    at the client."""
    port, first_port, second_port = free_port(), free_port(), free_port()
    (tmp_path / "nginx.conf").write_text(CONFIG.format(
        tmp=tmp_path, port=port, first=first_port, second=second_port))
    instances = [start(tmp_path, first_port), start(tmp_path, second_port)]
    assert NGINX is not None
    nginx = subprocess.Popen([NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: _answers(port)), (tmp_path / "nginx-error.log").read_text()
        # Half the clients POST: nginx resends a GET that met a cut connection to the
        # other instance, never a POST it has sent, so a cut request fails here.
        with Load(port, clients=4, most=50000, post=True) as load:
            assert wait_for(lambda: load.ok > 100)
            for number, instance in enumerate(instances):
                instance.signal(signal.SIGTERM)
                assert instance.wait(60) == 0, instance.text()
                instances[number] = start(tmp_path, instance.port)
                # As an operator would: on to the next one once this one takes traffic
                # again (nginx retries it fail_timeout after its last failure).
                pids = {b"%d" % pid for pid in instances[number].workers()}
                assert wait_for(lambda pids=pids: load.pids & pids, 60)
            for instance in instances:
                instance.signal(signal.SIGHUP)
                assert instance.wait_log("minihttp restart done", seconds=60), instance.text()
                assert instance.wait_log("drained and ended", 2, seconds=60), instance.text()
                pids = {b"%d" % pid for pid in instance.workers()}
                assert wait_for(lambda pids=pids: load.pids & pids, 60)
        print(f"\nnginx rolling restart: {load.ok} requests, {len(load.failed)} failed,"
              f" {load.retried} sent again by the client after a reused keep-alive"
              " connection to nginx closed")
        assert load.failed == [], load.failed[:5]
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
        for instance in instances:
            instance.kill()


def _answers(port: int) -> bool:
    try:
        return get(port, "/healthz", timeout=5)[0] == 200
    except OSError:
        return False
