"""An upload as its provider and support staff see it: the one place its shown status is
derived, so the API's `GET /uploads`, `GET /uploads/<id>` and `ingest uploads --provider`
always agree.

`expired` is never stored. An upload shows as expired when its stored status is pending, its
URL's `expires_at` has passed, and no object is at its key: a file that landed just before
the URL expired, still waiting in the queue, is not called expired. Whether an object is
there is asked by listing its one key (ListObjectsV2), so the asker needs no right to read
uploads, which hold patient data.

A multipart upload (`multipart_id`) stays pending while S3 holds it open: it shows as
`abandoned` once S3 no longer knows it (the bucket's AbortIncompleteMultipartUpload rule
aborted it) and no object is at its key, which ListParts on the key tells (s3:
ListMultipartUploadParts, which shows part sizes and checksums, never data).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ingestcli.core.aws_errors import error_code
from ingestcli.core.clock import utc_now
from ingestcli.core.items import flatten
from ingestcli.core.reports import COUNTS
from ingestcli.core.status import FINISHED, UploadStatus

ObjectExists = Callable[[str], bool]
UploadOpen = Callable[[str, str], bool]  # (key, multipart_id): S3 still holds it open

# What the run holding an upload notes of its progress: its report's name -> the attribute.
PROGRESS_ATTRIBUTES = {"rows": "progress_rows", "bytes": "progress_bytes", "size": "progress_size"}


def plain_item(item: dict[str, Any], hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    """A low-level uploads-table item as plain values, its set of later versions as their
    count (`extra_versions`)."""
    plain = flatten(item, leave_out=(*hidden, "extra_version_ids"))
    if "extra_version_ids" in item:
        plain["extra_versions"] = len(item["extra_version_ids"].get("SS", []))
    return plain


def object_at_key(s3: Any, bucket: str) -> ObjectExists:
    """Whether an object is at a key of `bucket`: a listing of at most one key that starts
    with it (the key itself sorts first), which s3:ListBucket on `*/uploads/*` allows."""

    def exists(key: str) -> bool:
        answer = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return any(entry.get("Key") == key for entry in answer.get("Contents", []))

    return exists


def listed_parts(s3: Any, bucket: str, key: str, multipart_id: str) -> list[dict] | None:
    """Every part S3 holds of a multipart upload (ListParts, page by page), or None when S3
    no longer knows the upload (completed or aborted)."""
    parts: list[dict[str, Any]] = []
    marker = 0
    while True:
        try:
            answer = s3.list_parts(
                Bucket=bucket, Key=key, UploadId=multipart_id, PartNumberMarker=marker
            )
        except Exception as error:
            if error_code(error) == "NoSuchUpload":
                return None
            raise
        parts += answer.get("Parts", [])
        if not answer.get("IsTruncated"):
            return parts
        marker = int(answer["NextPartNumberMarker"])


def multipart_open(s3: Any, bucket: str) -> UploadOpen:
    """Whether S3 still holds a multipart upload open (ListParts of at most one part)."""

    def is_open(key: str, multipart_id: str) -> bool:
        try:
            s3.list_parts(Bucket=bucket, Key=key, UploadId=multipart_id, MaxParts=1)
        except Exception as error:
            if error_code(error) == "NoSuchUpload":
                return False
            raise
        return True

    return is_open


def shown_status(
    item: dict[str, Any],
    now: datetime,
    object_exists: ObjectExists,
    upload_open: UploadOpen | None = None,
) -> str:
    """The stored status, or, for a pending upload with no file at its key: `expired` once
    its URL has expired, `abandoned` once S3 no longer holds its multipart upload open
    (asked of `upload_open`; without it, a multipart upload shows as stored)."""
    status = str(item.get("status") or UploadStatus.PENDING)
    key, multipart_id = item.get("key"), item.get("multipart_id")
    if status != UploadStatus.PENDING:
        return status
    if multipart_id:
        if upload_open is None or upload_open(str(key), str(multipart_id)):
            return status
        return status if object_exists(str(key)) else UploadStatus.ABANDONED
    if not _past(item.get("expires_at"), now):
        return status
    if key and object_exists(str(key)):
        return status  # landed before the URL expired; the ingest Lambda has yet to take it
    return UploadStatus.EXPIRED


def _past(expires_at: Any, now: datetime) -> bool:
    try:
        return isinstance(expires_at, str) and datetime.fromisoformat(expires_at) < now
    except ValueError:  # not a moment we wrote: never guess that it passed
        return False


def upload_progress(item: dict[str, Any]) -> dict[str, int] | None:
    """How far the run working on the upload has got ({"rows", "bytes", "size"}), or None
    before its first note and once the upload is finished."""
    if item.get("status") in FINISHED or not all(a in item for a in PROGRESS_ATTRIBUTES.values()):
        return None
    return {name: int(item[attribute]) for name, attribute in PROGRESS_ATTRIBUTES.items()}


def upload_summary(
    item: dict[str, Any],
    *,
    object_exists: ObjectExists | None = None,
    now: datetime | None = None,
    upload_open: UploadOpen | None = None,
) -> dict[str, Any]:
    """An upload as the API and `ingest uploads` show it: counts once it has finished, and
    how many later files reached its URL and were ignored (SECOND_FILE_IGNORED). With
    `object_exists`, its status is the shown one (`expired` derived); without, as stored."""
    finished = all(name in item for name in COUNTS)
    status = item.get("status")
    if object_exists is not None:
        status = shown_status(item, now or utc_now(), object_exists, upload_open)
    return {
        "upload_id": item.get("uploadId"),
        "key": item.get("key"),
        "filename": item.get("filename"),
        "size": item.get("size"),
        "status": status,
        "created_at": item.get("created_at"),
        "finished_at": item.get("finished_at"),
        "counts": {name: item[name] for name in COUNTS} if finished else None,
        "extra_versions": int(item.get("extra_versions") or 0),
    }
