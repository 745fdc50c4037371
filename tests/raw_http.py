"""Sending exact bytes over HTTP/1.1, for requests that ordinary clients refuse to build."""
from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit


def raw_exchange(url: str, method: bytes, path: bytes, headers: list[bytes], body: bytes = b"",
                 timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """One request with a Content-Length for `body`; returns status, lower-cased headers, body."""
    parts = urlsplit(url)
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: " + parts.netloc.encode(), b"Connection: close",
             *headers, b"Content-Length: " + str(len(body)).encode()]
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock, method=method.decode())
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
