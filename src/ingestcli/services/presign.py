"""`ingest presign`: an upload URL an operator hands to a provider out of band.

For a provider who cannot reach the API. The URL is for one server-chosen key under the
provider's prefix, registered in the uploads table like any other upload, and expires in
minutes. It cannot pin a checksum (the operator does not have the file), so the ingest
Lambda has nothing to compare the body with: the API path is the stronger one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ingestcli.core.layout import PROVIDER_ID
from ingestcli.core.ledger import UploadLedger
from ingestcli.errors import UsageError
from ingestcli.lambdas.api.routes import UPLOAD_TAG, new_upload_id, safe_filename, upload_key

CONTENT_TYPE = "text/csv"
MAX_EXPIRY_SECONDS = 3600
# What `ingest upload --url` sends: the headers this URL signs, with their only values.
HEADERS = {"content-type": CONTENT_TYPE, "x-amz-tagging": UPLOAD_TAG}


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
    credentials (`s3` must sign SigV4, as aws.client's do); returns the API's answer shape:
    upload_id, key, url, headers, expires_at."""
    if not PROVIDER_ID.fullmatch(provider):
        raise UsageError("a provider id is 3-63 lowercase letters, digits and hyphens")
    if not 60 <= expires_in <= MAX_EXPIRY_SECONDS:
        raise UsageError(f"--expires-in must be from 60 to {MAX_EXPIRY_SECONDS} seconds")
    now = now or datetime.now(UTC)
    upload_id = new_upload_id(now)
    key = upload_key(provider, upload_id, now)
    expires_at = (now + timedelta(seconds=expires_in)).isoformat(timespec="seconds")
    UploadLedger(dynamodb, uploads_table).register(
        provider,
        upload_id,
        key=key,
        filename=safe_filename(filename) if filename else None,
        created_at=now.isoformat(timespec="milliseconds"),
        expires_at=expires_at,
    )
    url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": CONTENT_TYPE, "Tagging": UPLOAD_TAG},
        ExpiresIn=expires_in,
    )
    return {
        "upload_id": upload_id,
        "key": key,
        "url": url,
        "headers": HEADERS,
        "expires_at": expires_at.replace("+00:00", "Z"),
    }
