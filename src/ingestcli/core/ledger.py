"""The uploads table: one item per upload, written when the API hands out its URL.

It answers "what uploads does this provider have, and how did each end" without listing the
bucket, records the SHA-256 the provider declared, and carries the lease that lets only one
ingest run work on an upload at a time (SQS delivers at least once, and a continuation can
meet a redelivered event).

Item: providerId, uploadId (keys), key, filename, size, sha256 (optional), status
(pending | processing | succeeded | partial | failed), created_at, expires_at, finished_at,
rows, written, rejected, duplicates, lease_owner, lease_until (epoch milliseconds),
token_fingerprint (which token asked for the URL; none for `ingest presign`),
object_version / object_etag (the one object version the upload is: the first that was
read), extra_version_ids (a string set: later versions at the key, never ingested; read
back as the count `extra_versions`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ingestcli.core.aws_errors import is_condition_failure
from ingestcli.core.clock import timestamp
from ingestcli.core.items import flatten, query_items, typed
from ingestcli.core.layout import new_upload_id, upload_key
from ingestcli.core.reports import COUNTS
from ingestcli.core.status import UploadStatus

MAX_FILENAME_CHARS = 200
# Hex characters of a token's SHA-256 an upload keeps: enough to tell one token from the next
# (a 2**-64 chance of two alike), too few to stand for the token's hash anywhere else.
TOKEN_FINGERPRINT_CHARS = 16
_HIDDEN = ("lease_owner", "lease_until", "token_fingerprint", "extra_version_ids")
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9 ._()+-]", re.ASCII)


class LeaseLost(Exception):
    """Another run holds the upload now; this run must stop without writing its result."""


@dataclass(frozen=True)
class NewUpload:
    """An upload just registered: where its file goes and until when its URL works."""

    upload_id: str
    key: str
    filename: str | None
    created_at: str
    expires_at: str


def safe_filename(name: str) -> str:
    """The base name, in characters safe in an HTTP header and a log: metadata only."""
    base = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", base).strip(" .")
    return cleaned[:MAX_FILENAME_CHARS] or "upload.csv"


def token_fingerprint(token_sha256: str) -> str:
    """What an upload records of the token that asked for it: the start of its SHA-256 (the
    providers table's token_sha256), never the token."""
    return token_sha256[:TOKEN_FINGERPRINT_CHARS].lower()


def register_upload(
    ledger: UploadLedger,
    provider: str,
    *,
    now: datetime,
    expires_in: int,
    filename: str | None = None,
    size: int | None = None,
    sha256: str | None = None,
    token_sha256: str | None = None,
) -> NewUpload:
    """Choose a new upload's id and key, and record it as pending: the one way an upload
    comes to be, for the API and for an operator's `ingest presign` alike. The API passes
    the SHA-256 of the token it was called with, so the upload ingests nothing once that
    token is rotated out; an operator's URL carries none and is bound to no token."""
    upload_id = new_upload_id(now)
    upload = NewUpload(
        upload_id=upload_id,
        key=upload_key(provider, upload_id, now),
        filename=safe_filename(filename) if filename is not None else None,
        created_at=timestamp(now),
        expires_at=timestamp(now + timedelta(seconds=expires_in)),
    )
    ledger.register(
        provider,
        upload_id,
        key=upload.key,
        filename=upload.filename,
        size=size,
        sha256=sha256,
        token_fingerprint=token_fingerprint(token_sha256) if token_sha256 else None,
        created_at=upload.created_at,
        expires_at=upload.expires_at,
    )
    return upload


class UploadLedger:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table

    def _key(self, provider: str, upload_id: str) -> dict[str, Any]:
        return {"providerId": {"S": provider}, "uploadId": {"S": upload_id}}

    def register(self, provider: str, upload_id: str, **attributes: str | int | None) -> None:
        """A new upload, pending; an upload id is never reused."""
        item = self._key(provider, upload_id) | {"status": {"S": UploadStatus.PENDING}}
        item |= {name: typed(value) for name, value in attributes.items() if value is not None}
        self.dynamodb.put_item(
            TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(uploadId)"
        )

    def get(self, provider: str, upload_id: str) -> dict[str, Any] | None:
        answer = self.dynamodb.get_item(
            TableName=self.table, Key=self._key(provider, upload_id), ConsistentRead=True
        )
        return _plain(answer["Item"]) if "Item" in answer else None

    def pin_version(
        self, provider: str, upload_id: str, version_id: str | None, etag: str | None
    ) -> dict[str, Any]:
        """Record, once, which object version the upload is (the first one read); returns the
        item as it stands, pinned by this call or an earlier one."""
        values = {":version": {"S": version_id or ""}, ":etag": {"S": etag or ""}}
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(provider, upload_id),
                UpdateExpression="SET object_version = :version, object_etag = :etag",
                ConditionExpression=(
                    "attribute_exists(uploadId) AND attribute_not_exists(object_version)"
                ),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            if not is_condition_failure(error):
                raise
            found = self.get(provider, upload_id)
            if found is None:
                raise
            return found
        return _plain(answer["Attributes"])

    def note_extra_version(self, provider: str, upload_id: str, identity: str) -> dict[str, Any]:
        """Record a later object version at the upload's key (a set: a redelivered event
        counts once); returns the item as it stands."""
        answer = self.dynamodb.update_item(
            TableName=self.table,
            Key=self._key(provider, upload_id),
            UpdateExpression="ADD extra_version_ids :identity",
            ConditionExpression="attribute_exists(uploadId)",
            ExpressionAttributeValues={":identity": {"SS": [identity]}},
            ReturnValues="ALL_NEW",
        )
        return _plain(answer["Attributes"])

    def acquire(
        self, provider: str, upload_id: str, owner: str, now_ms: int, until_ms: int
    ) -> bool:
        """Take the upload's lease until `until_ms`, unless a live run holds it or it is done."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(provider, upload_id),
                UpdateExpression="SET lease_owner = :owner, lease_until = :until, #s = :processing",
                ConditionExpression=(
                    "attribute_exists(uploadId) AND NOT #s IN (:succeeded, :partial, :failed) "
                    "AND (attribute_not_exists(lease_until) OR lease_until < :now)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": {"N": str(until_ms)},
                    ":now": {"N": str(now_ms)},
                    ":processing": {"S": UploadStatus.PROCESSING},
                    ":succeeded": {"S": UploadStatus.SUCCEEDED},
                    ":partial": {"S": UploadStatus.PARTIAL},
                    ":failed": {"S": UploadStatus.FAILED},
                },
            )
        except Exception as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def release(self, provider: str, upload_id: str, owner: str) -> None:
        """Give the lease up early (to a continuation or a retry); a no-op if no longer ours."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(provider, upload_id),
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except Exception as error:
            if not is_condition_failure(error):
                raise

    def finish(self, provider: str, upload_id: str, owner: str | None, report: dict) -> None:
        """Record how the upload ended, from its report, and drop the lease.

        With an owner, only while that run holds the lease (else LeaseLost); without one,
        only while nobody does (an upload refused before any run took it).
        """
        values = {
            ":status": {"S": report["status"]},
            ":finished": {"S": report["finished_at"]},
        } | {f":{name}": {"N": str(report[name])} for name in COUNTS}
        if owner is None:
            condition = "attribute_not_exists(lease_owner)"
        else:
            condition = "lease_owner = :owner"
            values[":owner"] = {"S": owner}
        counts = ", ".join(f"#{name} = :{name}" for name in COUNTS)  # "rows" is a reserved word
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(provider, upload_id),
                UpdateExpression=(
                    f"SET #s = :status, finished_at = :finished, {counts} "
                    "REMOVE lease_owner, lease_until"
                ),
                ConditionExpression=f"attribute_exists(uploadId) AND {condition}",
                ExpressionAttributeNames={"#s": "status"} | {f"#{name}": name for name in COUNTS},
                ExpressionAttributeValues=values,
            )
        except Exception as error:
            if is_condition_failure(error):
                raise LeaseLost(upload_id) from None
            raise

    def recent(self, provider: str, limit: int) -> list[dict[str, Any]]:
        """The provider's latest uploads, newest first (upload ids sort by time)."""
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "providerId = :provider",
            "ExpressionAttributeValues": {":provider": {"S": provider}},
            "ScanIndexForward": False,
        }
        return [_plain(item, hidden=_HIDDEN) for item in query_items(self.dynamodb, request, limit)]


def _plain(item: dict[str, Any], hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    """The item as plain values, its set of later versions as their count."""
    plain = flatten(item, leave_out=(*hidden, "extra_version_ids"))
    if "extra_version_ids" in item:
        plain["extra_versions"] = len(item["extra_version_ids"].get("SS", []))
    return plain


def upload_summary(item: dict[str, Any]) -> dict[str, Any]:
    """An upload as the API and `ingest uploads` show it: counts once it has finished, and
    how many later files reached its URL and were ignored (SECOND_FILE_IGNORED)."""
    finished = all(name in item for name in COUNTS)
    return {
        "upload_id": item.get("uploadId"),
        "key": item.get("key"),
        "filename": item.get("filename"),
        "size": item.get("size"),
        "status": item.get("status"),
        "created_at": item.get("created_at"),
        "finished_at": item.get("finished_at"),
        "counts": {name: item[name] for name in COUNTS} if finished else None,
        "extra_versions": int(item.get("extra_versions") or 0),
    }
