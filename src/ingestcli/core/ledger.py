"""The uploads table: one item per upload, written when the API hands out its URL.

It answers "what uploads does this provider have, and how did each end" without listing the
bucket, records the SHA-256 the provider declared, and carries the lease that lets only one
ingest run work on an upload at a time (SQS delivers at least once, and a continuation can
meet a redelivered event).

Item: providerId, uploadId (keys), key, filename, size, sha256 (optional), status
(pending | abandoned | processing | succeeded | partial | failed; `expired` is derived, see
upload_view.py), created_at, expires_at, finished_at, rows, written, rejected, duplicates,
progress_rows / progress_bytes / progress_size (noted by the run holding the lease),
lease_owner, lease_until (epoch ms), token_fingerprint (which token asked for the URL),
object_version / object_etag (the one object version the upload is: the first that was
read), extra_version_ids (a string set: later versions at the key, never ingested; read
back as the count `extra_versions`).
"""

from __future__ import annotations

from typing import Any

from ingestcli.core.aws_errors import is_condition_failure
from ingestcli.core.items import query_items, typed

# How an upload comes to be, kept importable from here, where it was first written.
from ingestcli.core.registration import TOKEN_FINGERPRINT_CHARS as TOKEN_FINGERPRINT_CHARS
from ingestcli.core.registration import NewUpload as NewUpload
from ingestcli.core.registration import register_upload as register_upload
from ingestcli.core.registration import safe_filename as safe_filename
from ingestcli.core.registration import token_fingerprint as token_fingerprint
from ingestcli.core.reports import COUNTS
from ingestcli.core.status import UploadStatus
from ingestcli.core.upload_view import PROGRESS_ATTRIBUTES
from ingestcli.core.upload_view import plain_item as _plain
from ingestcli.core.upload_view import upload_summary as upload_summary

_HIDDEN = ("lease_owner", "lease_until", "token_fingerprint", "extra_version_ids")


class LeaseLost(Exception):
    """Another run holds the upload now; this run must stop without writing its result."""


class UploadNotPending(Exception):
    """The upload is no longer pending (a file arrived at its key): it cannot be abandoned."""


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

    def open_multipart(self, provider: str, upload_id: str, multipart_id: str) -> None:
        """Record S3's id of the multipart upload opened at the upload's key."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key=self._key(provider, upload_id),
            UpdateExpression="SET multipart_id = :id",
            ConditionExpression="attribute_exists(uploadId)",
            ExpressionAttributeValues={":id": {"S": multipart_id}},
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

    def abandon(self, provider: str, upload_id: str) -> dict[str, Any] | None:
        """Mark a pending upload abandoned (again, if it is: a retry answers alike); the item
        then, or None if unknown. Raises UploadNotPending once a run has taken it. A file
        that reaches its key later is still ingested: `acquire` takes abandoned uploads."""
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(provider, upload_id),
                UpdateExpression="SET #s = :abandoned",
                ConditionExpression="attribute_exists(uploadId) AND #s IN (:pending, :abandoned)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": UploadStatus.PENDING},
                    ":abandoned": {"S": UploadStatus.ABANDONED},
                },
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            if not is_condition_failure(error):
                raise
            if self.get(provider, upload_id) is None:
                return None
            raise UploadNotPending(upload_id) from None
        return _plain(answer["Attributes"])

    def note_progress(
        self, provider: str, upload_id: str, owner: str, rows: int, read: int, size: int
    ) -> None:
        """Record how far the run holding the lease has got (rows, bytes read, file size):
        counts only, never a value. Raises LeaseLost if another run holds the upload now."""
        counts = {":rows": typed(rows), ":bytes": typed(read), ":size": typed(size)}
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(provider, upload_id),
                UpdateExpression="SET #rows = :rows, #bytes = :bytes, #size = :size",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeNames={f"#{n}": a for n, a in PROGRESS_ATTRIBUTES.items()},
                ExpressionAttributeValues=counts | {":owner": {"S": owner}},
            )
        except Exception as error:
            if is_condition_failure(error):
                raise LeaseLost(upload_id) from None
            raise

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
