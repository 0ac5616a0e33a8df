"""Pipelined requests answered out of order: Twisted CVE-2023-46137 and CVE-2024-41671."""

from __future__ import annotations

from twisted_http import Router
from twisted_http.testing import FakeConnection

from ..handlers import Fixed, Held
from ._support import Recorder


def test_cve_2023_46137_slow_first_response_stays_first() -> None:
    """Twisted CVE-2023-46137 (GHSA-xc8x-vp79-p3wm, twisted#11976): the reporter's
    two pipelined requests, ``GET /reverse`` (slow, a proxied resource) then
    ``GET /hello`` (immediate, Connection: close), in one segment. twisted.web
    answered /hello first. minihttp does not even start /hello until /reverse is
    answered, and the responses leave in request order."""
    slow, fast = Held(), Fixed(body=b"hello")
    conn = FakeConnection(Router([("/reverse", slow), ("/hello", fast)]))
    conn.send(b"GET /reverse HTTP/1.1\r\nHost: a.com\r\nConnection: keep-alive\r\n\r\n"
              b"GET /hello HTTP/1.1\r\nHost: a.com\r\nConnection: close\r\n\r\n")
    assert len(slow.pending) == 1 and fast.count == 0 and conn.written == b""
    slow.pending[0][1].send(200, b"reverse")
    assert [r.body for r in conn.responses()] == [b"reverse", b"hello"]
    assert conn.closed


def test_cve_2024_41671_body_and_next_request_in_one_segment() -> None:
    """Twisted CVE-2024-41671 (GHSA-c8m8-j448-xjx7): pipelined requests could still
    be processed out of order when a request's body and the next request arrived
    together. A POST whose handler answers later, followed at once by a GET: the
    GET waits, unparsed, and its response comes second."""
    slow = Held()
    recorder = Recorder()
    conn = FakeConnection(Router([("/post", slow), ("/next", recorder)]))
    conn.send(b"POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
              b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
    assert recorder.seen == [] and conn.written == b""
    request, response = slow.pending[0]
    got: list[bytes] = []
    request.body.read_all().addCallback(got.append)
    assert got == [b"hello"]  # the first request's body is its own, not the next request
    assert recorder.seen == []
    response.send(200, b"first")
    assert [r.body for r in conn.responses()] == [b"first", b"/next "]


def test_cve_2024_41671_bytewise_and_three_deep() -> None:
    """The same, fed one byte at a time with three requests in flight: order holds."""
    slow = Held()
    conn = FakeConnection(slow)
    conn.send_bytewise(b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(3)))
    for i in range(3):
        assert len(slow.pending) == i + 1  # the next one starts only after this one ends
        slow.pending[i][1].send(200, b"%d" % i)
    assert [r.body for r in conn.responses()] == [b"0", b"1", b"2"]
