"""``twistd web`` exactly as its plugin builds it, with the one thing it has no option for:
no access log (``Site.log`` does nothing). The bench's "logs off" column for twistd web.

    BENCH_TWISTD_WEB_ARGS="--listen\ntcp:8080\n--path\nwww" twistd -n -y twistd_web_nolog.tac
"""

import os

from twisted.application import service
from twisted.web import server, tap

server.Site.log = lambda self, request: None  # type: ignore[method-assign]

options = tap.Options()
options.parseOptions(os.environ["BENCH_TWISTD_WEB_ARGS"].split("\n"))
application = service.Application("twistd web without its access log")
tap.makeService(options).setServiceParent(application)
