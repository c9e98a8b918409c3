"""Where an upload's pieces live in the bucket, and the ids that name them: every key, once.

Keys are chosen by the server (the API, or an operator's `ingest presign`), so a key that
does not have the shape below was not made by us: it is never ingested. The provider is
read from the key, never from the file.

    <provider>/uploads/YYYY/MM/DD/<upload_id>.csv   the file as sent
    <provider>/reports/<upload_id>.json             its report
    <provider>/rejects/<upload_id>.csv              its refused rows, as sent
    <provider>/checkpoints/<upload_id>.json         progress of a file still being ingested
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

PROVIDER_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
PROVIDER_ID_RULE = (
    "a provider id is 3 to 63 characters: lowercase letters, digits and '-', starting and "
    "ending with a letter or digit"
)
UPLOAD_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
UPLOAD_ID_RULE = (
    "an upload id is 1 to 64 characters: letters, digits, '_' and '-', starting with a "
    "letter or digit"
)
UPLOAD_KEY = re.compile(
    r"(?P<provider>[^/]+)/uploads/(?P<year>\d{4})/(?P<month>0[1-9]|1[0-2])/"
    r"(?P<day>0[1-9]|[12]\d|3[01])/(?P<upload_id>[^/]+)\.csv",
    re.ASCII,
)
CONTENT_TYPE = "text/csv"  # what a presigned PUT pins
UPLOAD_TAG = "ingest-kind=upload"  # the lifecycle rule that expires raw uploads matches it
# Rows as sent: the lifecycle rules expire their noncurrent versions after a day by these tags.
CHECKPOINT_TAG = "ingest-kind=checkpoint"
REJECTS_TAG = "ingest-kind=rejects"
# The If-None-Match a presigned PUT signs: S3 takes the PUT only while the key holds nothing,
# so a URL takes one file (a second PUT gets 412 PreconditionFailed).
ONE_PUT = "*"
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def new_upload_id(now: datetime) -> str:
    """UTC time to the millisecond, then 50 random bits: sorts by time, never collides."""
    stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"
    return f"{stamp}-{''.join(secrets.choice(_BASE32) for _ in range(10))}"


def upload_key(provider: str, upload_id: str, now: datetime) -> str:
    """Where the file of a new upload goes: under the provider's prefix, by UTC day."""
    return f"{provider}/uploads/{now:%Y/%m/%d}/{upload_id}.csv"


def upload_path(provider: str, upload_id: str, kind: str, suffix: str) -> str:
    """A document kept beside an upload: `kind` is reports, rejects or checkpoints."""
    return f"{provider}/{kind}/{upload_id}{suffix}"


def report_key(provider: str, upload_id: str) -> str:
    return upload_path(provider, upload_id, "reports", ".json")


@dataclass(frozen=True)
class UploadRef:
    """One uploaded object, as named by an S3 event or a continuation message."""

    bucket: str
    key: str
    version_id: str | None
    provider: str
    upload_id: str
    etag: str | None = None  # in a bucket without versions, what pins the upload's object

    def path(self, kind: str, suffix: str) -> str:
        return upload_path(self.provider, self.upload_id, kind, suffix)

    @property
    def report_key(self) -> str:
        return report_key(self.provider, self.upload_id)

    @property
    def rejects_key(self) -> str:
        return self.path("rejects", ".csv")

    @property
    def checkpoint_key(self) -> str:
        return self.path("checkpoints", ".json")


def parse_upload_key(bucket: str, key: str, version_id: str | None = None) -> UploadRef | None:
    """The upload a key names, or None when the key is not an upload the API could have made."""
    match = UPLOAD_KEY.fullmatch(key)
    if not match:
        return None
    provider, upload_id = match["provider"], match["upload_id"]
    if not PROVIDER_ID.fullmatch(provider) or not UPLOAD_ID.fullmatch(upload_id):
        return None
    return UploadRef(bucket, key, version_id, provider, upload_id)
