"""The uploads table: one item per upload, written when the API hands out its URL.

It answers "what uploads does this provider have, and how did each end" without listing the
bucket, records the SHA-256 the provider declared, and carries the lease that lets only one
ingest run work on an upload at a time (SQS delivers at least once, and a continuation can
meet a redelivered event).

Item: providerId, uploadId (keys), key, filename, size, sha256 (optional), status
(pending | processing | succeeded | partial | failed), created_at, expires_at, finished_at,
rows, written, rejected, duplicates, lease_owner, lease_until (epoch milliseconds).
"""

from __future__ import annotations

from typing import Any

FINISHED = frozenset({"succeeded", "partial", "failed"})
COUNTS = ("rows", "written", "rejected", "duplicates")
_NUMBERS = frozenset({"size", "lease_until", *COUNTS})


class LeaseLost(Exception):
    """Another run holds the upload now; this run must stop without writing its result."""


def _conditional_failure(error: Exception) -> bool:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "ConditionalCheckFailedException"


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: int(value["N"]) if "N" in value else value.get("S", "")
        for name, value in item.items()
    }


def _typed(value: str | int) -> dict[str, str]:
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


class UploadLedger:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table

    def _key(self, provider: str, upload_id: str) -> dict[str, Any]:
        return {"providerId": {"S": provider}, "uploadId": {"S": upload_id}}

    def register(self, provider: str, upload_id: str, **attributes: str | int | None) -> None:
        """A new upload, pending; an upload id is never reused."""
        item = self._key(provider, upload_id) | {"status": {"S": "pending"}}
        item |= {name: _typed(value) for name, value in attributes.items() if value is not None}
        self.dynamodb.put_item(
            TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(uploadId)"
        )

    def get(self, provider: str, upload_id: str) -> dict[str, Any] | None:
        answer = self.dynamodb.get_item(
            TableName=self.table, Key=self._key(provider, upload_id), ConsistentRead=True
        )
        return _plain(answer["Item"]) if "Item" in answer else None

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
                    ":processing": {"S": "processing"},
                    ":succeeded": {"S": "succeeded"},
                    ":partial": {"S": "partial"},
                    ":failed": {"S": "failed"},
                },
            )
        except Exception as error:
            if _conditional_failure(error):
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
            if not _conditional_failure(error):
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
            if _conditional_failure(error):
                raise LeaseLost(upload_id) from None
            raise

    def recent(self, provider: str, limit: int) -> list[dict[str, Any]]:
        """The provider's latest uploads, newest first (upload ids sort by time)."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "providerId = :provider",
            "ExpressionAttributeValues": {":provider": {"S": provider}},
            "ScanIndexForward": False,
        }
        while len(found) < limit:
            answer = self.dynamodb.query(**request, Limit=limit - len(found))
            found.extend(_plain(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        for item in found:
            item.pop("lease_owner", None)
            item.pop("lease_until", None)
        return found


def upload_summary(item: dict[str, Any]) -> dict[str, Any]:
    """An upload as the API and `ingest uploads` show it: counts once it has finished."""
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
    }
