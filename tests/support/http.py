"""One request over real HTTP on loopback, as a client sends it."""

from __future__ import annotations

import urllib.error
import urllib.request


def send(url: str, method: str = "GET", body: bytes | None = None, **headers: str):
    """Status, headers and body of one request, error statuses included."""
    request = urllib.request.Request(url, body, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()
