"""The queue's messages: S3 events that name uploaded objects, and the ingest Lambda's own
message that continues an upload a run could not finish."""

from __future__ import annotations

import json
import urllib.parse

from ingestcli.core.layout import UploadRef

CONTINUATION = "ingest_continuation"


def objects_in_message(body: str) -> list[tuple[str, str, str | None]]:
    """(bucket, key, version) of each object a queue message names: an S3 event, or our own
    message that continues an upload. S3 test events name none; S3 sends keys URL-encoded."""
    message = json.loads(body)
    if CONTINUATION in message:
        named = message[CONTINUATION]
        return [(named["bucket"], named["key"], named.get("version_id"))]
    objects = []
    for record in message.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        key = urllib.parse.unquote_plus(s3["object"]["key"])
        objects.append((s3["bucket"]["name"], key, s3["object"].get("versionId")))
    return objects


def continuation_message(ref: UploadRef) -> str:
    named = {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id}
    return json.dumps({CONTINUATION: named})
