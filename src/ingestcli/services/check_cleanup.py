"""`ingest check`'s clean-up: everything the canary provider left, and nothing else.

Each step deletes under the canary's own id only: its item in the providers table, its
partition of the records and uploads tables, and every object version under `<canary>/` in
the bucket (the file as sent, its report, rejects and checkpoints), and any upload in parts
it left open there. An id without the canary prefix is refused before any call, so a
mistake here cannot reach a real provider's data.
Each step is bounded and says what it deleted, or why it could not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ingestcli.errors import IngestError
from ingestcli.services.providers import CANARY_PREFIX
from ingestcli.services.session import aws_errors

MAX_ITEMS = 1_000  # per table or prefix: the canary writes a handful
_DELETE_BATCH = 1_000  # S3 DeleteObjects takes at most 1,000 keys


class NotACanary(IngestError):
    """A clean-up asked for an id that is not a canary's: refused, nothing touched."""


class TooMany(IngestError):
    """More than MAX_ITEMS under the canary: something else writes there; left for a look."""


def require_canary(provider: str) -> str:
    if not provider.startswith(CANARY_PREFIX) or "/" in provider:
        raise NotACanary(f"refusing to clean up '{provider[:80]}': not a canary provider")
    return provider


def delete_provider(dynamodb: Any, table: str, canary: str) -> str:
    """Delete the canary's item (its token stops at once: the API finds no provider)."""
    key = {"providerId": {"S": require_canary(canary)}}
    with aws_errors():
        dynamodb.delete_item(TableName=table, Key=key)
    return f"provider {canary} deleted"


def delete_partition(dynamodb: Any, table: str, sort_key: str, canary: str, what: str) -> str:
    """Delete every item of the canary's partition (key providerId) in `table`."""
    keys = list(_partition_keys(dynamodb, table, sort_key, require_canary(canary)))
    with aws_errors():
        for key in keys:
            dynamodb.delete_item(TableName=table, Key=key)
    return f"{len(keys)} {what} deleted"


def _partition_keys(dynamodb: Any, table: str, sort_key: str, canary: str) -> Iterator[dict]:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "providerId = :p",
        "ExpressionAttributeValues": {":p": {"S": canary}},
        "ProjectionExpression": "providerId, #s",
        "ExpressionAttributeNames": {"#s": sort_key},
        "ConsistentRead": True,
    }
    found = 0
    while True:
        with aws_errors():
            answer = dynamodb.query(**request)
        for item in answer.get("Items", []):
            found += 1
            if found > MAX_ITEMS:
                raise TooMany(f"more than {MAX_ITEMS:,} items under {canary} in {table}")
            yield {"providerId": item["providerId"], sort_key: item[sort_key]}
        if "LastEvaluatedKey" not in answer:
            return
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def delete_objects(s3: Any, bucket: str, canary: str) -> str:
    """Delete every version and delete marker under `<canary>/`: the file, its report,
    rejects and checkpoints, with their history in the versioned bucket."""
    prefix = require_canary(canary) + "/"
    found: list[dict[str, str]] = []
    with aws_errors():
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if not entry["Key"].startswith(prefix):
                    continue
                found.append({"Key": entry["Key"], "VersionId": entry.get("VersionId") or "null"})
                if len(found) > MAX_ITEMS:
                    raise TooMany(f"more than {MAX_ITEMS:,} objects under {prefix} in {bucket}")
        failed = 0
        for start in range(0, len(found), _DELETE_BATCH):
            chunk = found[start : start + _DELETE_BATCH]
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            failed += len(answer.get("Errors", []))
    if failed:
        codes = "see `aws s3api list-object-versions`"
        raise IngestError(
            f"{failed} of {len(found)} object versions under {prefix} remain: {codes}"
        )
    return f"{len(found)} object version(s) under {prefix} deleted"


def abort_uploads_in_parts(s3: Any, bucket: str, canary: str) -> str:
    """Abort every multipart upload left open under `<canary>/` (a check stopped while its
    upload in parts was open): S3 would otherwise keep its parts until the bucket's rule."""
    prefix = require_canary(canary) + "/"
    with aws_errors():
        found = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
        opened = [entry for entry in found if entry["Key"].startswith(prefix)][:MAX_ITEMS]
        for entry in opened:
            s3.abort_multipart_upload(Bucket=bucket, Key=entry["Key"], UploadId=entry["UploadId"])
    return f"{len(opened)} unfinished upload(s) in parts under {prefix} aborted"


def clean_up(
    dynamodb: Any, s3: Any, outputs: Mapping[str, str], canary: str
) -> Iterator[tuple[str, bool, str, str]]:
    """Each step, in order, as (step, done, what it did or the error, what to do by hand):
    the provider first, so its token stops before its data goes; every step is tried even
    after one failed."""
    steps: tuple[tuple[str, Callable[[], str]], ...] = (
        ("provider", lambda: delete_provider(dynamodb, outputs["ProvidersTable"], canary)),
        (
            "records",
            lambda: delete_partition(
                dynamodb, outputs["RecordsTable"], "sortKey", canary, "record(s)"
            ),
        ),
        (
            "uploads",
            lambda: delete_partition(
                dynamodb, outputs["UploadsTable"], "uploadId", canary, "upload(s)"
            ),
        ),
        ("parts", lambda: abort_uploads_in_parts(s3, outputs["UploadsBucket"], canary)),
        ("objects", lambda: delete_objects(s3, outputs["UploadsBucket"], canary)),
    )
    by_hand = {
        "provider": f"`ingest provider revoke {canary} --yes`, then delete its item",
        "parts": f"`aws s3api list-multipart-uploads --bucket {outputs['UploadsBucket']} "
        f"--prefix {canary}/`, then abort each",
        "objects": f"delete every version under s3://{outputs['UploadsBucket']}/{canary}/",
    }
    for step, action in steps:
        try:
            yield step, True, action(), ""
        except IngestError as error:
            hint = by_hand.get(step, f"delete the items of partition {canary} by hand")
            yield step, False, str(error), hint
