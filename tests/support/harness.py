"""The resources the ingest Lambda uses, on moto, and ways to look at them and feed them.

Tables are keyed as infra/cloudformation/ingest.yaml keys them, and the bucket is versioned
as the template makes it (`make_harness(versioned=False)`: the unversioned path). Messages
reach the handler either built by hand (the shape the SQS event source mapping gives a
Lambda; an S3 event names the version its PUT made, as AWS's do) or received from a real
moto queue, which is how continuation messages travel.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingestcli.core.clock import utc_now
from ingestcli.core.layout import parse_upload_key
from ingestcli.core.ledger import UploadLedger
from ingestcli.lambdas.ingest.ingestor import Ingestor
from ingestcli.lambdas.ingest.settings import Settings
from support.ingest_events import FakeContext, lambda_event, s3_event_body, sqs_record
from support.ingest_results import Snapshot, flat
from support.names import (
    BUCKET,
    KEY,
    PROVIDER,
    PROVIDERS,
    RECORDS,
    REJECTS_KEY,
    REPORT_KEY,
    UPLOADS,
)
from support.template import make_table

AUTO = "auto"  # the SHA-256 of the body, as the API declares it


@dataclass
class Harness:
    """The resources the ingest Lambda uses, on moto, and ways to look at them."""

    s3: Any
    dynamodb: Any
    sqs: Any
    queue_url: str
    dlq_url: str
    max_receive_count: int = 3
    clock: Callable[[], datetime] = utc_now
    defaults: dict[str, Any] = field(default_factory=dict)  # settings every ingestor gets

    def settings(self, **changes: Any) -> Settings:
        changes.setdefault("max_receive_count", self.max_receive_count)
        changes = self.defaults | changes
        return Settings(BUCKET, RECORDS, PROVIDERS, UPLOADS, self.queue_url, **changes)

    def ingestor(
        self, *, s3: Any = None, dynamodb: Any = None, sqs: Any = None, **changes: Any
    ) -> Ingestor:
        return Ingestor(
            s3 or self.s3,
            dynamodb or self.dynamodb,
            sqs or self.sqs,
            self.settings(**changes),
            clock=self.clock,
        )

    def add_provider(
        self, provider_id: str, status: str = "active", time_zone: str | None = None
    ) -> None:
        item = {"providerId": {"S": provider_id}, "status": {"S": status}}
        if time_zone:
            item["time_zone"] = {"S": time_zone}
        self.dynamodb.put_item(TableName=PROVIDERS, Item=item)

    def upload(
        self, body: bytes, key: str = KEY, sha256: str | None = AUTO, register: bool = True
    ) -> str:
        """Put an object as a presigned PUT would, after registering it as the API does."""
        if sha256 == AUTO:
            sha256 = hashlib.sha256(body).hexdigest()
        ref = parse_upload_key(BUCKET, key)
        if register and ref is not None:
            self.dynamodb.delete_item(
                TableName=UPLOADS,
                Key={"providerId": {"S": ref.provider}, "uploadId": {"S": ref.upload_id}},
            )
            UploadLedger(self.dynamodb, UPLOADS).register(
                ref.provider, ref.upload_id, key=key, size=len(body), sha256=sha256
            )
        metadata = {"filename": "visits.csv"}
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata)
        return key

    def ledger(self, key: str = KEY) -> dict[str, Any] | None:
        ref = parse_upload_key(BUCKET, key)
        assert ref is not None
        return UploadLedger(self.dynamodb, UPLOADS).get(ref.provider, ref.upload_id)

    # -- looking

    def items(self) -> list[dict[str, Any]]:
        found = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=RECORDS):
            found.extend(page["Items"])
        return sorted(found, key=lambda item: (item["providerId"]["S"], item["sortKey"]["S"]))

    def count(self) -> int:
        """How many items the table holds (a scan that returns no items: moto is slow at them)."""
        return sum(
            page["Count"]
            for page in self.dynamodb.get_paginator("scan").paginate(
                TableName=RECORDS, Select="COUNT"
            )
        )

    def values(self) -> dict[str, dict[str, str]]:
        """Items of the default provider as plain strings, by sort key."""
        return {
            item["sortKey"]["S"]: flat(item)
            for item in self.items()
            if item["providerId"]["S"] == PROVIDER
        }

    def object(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def report(self, key: str = REPORT_KEY) -> dict[str, Any] | None:
        body = self.object(key)
        return None if body is None else json.loads(body)

    def rejects(self, key: str = REJECTS_KEY) -> list[list[str]] | None:
        """The rejects CSV parsed with csv; bytes that were not UTF-8 come back as sent."""
        body = self.object(key)
        if body is None:
            return None
        text = body.decode("utf-8", "surrogateescape")
        return list(csv.reader(io.StringIO(text, newline="")))

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return sorted(entry["Key"] for entry in listed)

    def snapshot(self) -> Snapshot:
        return Snapshot(self.items(), self.object(REPORT_KEY), self.object(REJECTS_KEY))

    def reset(self) -> None:
        """Empty the tables and remove everything but the uploads, to ingest a file anew."""
        keys = [{name: item[name] for name in ("providerId", "sortKey")} for item in self.items()]
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            self.dynamodb.batch_write_item(RequestItems={RECORDS: requests})
        for key in self.keys():
            if "/uploads/" not in key:
                self.s3.delete_object(Bucket=BUCKET, Key=key)
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=UPLOADS):
            for item in page["Items"]:  # registered, not yet ingested
                kept = ("providerId", "uploadId", "key", "size", "sha256")
                item = {name: item[name] for name in kept if name in item}
                self.dynamodb.put_item(TableName=UPLOADS, Item=item | {"status": {"S": "pending"}})

    # -- the queue

    def send(self, body: str) -> str:
        return self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"]

    def queued(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=queue_url or self.queue_url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["All"],
            VisibilityTimeout=0,
        )
        return answer.get("Messages", [])

    def deliver_next(
        self, ingestor: Ingestor, context: FakeContext | None = None
    ) -> dict[str, Any] | None:
        """Play the event source mapping once: receive one message, hand it to the handler,
        delete it unless the handler lists it as failed, in which case it becomes visible
        again at once (a retry). The handler's answer, or None when the queue is empty."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return None
        (message,) = messages
        record = sqs_record(
            message["Body"],
            message["MessageId"],
            int(message["Attributes"]["ApproximateReceiveCount"]),
        )
        answer = ingestor.handle_batch(lambda_event(record), context or FakeContext())
        handle = message["ReceiptHandle"]
        if answer["batchItemFailures"]:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
        else:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)
        return answer

    def drain(
        self,
        ingestor: Ingestor,
        context: Callable[[], FakeContext] = FakeContext,
        max_rounds: int = 60,
    ) -> list[dict[str, Any]]:
        """Deliver messages until the queue is empty; returns each round's answer."""
        answers = []
        for _ in range(max_rounds):
            answer = self.deliver_next(ingestor, context())
            if answer is None:
                return answers
            answers.append(answer)
        raise AssertionError(f"the queue still held messages after {max_rounds} rounds")


def make_harness(clients: Any, max_receive_count: int = 3, *, versioned: bool = True) -> Harness:
    """The ingest Lambda's bucket (versioned, as the template's, unless told otherwise),
    tables and queues, with one active provider."""
    s3, dynamodb, sqs = clients.s3, clients.dynamodb, clients.sqs
    s3.create_bucket(Bucket=BUCKET)
    if versioned:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    tables = ((RECORDS, "RecordsTable"), (PROVIDERS, "ProvidersTable"), (UPLOADS, "UploadsTable"))
    for name, logical_id in tables:
        make_table(dynamodb, name, logical_id)
    dlq_url = sqs.create_queue(QueueName="ingest-test-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    redrive = {
        "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
        "maxReceiveCount": str(max_receive_count),
    }
    queue_url = sqs.create_queue(
        QueueName="ingest-test-uploads", Attributes={"RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    harness = Harness(s3, dynamodb, sqs, queue_url, dlq_url, max_receive_count)
    harness.add_provider(PROVIDER)
    return harness


def ingest_once(env: Harness, key: str = KEY, **changes: Any) -> dict[str, Any]:
    """Hand one S3 event for `key` (naming its current version) to a fresh ingestor, as a
    single-message batch."""
    event = lambda_event(sqs_record(s3_event_body(key)))
    return env.ingestor(**changes).handle_batch(event, FakeContext())
