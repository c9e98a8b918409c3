"""`ingest presign`: an upload URL an operator hands to a provider out of band.

For a provider who cannot reach the API. The URL is for one server-chosen key under the
provider's prefix, registered in the uploads table like any other upload (the same
`register_upload` as the API's), and expires in minutes. It cannot pin a checksum (the
operator does not have the file), so the ingest Lambda has nothing to compare the body
with: the API path is the stronger one. Like the API's, the URL signs `If-None-Match: *`, so
it takes one file: a second PUT gets 412 PreconditionFailed. It is bound to no token (the
operator's credentials signed it), so a provider's token rotation does not stop it; it ends
when it expires.

Beside it goes a presigned GET of the upload's report key, for `ingest upload --url URL
--report-url RURL` to wait on: valid for 7 days, the longest SigV4 allows (a URL signed with
temporary credentials, such as an SSO or assumed-role session, ends with them sooner).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingestcli.core.clock import timestamp, utc_now
from ingestcli.core.layout import CONTENT_TYPE, ONE_PUT, UPLOAD_TAG, report_key
from ingestcli.core.ledger import UploadLedger, register_upload
from ingestcli.errors import UsageError
from ingestcli.services.providers import check_provider_id

MAX_EXPIRY_SECONDS = 3600
REPORT_URL_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may last: 7 days
# What `ingest upload --url` sends: the headers this URL signs, with their only values.
HEADERS = {"content-type": CONTENT_TYPE, "x-amz-tagging": UPLOAD_TAG, "if-none-match": ONE_PUT}


def presign_upload(
    s3: Any,
    dynamodb: Any,
    *,
    bucket: str,
    uploads_table: str,
    provider: str,
    filename: str | None = None,
    expires_in: int = 900,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Register an upload for `provider` and sign a PUT for its key with the caller's
    credentials (`s3` must sign SigV4, as session.client's do); returns the API's answer
    shape: upload_id, key, url, headers, expires_at; and report_url, a GET of the upload's
    report key valid for REPORT_URL_SECONDS (7 days), until report_expires_at."""
    check_provider_id(provider, "--provider")
    if not 60 <= expires_in <= MAX_EXPIRY_SECONDS:
        raise UsageError(f"--expires-in must be from 60 to {MAX_EXPIRY_SECONDS} seconds")
    now = now or utc_now()
    upload = register_upload(
        UploadLedger(dynamodb, uploads_table),
        provider,
        now=now,
        expires_in=expires_in,
        filename=filename,
    )
    url = s3.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": bucket,
            "Key": upload.key,
            "ContentType": CONTENT_TYPE,
            "Tagging": UPLOAD_TAG,
            "IfNoneMatch": ONE_PUT,
        },
        ExpiresIn=expires_in,
    )
    signed = parse_qs(urlsplit(url).query).get("X-Amz-SignedHeaders", [""])[0].split(";")
    if set(signed) - {"host"} != set(HEADERS):  # a client that sends HEADERS must match it
        raise RuntimeError("the presigned URL does not sign the expected headers")
    report_url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": report_key(provider, upload.upload_id)},
        ExpiresIn=REPORT_URL_SECONDS,
    )
    return {
        "upload_id": upload.upload_id,
        "key": upload.key,
        "url": url,
        "headers": HEADERS,
        "expires_at": upload.expires_at,
        "report_url": report_url,
        "report_expires_at": timestamp(now + timedelta(seconds=REPORT_URL_SECONDS)),
    }
