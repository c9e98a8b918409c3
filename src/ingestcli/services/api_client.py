"""The provider's client of the upload API (a Lambda function URL), on the standard library.

The token travels only in the Authorization header, over https (plain http is allowed for
loopback only, where the local stack serves the API), is never sent on after a redirect, and
never appears in a message. Transient failures (5xx, throttling, a dropped connection) are
retried with exponential backoff and jitter; everything else becomes a named error. Where a
message tells the user to check the API URL, it names where that URL came from
(`url_source`: INGEST_API_URL, --api-url, a profile), so they fix the right one.

At DEBUG (`ingest --debug`), each request is one line on the "ingestcli.api_client" logger:
method, path without its query, HTTP status and time taken; never the token, a body, a file
name or a query string.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from ingestcli import __version__
from ingestcli.core.backoff import backoff_delay, half_to_full
from ingestcli.errors import AuthError, IngestError, NotFound, UsageError

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 8 << 20
_TOKEN = re.compile(r"[\x21-\x7e]{8,4096}")
logger = logging.getLogger("ingestcli.api_client")


class ApiUnavailable(IngestError):
    """The API cannot be reached, or kept failing, after every retry."""


class UploadNotPending(IngestError):
    """The upload cannot be abandoned: its file has reached the bucket and is ingested."""


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> SplitResult:
    """The URL's parts, refusing what would send a token or a file in clear text."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"{what} is not an https:// URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(f"{what} must start with https:// (http is for 127.0.0.1 only)")
    if parts.username or parts.password:
        raise UsageError(f"{what} must not hold a user name or password")
    return parts


def retry_delay(attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, ...) of a request to the API or S3."""
    return backoff_delay(attempt - 1, base=0.5, cap=8.0, jitter=half_to_full)


def printable(text: str, limit: int = 300) -> str:
    """Server text made safe for a terminal: no control characters, bounded length."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _read_quietly(error: urllib.error.HTTPError) -> bytes:
    """The body of an error answer, or nothing if the connection broke while reading it."""
    try:
        return error.read(64 << 10)
    except (OSError, http.client.HTTPException):
        return b""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A function URL never redirects; following one would hand the token to another host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class ApiClient:
    """Calls the upload API as one provider, identified by its upload token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        url_source: str = "the API URL",
    ) -> None:
        """`url_source` names where `api_url` came from, for messages that say to check it
        ("INGEST_API_URL", "--api-url", "api_url in profile acme")."""
        self._url_source = url_source
        parts = check_url(api_url, url_source)
        token = token.strip()  # a token pasted with its line break
        if not token:
            raise AuthError("no upload token: set INGEST_TOKEN to the token your operator gave")
        if not _TOKEN.fullmatch(token):
            raise AuthError("the upload token is malformed: copy it again from your operator")
        self._base = parts._replace(path=parts.path.rstrip("/"), query="", fragment="").geturl()
        self._host = parts.netloc
        self._token = token
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._sleep = sleep
        proxies = urllib.request.ProxyHandler({} if is_loopback(parts.hostname) else None)
        self._opener = urllib.request.build_opener(proxies, _NoRedirects)

    @property
    def caller(self) -> str:
        """The API's URL and a fingerprint of the token (never the token): who calls where."""
        return f"{self._base}\n{hashlib.sha256(self._token.encode()).hexdigest()[:16]}"

    def create_upload(self, filename: str, size: int, sha256: str) -> dict[str, Any]:
        """A new upload: its id, key, presigned PUT URL and the headers the PUT must send."""
        body = {"filename": filename, "size": size, "sha256": sha256}
        ticket = self.call("POST", "/uploads", body)
        headers = ticket.get("headers")
        if not (
            isinstance(ticket.get("upload_id"), str)
            and isinstance(ticket.get("url"), str)
            and isinstance(headers, dict)
            and all(isinstance(v, str) for v in headers.values())
        ):
            raise self.not_our_api("its answer to a new upload lacks upload_id, url or headers")
        return ticket

    def upload_status(self, upload_id: str) -> dict[str, Any]:
        """The upload's report once finished, else {"upload_id", "status": pending|processing}."""
        if not upload_id:
            raise UsageError("give an upload id: `ingest uploads` lists recent ones")
        missing = f"no upload {printable(upload_id, 80)} for this token: see `ingest uploads`"
        document = self.call("GET", f"/uploads/{quote(upload_id, safe='')}", missing=missing)
        if not isinstance(document.get("status"), str):
            raise self.not_our_api("its answer about an upload has no status")
        return document

    def provider_settings(self) -> dict[str, Any]:
        """{"provider", "timezone"}: the token's provider and the IANA time zone the server
        reads its files in (None when none is registered), so a file is checked locally as
        the server will check it."""
        document = self.call("GET", "/provider")
        zone = document.get("timezone")
        if not isinstance(document.get("provider"), str) or not isinstance(zone, str | None):
            raise self.not_our_api("its answer about the provider lacks provider or timezone")
        return document

    def abandon_upload(self, upload_id: str) -> dict[str, Any]:
        """Mark an upload whose file was never sent as abandoned; its summary, as
        recent_uploads lists it. Raises UploadNotPending once its file has arrived (it is
        then ingested as usual), NotFound for an upload this token does not have."""
        if not upload_id:
            raise UsageError("give an upload id: `ingest uploads` lists recent ones")
        shown = printable(upload_id, 80)
        missing = f"no upload {shown} for this token: see `ingest uploads`"
        arrived = f"the file of upload {shown} has arrived, so it is ingested as usual"
        path = f"/uploads/{quote(upload_id, safe='')}/abandon"
        document = self.call("POST", path, missing=missing, conflict=arrived)
        if not isinstance(document.get("status"), str):
            raise self.not_our_api("its answer about an upload has no status")
        return document

    def recent_uploads(self, limit: int = 20) -> list[dict[str, Any]]:
        """This provider's latest uploads, newest first, as the API lists them."""
        if limit < 1:
            raise UsageError("the number of uploads to list must be at least 1")
        uploads = self.call("GET", f"/uploads?limit={limit}").get("uploads")
        if not isinstance(uploads, list) or not all(isinstance(u, dict) for u in uploads):
            raise self.not_our_api("its list of uploads is not a list")
        return uploads

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        missing: str | None = None,
        conflict: str | None = None,
    ) -> dict[str, Any]:
        """The JSON object the API answers; `missing` words a 404, `conflict` a 409."""
        data = None if body is None else json.dumps(body).encode()
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": f"ingest/{__version__}",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        route = path.partition("?")[0]  # a query is never logged
        for attempt in range(1, self._attempts + 1):
            request = urllib.request.Request(self._base + path, data, headers, method=method)
            started = time.monotonic()
            try:
                with self._opener.open(request, timeout=self._timeout) as response:
                    raw = response.read(MAX_RESPONSE_BYTES + 1)
                    _log_request(method, route, response.status, started)
                return self._document(raw)
            except urllib.error.HTTPError as error:
                _log_request(method, route, error.code, started)
                with error:
                    status, message = error.code, self._message(_read_quietly(error))
                if status not in RETRYABLE_STATUS:
                    raise self._refusal(status, message, missing, conflict) from None
                failure = f"HTTP {status}: {message}" if message else f"HTTP {status}"
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                reason = getattr(error, "reason", error)
                _log_request(method, route, type(reason).__name__, started)
                failure = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
            if attempt < self._attempts:
                self._sleep(retry_delay(attempt))
        raise ApiUnavailable(
            f"the ingest API at {self._host} cannot be reached ({printable(failure, 120)}) "
            f"after {self._attempts} attempts: check {self._url_source} and the network, "
            "then try again"
        )

    def _document(self, raw: bytes) -> dict[str, Any]:
        if len(raw) > MAX_RESPONSE_BYTES:
            raise self.not_our_api("its answer is far too large")
        try:
            document = json.loads(raw)
        except ValueError:
            raise self.not_our_api("it did not answer with JSON") from None
        if not isinstance(document, dict):
            raise self.not_our_api("it did not answer with a JSON object")
        return document

    def _message(self, raw: bytes) -> str:
        """The message of an error answer: ours ({"error": {...}}) or AWS's ({"Message"})."""
        try:
            document = json.loads(raw)
        except ValueError:
            return ""
        if not isinstance(document, dict):
            return ""
        error = document.get("error")
        text = error.get("message") if isinstance(error, dict) else document.get("Message")
        return printable(str(text).replace(self._token, "***")) if text else ""

    def _refusal(
        self, status: int, message: str, missing: str | None, conflict: str | None = None
    ) -> IngestError:
        said = f": {message}" if message else ""
        if 300 <= status < 400:
            return self.not_our_api("it answered with a redirect")
        if status == 401:
            return AuthError(
                "the API did not accept the upload token: check INGEST_TOKEN, "
                "or ask your operator for a new token"
            )
        if status == 403:
            return AuthError(f"the upload token is not allowed to do this{said}")
        if status in (400, 413):
            return UsageError(f"the API refused the request{said}")
        if status == 404:
            return NotFound(missing or f"the API at {self._host} has no such endpoint{said}")
        if status == 409 and conflict is not None:
            return UploadNotPending(conflict)
        return IngestError(f"the API refused the request (HTTP {status}){said}")

    def not_our_api(self, problem: str) -> IngestError:
        return IngestError(
            f"{self._host} does not look like the ingest API ({problem}): check {self._url_source}"
        )


def _log_request(method: str, route: str, status: int | str, started: float) -> None:
    """One DEBUG line per request: method, path (no query), status, milliseconds."""
    elapsed = (time.monotonic() - started) * 1000
    logger.debug("%s %s -> %s in %.0f ms", method, route, status, elapsed)
