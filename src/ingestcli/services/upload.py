"""`ingest upload`: checksum the file, get a presigned URL, PUT the file, wait for its report.

The PUT goes straight to S3 with http.client, so exactly the headers the URL was signed
with are sent (plus Host and Content-Length) and the file is streamed from disk in chunks,
never held in memory. The file is read twice, once for its SHA-256 and once to send it,
so it must be a real file, not standard input. A URL signs `If-None-Match: *`: S3 refuses
a second PUT (412), UrlAlreadyUsed, never "uploaded".
"""

from __future__ import annotations

import hashlib
import html
import http.client
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import tzinfo
from typing import IO, Any
from urllib.parse import SplitResult

from ingestcli.core.summary import Summary, summarize
from ingestcli.errors import IngestError, InputError, UsageError
from ingestcli.services.api_client import ApiClient, check_url, printable, retry_delay
from ingestcli.services.files import STDIN, open_binary
from ingestcli.services.presign import HEADERS as PRESIGNED_HEADERS
from ingestcli.services.waiting import WaitTimeout as WaitTimeout  # re-exported
from ingestcli.services.waiting import wait_for_report as wait_for_report  # re-exported

CHUNK_BYTES = 1 << 20
SOCKET_TIMEOUT = 60.0  # seconds without progress, not for the whole file
_RETRYABLE_CODES = frozenset({"RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"})
_HINTS = {
    "SignatureDoesNotMatch": "the URL does not match the headers sent: ask for a new URL",
    "BadDigest": "the file changed while it was being sent: upload it again",
    "EntityTooLarge": "the file is larger than S3 takes in one request",
}

Progress = Callable[[int], None]


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


USED = "this upload URL was already used (a URL takes one file): nothing of this file was sent"


def check_before_upload(path: str, zone: tzinfo | None = None) -> Summary:
    """The same check as `ingest validate`, so a file with bad rows is caught before it leaves."""
    with open_binary(path) as stream:
        return summarize(stream, zone)


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
) -> tuple[int, bytes]:
    """One PUT of the whole stream: the status and the start of S3's answer."""
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=SOCKET_TIMEOUT)
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
) -> None:
    """PUT `size` bytes of a path or seekable stream (from its start) to a presigned URL,
    with `headers` (never Host or Content-Length, which are set here) and nothing else signed.

    Raises UrlExpired when S3 says the URL has expired, UrlAlreadyUsed when it holds a file
    already, PutFailed with S3's error code for any other refusal or once retries of
    transient failures run out, InputError when the file cannot be read."""
    parts = check_url(url, "the upload URL")
    failure = ""
    with _source(source) as stream:
        for attempt in range(1, attempts + 1):
            stream.seek(0)
            if on_progress:
                on_progress(0)
            try:
                status, body = _send_once(parts, headers, stream, size, on_progress)
            except (OSError, http.client.HTTPException) as exc:
                failure = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            else:
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


def _uploadable(path: str) -> None:
    if path == STDIN:
        raise UsageError("give the path of a file: an upload reads it twice, so not -")


def upload(
    client: ApiClient,
    path: str,
    *,
    on_progress: Progress | None = None,
    fresh_urls: int = 2,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Send a file through the API: checksum, ask for a URL, PUT; ask again (up to
    `fresh_urls` times) if the URL expires first. Returns upload_id, key, filename, size and
    sha256 of the upload that holds the file."""
    _uploadable(path)
    filename = os.path.basename(path)
    with open_binary(path) as stream:
        sha256, size = sha256_of(stream)
        for renewal in range(fresh_urls + 1):
            ticket = client.create_upload(filename, size, sha256)
            try:
                put_file(ticket["url"], ticket["headers"], stream, size, on_progress, sleep=sleep)
                break
            except UrlAlreadyUsed as used:
                if used.after_lost_answer:  # nobody else has this URL: the file S3 holds is
                    break  # ours, and its report (checksum checked) says how it ended
                raise UrlAlreadyUsed(f"{USED}; upload it again, for a new URL") from None
            except UrlExpired:
                if renewal == fresh_urls:
                    raise UrlExpired(
                        f"the upload URL expired before the file was sent, {renewal + 1} times: "
                        "check this computer's clock, then try again",
                        "AccessDenied",
                    ) from None
    held = {"upload_id": ticket["upload_id"], "key": ticket.get("key"), "filename": filename}
    return held | {"size": size, "sha256": sha256}


def upload_with_url(
    url: str,
    path: str,
    *,
    on_progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Send a file to a URL from `ingest presign`, which signs the headers of presign.HEADERS
    (their only values); UrlAlreadyUsed (exit 1) when the URL already holds a file."""
    _uploadable(path)
    parts = check_url(url, "the upload URL")
    with open_binary(path) as stream:
        size = os.fstat(stream.fileno()).st_size
        try:
            put_file(url, dict(PRESIGNED_HEADERS), stream, size, on_progress, sleep=sleep)
        except UrlAlreadyUsed as used:
            maybe = " (maybe by an earlier try of this one)" if used.after_lost_answer else ""
            raise UrlAlreadyUsed(f"{USED}{maybe}; ask your operator for a new URL") from None
        except UrlExpired:
            raise UrlExpired(
                "the upload URL has expired: ask your operator for a new one", "AccessDenied"
            ) from None
    return {"object": parts._replace(query="", fragment="").geturl(), "size": size}
