"""The PUT of a file to a presigned S3 URL, with nothing but the headers the URL was signed with.

The PUT goes straight to S3 with http.client, so exactly the headers the URL was signed
with are sent (plus Host and Content-Length) and the file is streamed from disk in chunks,
never held in memory. A URL signs `If-None-Match: *`: S3 refuses a second PUT (412),
UrlAlreadyUsed, never "uploaded". Transient failures are retried; S3's refusals are named.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import http.client
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO
from urllib.parse import SplitResult, parse_qs

from ingestcli.errors import IngestError, InputError
from ingestcli.services.api_client import check_url, printable, retry_delay
from ingestcli.services.files import open_binary

logger = logging.getLogger("ingestcli.s3_put")
CHUNK_BYTES = 1 << 20
SOCKET_TIMEOUT = 60.0  # seconds without progress, not for the whole file
_RETRYABLE_CODES = frozenset({"RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"})
_HINTS = {
    "SignatureDoesNotMatch": "the URL does not match the headers sent: ask for a new URL",
    "BadDigest": "the file changed while it was being sent: upload it again",
    "EntityTooLarge": "the file is larger than S3 takes in one request",
}

# Bytes sent so far; a file sent in parts adds (parts stored, parts in all).
Progress = Callable[..., None]


class PutFailed(IngestError):
    """S3 refused the file, or could not be reached after every retry."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class UrlExpired(PutFailed):
    """The presigned URL expired before S3 got the request: ask for a fresh one."""


class UrlAlreadyUsed(PutFailed):
    """S3 already holds a file for this URL (412: it signs If-None-Match); exit 1, as for any
    file S3 refuses. `after_lost_answer`: an earlier attempt failed, and may be that file."""

    def __init__(self, message: str, *, after_lost_answer: bool = False) -> None:
        super().__init__(message, "PreconditionFailed")
        self.after_lost_answer = after_lost_answer


class SendStopped(Exception):
    """Another thread stopped the send (Interrupter.stop): it ends where it is."""


class Interrupter:
    """The connections of sends in flight, so that another thread can end them at once: a
    send blocked on a socket S3 stopped answering would otherwise wait out SOCKET_TIMEOUT."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()
        self.stopped = False

    def opened(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if self.stopped:
                raise SendStopped
            self._open.add(connection)

    def closed(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._open.discard(connection)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for connection in self._open:
                if connection.sock is not None:
                    with contextlib.suppress(OSError):
                        connection.sock.shutdown(socket.SHUT_RDWR)


USED = "this upload URL was already used (a URL takes one file): nothing of this file was sent"


def sha256_of(stream: IO[bytes], on_progress: Progress | None = None) -> tuple[str, int]:
    """The stream's SHA-256 (hex) and size in bytes, read in chunks."""
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
        digest.update(chunk)
        size += len(chunk)
        if on_progress:
            on_progress(size)
    return digest.hexdigest(), size


def _s3_error(body: bytes) -> tuple[str | None, str]:
    """S3's error Code and Message from its XML answer (never anything of the file's)."""
    text = body.decode("utf-8", "replace")
    code = re.search(r"<Code>([^<]{1,100})</Code>", text)
    message = re.search(r"<Message>([^<]{1,500})</Message>", text)
    return (
        printable(html.unescape(code[1]), 100) if code else None,
        printable(html.unescape(message[1])) if message else "",
    )


@contextmanager
def _source(source: str | IO[bytes]) -> Iterator[IO[bytes]]:
    if isinstance(source, str):
        with open_binary(source) as stream:
            yield stream
    else:
        yield source


def _send_body(
    connection: http.client.HTTPConnection,
    stream: IO[bytes],
    size: int,
    on_progress: Progress | None,
) -> None:
    sent = 0
    while sent < size:
        try:
            chunk = stream.read(min(CHUNK_BYTES, size - sent))
        except OSError as exc:
            raise InputError(f"the file could not be read to the end: {exc.strerror}") from None
        if not chunk:
            raise InputError("the file got shorter while it was being sent: upload it again")
        connection.send(chunk)
        sent += len(chunk)
        if on_progress:
            on_progress(sent)


def _send_once(
    parts: SplitResult,
    headers: dict[str, str],
    stream: IO[bytes],
    size: int,
    on_progress: Progress | None,
    interrupter: Interrupter | None,
) -> tuple[int, bytes]:
    """One PUT of the whole stream: the status and the start of S3's answer."""
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=SOCKET_TIMEOUT)
    if interrupter is not None:
        interrupter.opened(connection)
    try:
        target = f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"
        connection.putrequest("PUT", target, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        try:
            _send_body(connection, stream, size, on_progress)
        except OSError as failure:
            # S3 answers a request it refuses (an expired URL) before the body is in, then
            # drops the connection: its answer is what matters, if it arrived.
            try:
                response = connection.getresponse()
            except (OSError, http.client.HTTPException):
                raise failure from None
        else:
            response = connection.getresponse()
        return response.status, response.read(64 << 10)
    finally:
        if interrupter is not None:
            interrupter.closed(connection)
        connection.close()


def put_file(
    url: str,
    headers: dict[str, str],
    source: str | IO[bytes],
    size: int,
    on_progress: Progress | None = None,
    *,
    attempts: int = 4,
    sleep: Callable[[float], None] = time.sleep,
    offset: int = 0,
    interrupter: Interrupter | None = None,
) -> None:
    """PUT `size` bytes of a path or seekable stream (from `offset`) to a presigned URL,
    with `headers` (never Host or Content-Length, which are set here) and nothing else signed.

    Raises UrlExpired when S3 says the URL has expired, UrlAlreadyUsed when it holds a file
    already, PutFailed with S3's error code for any other refusal or once retries of
    transient failures run out, InputError when the file cannot be read; SendStopped once
    `interrupter` is stopped."""
    parts = check_url(url, "the upload URL")
    number = parse_qs(parts.query).get("partNumber", [""])[0]
    what = f"part {number}" if number.isdigit() else "file"
    failure = ""
    with _source(source) as stream:
        for attempt in range(1, attempts + 1):
            stream.seek(offset)
            if on_progress:
                on_progress(0)
            started = time.monotonic()
            try:
                status, body = _send_once(parts, headers, stream, size, on_progress, interrupter)
            except (OSError, http.client.HTTPException) as exc:
                _log_put(what, type(exc).__name__, started)
                if interrupter is not None and interrupter.stopped:
                    raise SendStopped from None
                failure = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            else:
                _log_put(what, status, started)
                if 200 <= status < 300:
                    return
                code, message = _s3_error(body)
                if status == 412:  # after a failed attempt, that one may have landed
                    raise UrlAlreadyUsed(USED, after_lost_answer=attempt > 1)
                if status == 403 and code == "AccessDenied" and "expired" in message.lower():
                    raise UrlExpired("the upload URL has expired", code)
                if status < 500 and code not in _RETRYABLE_CODES:
                    hint = _HINTS.get(code or "", message or f"HTTP {status}")
                    raise PutFailed(f"S3 refused the file ({code or status}): {hint}", code)
                failure = f"{code or 'HTTP'} {status}"
            if attempt < attempts:
                sleep(retry_delay(attempt))
    raise PutFailed(
        f"the file could not be sent to S3 ({printable(failure, 120)}) after {attempts} "
        "attempts: check the network, then try again"
    )


def _log_put(what: str, status: int | str, started: float) -> None:
    """One DEBUG line per PUT to S3: the file or which part, the status, milliseconds; never
    the URL (its query is a credential)."""
    logger.debug("PUT S3 %s -> %s in %.0f ms", what, status, (time.monotonic() - started) * 1000)
