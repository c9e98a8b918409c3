"""The report of an out-of-band upload, read through the presigned GET of its report key
that `ingest presign` hands over beside the upload URL (`ingest upload --report-url`).

S3 answers a GET of a key that is not there yet with 404, or with 403 AccessDenied when the
signer may not list the bucket: both mean "no report yet", and the wait goes on
(`upload.wait_for_report`). An expired or mis-signed URL is an error at once, not a wait.
Nothing here prints or logs the URL: its query signs for the operator's credentials.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, unquote

from ingestcli.core.layout import UPLOAD_ID, UPLOAD_KEY
from ingestcli.core.status import UploadStatus
from ingestcli.errors import IngestError, UsageError
from ingestcli.services.api_client import check_url, printable, retry_delay
from ingestcli.services.s3_put import SOCKET_TIMEOUT, _s3_error

MAX_REPORT_BYTES = 4 << 20  # a report stays under 1 MB
_REPORT_KEY = re.compile(r"/(?P<provider>[^/]+)/reports/(?P<upload_id>[^/]+)\.json$")


class ReportUrlFailed(IngestError):
    """The report URL cannot be read: expired, refused, or S3 unreachable after retries."""


def report_upload_id(report_url: str, upload_url: str | None = None) -> str:
    """The upload id a report URL from `ingest presign` names; UsageError when it names no
    report, or (given `upload_url`) not the report of that URL's upload."""
    parts = check_url(report_url, "the report URL")
    found = _REPORT_KEY.search(unquote(parts.path))
    if not found or not UPLOAD_ID.fullmatch(found["upload_id"]):
        raise UsageError(
            "the report URL names no upload's report: use the one `ingest presign` gave"
        )
    if upload_url is not None:
        sent = UPLOAD_KEY.search(unquote(check_url(upload_url, "the upload URL").path))
        if sent and (sent["provider"], sent["upload_id"]) != tuple(found.groups()):
            raise UsageError("the report URL is for another upload than --url: give that upload's")
    return found["upload_id"]


def _get_once(parts: SplitResult) -> tuple[int, bytes]:
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=SOCKET_TIMEOUT)
    try:
        target = f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, response.read(MAX_REPORT_BYTES + 1)
    finally:
        connection.close()


def report_fetcher(
    report_url: str, *, attempts: int = 4, sleep: Callable[[float], None] = time.sleep
) -> Callable[[str], dict[str, Any]]:
    """A fetch-status function for `wait_for_report`: the report once it is in the bucket,
    else {"upload_id", "status": "pending"}. Redirects are not followed."""
    parts = check_url(report_url, "the report URL")

    def fetch(upload_id: str) -> dict[str, Any]:
        failure = ""
        for attempt in range(1, attempts + 1):
            try:
                status, body = _get_once(parts)
            except (OSError, http.client.HTTPException) as exc:
                failure = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            else:
                if status == 200:
                    return _report(body)
                code, message = _s3_error(body)
                expired = "expired" in message.lower()
                if status == 404 or (status == 403 and code == "AccessDenied" and not expired):
                    return {"upload_id": upload_id, "status": UploadStatus.PENDING}
                if status < 500:
                    why = "it has expired" if expired else f"S3 said {code or status}"
                    raise ReportUrlFailed(
                        f"the report URL cannot be read ({why}): ask your operator for the "
                        f"report of upload {upload_id} (`ingest report`)"
                    )
                failure = f"{code or 'HTTP'} {status}"
            if attempt < attempts:
                sleep(retry_delay(attempt))
        raise ReportUrlFailed(
            f"the report could not be read from S3 ({printable(failure, 120)}) after "
            f"{attempts} attempts: check the network, then wait again with --report-url"
        )

    return fetch


def _report(body: bytes) -> dict[str, Any]:
    problem = "it is far too large" if len(body) > MAX_REPORT_BYTES else ""
    try:
        document = None if problem else json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("status"), str):
        raise ReportUrlFailed(f"the report URL did not give a report ({problem or 'not one'})")
    return document
