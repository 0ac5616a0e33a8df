"""parse_responses: the bytes a server wrote, read back as responses."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..wire.headers import Headers


@attrs.frozen
class RecordedResponse:
    """One response as the client saw it; headers lower-cased, body de-chunked."""

    status: int
    reason: bytes
    headers: Headers
    body: bytes
    chunked: bool = False

    def header(self, name: bytes) -> bytes | None:
        return self.headers.get(name.lower())


def parse_responses(data: bytes, methods: Sequence[bytes] = ()) -> list[RecordedResponse]:
    """Split the bytes a server wrote into responses.

    ``methods`` lists the request methods in order, so that a response to HEAD
    is read without a body; missing entries count as GET. Interim (1xx)
    responses are returned as responses of their own and consume no method.
    Raises ValueError on anything that is not a well-formed response stream.
    """
    out: list[RecordedResponse] = []
    index = 0
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError(f"incomplete response head: {head[:80]!r}")
        status_line, *lines = head.split(b"\r\n")
        version, status_text, reason = (status_line.split(b" ", 2) + [b""])[:3]
        if version != b"HTTP/1.1" or not status_text.isdigit():
            raise ValueError(f"bad status line {status_line!r}")
        status = int(status_text)
        headers = Headers()
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon or name != name.strip():
                raise ValueError(f"bad header line {line!r}")
            headers.add(name.lower(), value.strip())
        if status < 200:
            out.append(RecordedResponse(status, reason, headers, b""))
            continue
        method = methods[index] if index < len(methods) else b"GET"
        index += 1
        body, chunked = b"", False
        if method == b"HEAD" or status in (204, 304):
            pass
        elif headers.get(b"transfer-encoding") == b"chunked":
            body, data = _dechunk(data)
            chunked = True
        elif headers.get(b"content-length") is not None:
            length = int(headers.get(b"content-length") or b"0")
            if len(data) < length:
                raise ValueError(f"body shorter than Content-Length {length}")
            body, data = data[:length], data[length:]
        else:
            body, data = data, b""  # close-delimited
        out.append(RecordedResponse(status, reason, headers, body, chunked))
    return out


def _dechunk(data: bytes) -> tuple[bytes, bytes]:
    parts: list[bytes] = []
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        if not sep:
            raise ValueError("incomplete chunked body")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            trailer_end = data.find(b"\r\n")
            while trailer_end != 0:
                if trailer_end < 0:
                    raise ValueError("incomplete trailers")
                data = data[trailer_end + 2 :]
                trailer_end = data.find(b"\r\n")
            return b"".join(parts), data[2:]
        if data[size : size + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        parts.append(data[:size])
        data = data[size + 2 :]
