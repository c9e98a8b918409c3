"""What reaches the ingest Lambda: CSV bodies, S3 notifications, SQS records, a context.

An S3 event built here names the object's version (`versionId`) as AWS's does for a
versioned bucket, which the template's bucket is: by default the version now current at
that key in the in-process moto, i.e. the one the PUT just before made. The harness's bucket
is versioned, so the versioned read (GetObject with VersionId, with Range on continuation)
is the path these tests run; `version_id=None` builds the event of an unversioned bucket.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import urllib.parse
from collections.abc import Iterable
from typing import Any

from support.names import ACCOUNT, BUCKET, REGION

HEADER = ("medical_record_number", "date_time", "note")


def csv_bytes(rows: Iterable[Iterable[str]], header: Iterable[str] = HEADER) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


class FakeContext:
    """A Lambda context with plenty of time, or one whose remaining time drops below any
    margin once it has been asked `answers_before_low` times."""

    HIGH = 900_000
    LOW = 1

    def __init__(self, answers_before_low: int | None = None) -> None:
        self.answers_before_low = answers_before_low
        self.asked = 0

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        if self.answers_before_low is None or self.asked <= self.answers_before_low:
            return self.HIGH
        return self.LOW


# The default of s3_event_body's version_id: the object's current version, looked up.
CURRENT = "current"


def current_version(key: str, bucket: str = BUCKET) -> str | None:
    """The VersionId of the object now at `key` in the in-process moto's S3, as S3 names it
    in the event of the PUT that made it; None for an unversioned bucket, a missing bucket or
    key, or a deleted object. Read from moto's own store: no request, so no risk of one
    reaching AWS when no moto is running."""
    from moto.s3.models import FakeKey, s3_backends

    found = s3_backends[ACCOUNT]["aws"].buckets.get(bucket)
    if found is None or not found.is_versioned:
        return None
    current = found.keys.get(key)
    if not isinstance(current, FakeKey) or current.version_id == "null":
        return None
    return current.version_id


def s3_event_body(
    key: str,
    bucket: str = BUCKET,
    event_name: str = "ObjectCreated:Put",
    *,
    encoded_key: str | None = None,
    version_id: str | None = CURRENT,
) -> str:
    """An S3 notification as S3 sends it to SQS: the key URL-encoded, a space as '+'; with
    the object's `versionId` (default: the version current at the key now; None: none, as
    for an unversioned bucket)."""
    if version_id == CURRENT:
        version_id = current_version(key, bucket)
    s3_object: dict[str, Any] = {
        "key": encoded_key if encoded_key is not None else urllib.parse.quote_plus(key, "/"),
        "size": 1,
        "sequencer": "0055AED6DCD90281E5",
    }
    if version_id is not None:
        s3_object["versionId"] = version_id
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2024-03-01T10:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": s3_object,
        },
    }
    return json.dumps({"Records": [record]})


S3_TEST_EVENT = json.dumps(
    {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2024-03-01T10:00:00.000Z",
        "Bucket": BUCKET,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
)


def sqs_record(body: str, message_id: str = "m-1", receives: int = 1) -> dict[str, Any]:
    """One record of the event an SQS event source mapping gives the function."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receives),
            "SentTimestamp": "1709287200000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1709287200001",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:ingest-test-uploads",
        "awsRegion": REGION,
    }


def lambda_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}
