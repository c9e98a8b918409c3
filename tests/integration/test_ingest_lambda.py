"""The ingest Lambda end to end on moto: SQS messages carrying S3 events in, table and reports out.

Everything runs against moto's S3, DynamoDB and SQS (the `clients` fixture), with the tables
keyed as infra/cloudformation/ingest.yaml keys them. Messages reach the handler either built
by hand (the shape the SQS event source mapping gives a Lambda) or received from a real moto
queue, which is how continuation messages travel. What is compared is what a user sees: the
table's items, the report object's bytes and the rejects CSV.

Files that need several runs (checkpoints and continuation messages), faults (throttling,
broken streams, crashes, the last attempt before the dead-letter queue) and the logging rules
live in test_ingest_faults.py, which reuses the harness below.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import itertools
import json
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestcli.core.layout import parse_upload_key
from ingestcli.core.ledger import UploadLedger
from ingestcli.lambdas.ingest import ingestor as ingest_module
from ingestcli.lambdas.ingest.ingestor import Ingestor, Settings

REGION = "us-east-1"
BUCKET = "ingest-test-uploads-123456789012-us-east-1"
RECORDS = "ingest-test-records"
PROVIDERS = "ingest-test-providers"
UPLOADS = "ingest-test-uploads"
PROVIDER = "acme"
UPLOAD_ID = "01J9ZQ4D3M7T2V8X6Y5W1K0PAB"
KEY = f"{PROVIDER}/uploads/2024/03/01/{UPLOAD_ID}.csv"
REPORT_KEY = f"{PROVIDER}/reports/{UPLOAD_ID}.json"
REJECTS_KEY = f"{PROVIDER}/rejects/{UPLOAD_ID}.csv"
CHECKPOINTS = f"{PROVIDER}/checkpoints/"
HEADER = ("medical_record_number", "date_time", "note")
REPORT_FIELDS = {
    "upload_id",
    "provider",
    "key",
    "status",
    "rows",
    "written",
    "rejected",
    "duplicates",
    "errors",
    "started_at",
    "finished_at",
}
ERROR_FIELDS = {"line", "column", "code", "message"}
REJECTS_HEADER = ["line", "column", "code", "message"]
TEMPLATE = Path(__file__).parents[1] / "infra" / "cloudformation" / "ingest.yaml"
AUTO = "auto"  # the SHA-256 of the body, as the API declares it


# --------------------------------------------------------------------------- harness


class _CfnLoader(yaml.SafeLoader):
    """Reads the template's short-form intrinsics (!Ref, !If...) as plain values."""


_CfnLoader.add_multi_constructor(
    "!",
    lambda loader, _suffix, node: (
        loader.construct_scalar(node)
        if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node)
    ),
)


@functools.cache
def table_keys(logical_id: str) -> dict[str, Any]:
    """KeySchema and AttributeDefinitions of a table, as the shipped template declares them."""
    resources = yaml.load(TEMPLATE.read_text("utf-8"), Loader=_CfnLoader)["Resources"]
    properties = resources[logical_id]["Properties"]
    return {name: properties[name] for name in ("KeySchema", "AttributeDefinitions")}


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


def s3_event_body(
    key: str,
    bucket: str = BUCKET,
    event_name: str = "ObjectCreated:Put",
    *,
    encoded_key: str | None = None,
) -> str:
    """An S3 notification as S3 sends it to SQS: the key URL-encoded, a space as '+'."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2024-03-01T10:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": encoded_key
                if encoded_key is not None
                else urllib.parse.quote_plus(key, "/"),
                "size": 1,
                "sequencer": "0055AED6DCD90281E5",
            },
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


def csv_bytes(rows: Iterable[Iterable[str]], header: Iterable[str] = HEADER) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


def flat(item: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: next(iter(value.values())) for name, value in item.items()}


@dataclass(frozen=True)
class Snapshot:
    """What a user can see of one upload: every item of the table, the report, the rejects."""

    items: list[dict[str, Any]]
    report: bytes | None
    rejects: bytes | None


def ticking_clock() -> Callable[[], str]:
    """A clock for `_now` that moves on a millisecond at every reading."""
    start = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    ticks = itertools.count(1)

    def now() -> str:
        moment = start + timedelta(milliseconds=next(ticks))
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return now


def comparable(snapshot: Snapshot) -> tuple[list[dict[str, Any]], dict[str, Any], bytes | None]:
    """A snapshot without the times of day a run happened to have, after checking that every
    item of the upload carries one ingested_at taken while the upload was being ingested."""
    assert snapshot.report is not None
    report = json.loads(snapshot.report)
    stamps = {item["ingested_at"]["S"] for item in snapshot.items}
    assert len(stamps) <= 1, "an upload's items carry different ingested_at values"
    for stamp in stamps:
        assert report["started_at"] <= stamp <= report["finished_at"]
    items = [{k: v for k, v in item.items() if k != "ingested_at"} for item in snapshot.items]
    times = {k: v for k, v in report.items() if k not in ("started_at", "finished_at")}
    return items, times, snapshot.rejects


@dataclass
class Harness:
    """The resources the ingest Lambda uses, on moto, and ways to look at them."""

    s3: Any
    dynamodb: Any
    sqs: Any
    queue_url: str
    dlq_url: str
    max_receive_count: int = 3

    def settings(self, **changes: Any) -> Settings:
        changes.setdefault("max_receive_count", self.max_receive_count)
        return Settings(BUCKET, RECORDS, PROVIDERS, UPLOADS, self.queue_url, **changes)

    def ingestor(
        self, *, s3: Any = None, dynamodb: Any = None, sqs: Any = None, **changes: Any
    ) -> Ingestor:
        return Ingestor(
            s3 or self.s3, dynamodb or self.dynamodb, sqs or self.sqs, self.settings(**changes)
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


def make_harness(clients: Any, max_receive_count: int = 3) -> Harness:
    s3, dynamodb, sqs = clients.s3, clients.dynamodb, clients.sqs
    s3.create_bucket(Bucket=BUCKET)
    tables = ((RECORDS, "RecordsTable"), (PROVIDERS, "ProvidersTable"), (UPLOADS, "UploadsTable"))
    for name, logical_id in tables:
        dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", **table_keys(logical_id)
        )
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


@pytest.fixture
def env(clients: Any) -> Harness:
    return make_harness(clients)


def ingest_once(env: Harness, key: str = KEY, **changes: Any) -> dict[str, Any]:
    """Hand one S3 event for `key` to a fresh ingestor, as a single-message batch."""
    event = lambda_event(sqs_record(s3_event_body(key)))
    return env.ingestor(**changes).handle_batch(event, FakeContext())


def assert_counts_add_up(report: dict[str, Any]) -> None:
    assert set(report) == REPORT_FIELDS
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    for error in report["errors"]:
        assert set(error) == ERROR_FIELDS


# --------------------------------------------------------------------------- the happy path


def test_an_s3_event_from_the_queue_writes_every_valid_row_as_an_item(env: Harness) -> None:
    body = csv_bytes(
        [
            ["A-100", "2024-03-01T14:30:00-05:00", "first visit"],
            ["  B.200 ", "2024-03-01T19:30:00.25Z", "0070.50"],
        ],
        header=("medical_record_number", "date_time", "weight"),
    )
    env.upload(body)
    env.send(s3_event_body(KEY))

    answers = env.drain(env.ingestor())

    assert answers == [{"batchItemFailures": []}]
    report = env.report()
    assert report is not None
    assert_counts_add_up(report)
    ingested_at = report["started_at"]
    assert env.items() == [
        {
            "providerId": {"S": PROVIDER},
            "sortKey": {"S": "A-100#2024-03-01T19:30:00.000000Z"},
            "medical_record_number": {"S": "A-100"},
            "date_time": {"S": "2024-03-01T19:30:00.000000Z"},
            "date_time_original": {"S": "2024-03-01T14:30:00-05:00"},
            "weight": {"S": "first visit"},
            "upload_id": {"S": UPLOAD_ID},
            "source_line": {"N": "2"},
            "ingested_at": {"S": ingested_at},
        },
        {
            "providerId": {"S": PROVIDER},
            "sortKey": {"S": "B.200#2024-03-01T19:30:00.250000Z"},
            "medical_record_number": {"S": "B.200"},
            "date_time": {"S": "2024-03-01T19:30:00.250000Z"},
            "date_time_original": {"S": "2024-03-01T19:30:00.25Z"},
            "weight": {"S": "0070.50"},  # a string as sent: never a number, never rounded
            "upload_id": {"S": UPLOAD_ID},
            "source_line": {"N": "3"},
            "ingested_at": {"S": ingested_at},
        },
    ]
    assert {k: report[k] for k in ("upload_id", "provider", "key", "status")} == {
        "upload_id": UPLOAD_ID,
        "provider": PROVIDER,
        "key": KEY,
        "status": "succeeded",
    }
    assert (report["rows"], report["written"], report["rejected"], report["duplicates"]) == (
        2,
        2,
        0,
        0,
    )
    assert report["errors"] == []
    assert report["started_at"] <= report["finished_at"]
    assert env.object(REJECTS_KEY) is None  # nothing refused, no rejects file
    assert env.keys(CHECKPOINTS) == []


def test_the_lambda_entry_point_reads_its_settings_from_the_environment(
    env: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "UPLOADS_BUCKET": BUCKET,
        "RECORDS_TABLE": RECORDS,
        "PROVIDERS_TABLE": PROVIDERS,
        "UPLOADS_TABLE": UPLOADS,
        "QUEUE_URL": env.queue_url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(ingest_module, "_ingestor", None)
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]))

    answer = ingest_module.handler(lambda_event(sqs_record(s3_event_body(KEY))), FakeContext())

    assert answer == {"batchItemFailures": []}
    assert list(env.values()) == ["A1#2024-03-01T10:00:00.000000Z"]
    assert env.report()["status"] == "succeeded"


# --------------------------------------------------------------------------- events and keys


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(S3_TEST_EVENT, id="s3-test-event"),
        pytest.param(s3_event_body(KEY, event_name="ObjectRemoved:Delete"), id="object-removed"),
        pytest.param(json.dumps({"Records": []}), id="no-records"),
    ],
)
def test_messages_that_name_no_new_object_are_acknowledged_and_change_nothing(
    env: Harness, body: str
) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]))

    answer = env.ingestor().handle_batch(lambda_event(sqs_record(body)), FakeContext())

    assert answer == {"batchItemFailures": []}
    assert env.items() == []
    assert env.keys() == [KEY]


def test_a_url_encoded_key_is_decoded_before_it_is_read(env: Harness) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]))
    encoded = urllib.parse.quote(KEY, safe="")  # every '/' sent as %2F
    assert "%2F" in encoded
    event = lambda_event(sqs_record(s3_event_body(KEY, encoded_key=encoded)))

    answer = env.ingestor().handle_batch(event, FakeContext())

    assert answer == {"batchItemFailures": []}
    assert list(env.values()) == ["A1#2024-03-01T10:00:00.000000Z"]
    assert env.report()["key"] == KEY


@pytest.mark.parametrize(
    ("stored_key", "encoded_key"),
    [
        # Our keys never hold a space, '+' or a slash in the id: such keys were not made by
        # the API. Each is stored as an object, so ingesting it would show in the table.
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/01J A.csv", None, id="space-as-plus"),
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/01J+A.csv", None, id="literal-plus"),
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/01J/A.csv", None, id="slash-in-id"),
        pytest.param(
            f"{PROVIDER}/uploads/2024/03/01/01J/A.csv",
            f"{PROVIDER}/uploads/2024/03/01/01J%2FA.csv",
            id="encoded-slash-in-id",
        ),
        pytest.param(
            f"{PROVIDER}/uploads/2024/03/01/01J%2FA.csv",
            f"{PROVIDER}/uploads/2024/03/01/01J%252FA.csv",
            id="literal-percent",
        ),
    ],
)
def test_keys_the_api_cannot_have_made_are_skipped_cleanly(
    env: Harness, stored_key: str, encoded_key: str | None
) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]), key=stored_key)
    event = lambda_event(sqs_record(s3_event_body(stored_key, encoded_key=encoded_key)))

    answer = env.ingestor().handle_batch(event, FakeContext())

    assert answer == {"batchItemFailures": []}  # not retried: it would never succeed
    assert env.items() == []
    assert env.keys() == [stored_key]  # no report, no rejects, no checkpoint


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(f"{PROVIDER}/rejects/x.csv", id="own-rejects"),
        pytest.param(f"{PROVIDER}/reports/x.json", id="own-report"),
        pytest.param(f"{PROVIDER}/checkpoints/x.json", id="own-checkpoint"),
        pytest.param("stray.csv", id="top-level"),
        pytest.param(f"{PROVIDER}/uploads/x.csv", id="no-date"),
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/x.txt", id="not-csv"),
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/deeper/x.csv", id="too-deep"),
        pytest.param(f"{PROVIDER}/uploads/24/3/1/x.csv", id="short-date"),
        pytest.param(f"x/{PROVIDER}/uploads/2024/03/01/x.csv", id="nested-prefix"),
        pytest.param("ACME/uploads/2024/03/01/x.csv", id="not-a-provider-id"),
        pytest.param(f"{PROVIDER}/uploads/2024/13/45/x.csv", id="no-such-date"),
        pytest.param(
            f"{PROVIDER}/uploads/\u0662\u0660\u0662\u0664/03/01/x.csv", id="arabic-digits"
        ),
    ],
)
def test_objects_outside_the_uploads_layout_are_not_ingested(env: Harness, key: str) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]), key=key)

    answer = env.ingestor().handle_batch(
        lambda_event(sqs_record(s3_event_body(key))), FakeContext()
    )

    assert answer == {"batchItemFailures": []}
    assert env.items() == []
    assert env.keys() == [key]


def test_an_object_in_another_bucket_is_not_ingested(env: Harness) -> None:
    env.s3.create_bucket(Bucket="someone-elses-bucket")
    env.s3.put_object(
        Bucket="someone-elses-bucket", Key=KEY, Body=csv_bytes([["A1", "2024-03-01T10:00Z", "x"]])
    )
    event = lambda_event(sqs_record(s3_event_body(KEY, bucket="someone-elses-bucket")))

    assert env.ingestor().handle_batch(event, FakeContext()) == {"batchItemFailures": []}
    assert env.items() == []
    assert env.keys() == []


def test_a_batch_lists_only_the_messages_that_failed(env: Harness) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]))
    missing = f"{PROVIDER}/uploads/2024/03/01/01J9ZQ4D3M7T2V8X6Y5W1K0MISS.csv"  # never stored
    UploadLedger(env.dynamodb, UPLOADS).register(PROVIDER, "01J9ZQ4D3M7T2V8X6Y5W1K0MISS")
    event = lambda_event(
        sqs_record(S3_TEST_EVENT, "m-test"),
        sqs_record(s3_event_body(missing), "m-missing"),
        sqs_record(s3_event_body(KEY), "m-good"),
        sqs_record("this is not json", "m-garbage"),
    )

    answer = env.ingestor().handle_batch(event, FakeContext())

    assert answer == {
        "batchItemFailures": [{"itemIdentifier": "m-missing"}, {"itemIdentifier": "m-garbage"}]
    }
    assert list(env.values()) == ["A1#2024-03-01T10:00:00.000000Z"]
    assert env.report()["status"] == "succeeded"


# --------------------------------------------------------------------------- providers


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(None, "unknown_provider", id="unknown"),
        pytest.param("revoked", "provider_inactive", id="revoked"),
    ],
)
def test_an_unknown_or_revoked_provider_gets_a_failed_report_and_nothing_written(
    env: Harness, status: str | None, code: str
) -> None:
    provider = "clinic-b"
    if status:
        env.add_provider(provider, status=status)
    key = f"{provider}/uploads/2024/03/01/{UPLOAD_ID}.csv"
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]), key=key)

    answer = ingest_once(env, key)

    assert answer == {"batchItemFailures": []}  # reported to the provider, not retried
    assert env.items() == []
    report = env.report(f"{provider}/reports/{UPLOAD_ID}.json")
    assert report is not None
    assert_counts_add_up(report)
    assert (report["status"], report["provider"], report["written"]) == ("failed", provider, 0)
    assert [error["code"] for error in report["errors"]] == [code]
    assert env.keys(f"{provider}/") == [f"{provider}/reports/{UPLOAD_ID}.json", key]


@pytest.mark.parametrize("column", ["providerId", "ProviderID", "sortKey", "ingested_at"])
def test_a_file_naming_a_reserved_column_is_refused_whole(env: Harness, column: str) -> None:
    env.add_provider("victim-clinic")
    env.upload(
        csv_bytes(
            [["A1", "2024-03-01T10:00:00Z", "victim-clinic"]],
            header=("medical_record_number", "date_time", column),
        )
    )

    assert ingest_once(env) == {"batchItemFailures": []}

    assert env.items() == []  # not in our partition, nor in the one the file names
    report = env.report()
    assert_counts_add_up(report)
    assert report["status"] == "failed"
    assert [(error["code"], error["column"]) for error in report["errors"]] == [
        ("reserved_column", column)
    ]
    assert env.keys(CHECKPOINTS) == []


def test_the_partition_is_the_provider_of_the_key_whatever_the_file_holds(env: Harness) -> None:
    env.add_provider("other-clinic")
    body = csv_bytes(
        [["A1", "2024-03-01T10:00:00Z", "other-clinic"]],
        header=("medical_record_number", "date_time", "provider"),
    )
    env.upload(body)

    ingest_once(env)

    assert [(item["providerId"]["S"], item["provider"]["S"]) for item in env.items()] == [
        (PROVIDER, "other-clinic")
    ]


def test_the_provider_time_zone_reads_times_without_an_offset(env: Harness) -> None:
    env.add_provider("ny-clinic", time_zone="America/New_York")
    env.add_provider("utc-less-clinic")
    rows = [
        ["W1", "2024-01-15T09:00:00", "winter: EST"],
        ["S1", "2024-07-15 09:00", "summer: EDT"],
        ["Z1", "2024-07-15T09:00:00Z", "explicit offset wins"],
        ["G1", "2024-03-10T02:30:00", "skipped by the clocks"],
    ]
    for provider in ("ny-clinic", "utc-less-clinic"):
        key = f"{provider}/uploads/2024/03/01/{UPLOAD_ID}.csv"
        env.upload(csv_bytes(rows), key=key)
        ingest_once(env, key)

    by_provider: dict[str, dict[str, str]] = {}
    for item in env.items():
        by_provider.setdefault(item["providerId"]["S"], {})[item["medical_record_number"]["S"]] = (
            item["date_time"]["S"]
        )
    assert by_provider == {
        "ny-clinic": {
            "W1": "2024-01-15T14:00:00.000000Z",
            "S1": "2024-07-15T13:00:00.000000Z",
            "Z1": "2024-07-15T09:00:00.000000Z",
        },
        "utc-less-clinic": {"Z1": "2024-07-15T09:00:00.000000Z"},
    }
    ny = env.report(f"ny-clinic/reports/{UPLOAD_ID}.json")
    assert [(e["line"], e["code"]) for e in ny["errors"]] == [(5, "date_time_nonexistent")]
    utc_less = env.report(f"utc-less-clinic/reports/{UPLOAD_ID}.json")
    assert [(e["line"], e["code"]) for e in utc_less["errors"]] == [
        (2, "date_time_no_offset"),
        (3, "date_time_no_offset"),
        (5, "date_time_no_offset"),
    ]


# --------------------------------------------------------------------------- rows


def test_the_later_of_two_rows_with_one_key_wins_and_the_earlier_counts_as_a_duplicate(
    env: Harness,
) -> None:
    env.upload(
        csv_bytes(
            [
                ["P1", "2024-03-01T10:00:00Z", "first"],
                ["P2", "2024-03-01T10:00:00Z", "other patient"],
                ["P1", "2024-03-01T05:00:00-05:00", "second"],
                ["P1", "2024-03-01T10:00:00.000+00:00", "bad#", "extra field"],
                ["P1", "2024-03-01T11:00:00+01:00", "third"],
                ["P1", "2024-03-01T10:00:01Z", "a second later: another key"],
            ]
        )
    )

    ingest_once(env)

    values = env.values()
    assert sorted(values) == [
        "P1#2024-03-01T10:00:00.000000Z",
        "P1#2024-03-01T10:00:01.000000Z",
        "P2#2024-03-01T10:00:00.000000Z",
    ]
    kept = values["P1#2024-03-01T10:00:00.000000Z"]
    assert (kept["note"], kept["source_line"], kept["date_time_original"]) == (
        "third",
        "6",
        "2024-03-01T11:00:00+01:00",
    )
    report = env.report()
    assert_counts_add_up(report)
    assert (report["rows"], report["written"], report["rejected"], report["duplicates"]) == (
        6,
        3,
        1,
        2,
    )
    assert report["status"] == "partial"


@pytest.mark.parametrize("deliveries", [2, 3])
def test_processing_an_upload_again_changes_neither_table_nor_report(
    env: Harness, monkeypatch: pytest.MonkeyPatch, deliveries: int
) -> None:
    monkeypatch.setattr(ingest_module, "_now", ticking_clock())  # a rerun would show
    env.upload(
        csv_bytes(
            [
                ["A1", "2024-03-01T10:00:00Z", "x"],
                ["A1", "2024-03-01T11:00:00+01:00", "dup"],
                ["B#2", "2024-03-01T10:00:00Z", "bad"],
                ["C3", "2024-03-01T10:00:00Z", "ok"],
            ]
        )
    )
    event = lambda_event(sqs_record(s3_event_body(KEY), "m-same"))
    ingestor = env.ingestor()
    assert ingestor.handle_batch(event, FakeContext()) == {"batchItemFailures": []}
    first = env.snapshot()
    assert first.report is not None and first.rejects is not None

    for delivery in range(2, deliveries + 1):
        again = lambda_event(sqs_record(s3_event_body(KEY), "m-same", receives=delivery))
        assert env.ingestor().handle_batch(again, FakeContext()) == {"batchItemFailures": []}
        assert env.snapshot() == first  # every item, ingested_at included; report bytes

    assert env.keys() == sorted([KEY, REPORT_KEY, REJECTS_KEY])


@pytest.mark.parametrize(
    ("declared", "accepted"),
    [
        pytest.param("matching-upper-case", True, id="upper-case-hex"),
        pytest.param("0" * 64, False, id="other-digest"),
        pytest.param("body-of-another-file", False, id="another-file"),
    ],
)
def test_a_body_that_does_not_match_its_declared_sha256_is_never_ingested(
    env: Harness, declared: str, accepted: bool
) -> None:
    body = csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"], ["B#", "2024-03-01T10:00:00Z", "y"]])
    if declared == "matching-upper-case":
        declared = hashlib.sha256(body).hexdigest().upper()
    elif declared == "body-of-another-file":
        declared = hashlib.sha256(body.replace(b"A1", b"A2")).hexdigest()
    env.upload(body, sha256=declared)

    assert ingest_once(env) == {"batchItemFailures": []}

    report = env.report()
    assert_counts_add_up(report)
    if accepted:
        assert (report["status"], report["written"]) == ("partial", 1)
        return
    assert env.items() == []
    assert report["status"] == "failed"
    assert (report["rows"], report["written"], report["rejected"]) == (0, 0, 0)
    assert [error["code"] for error in report["errors"]] == ["checksum_mismatch"]
    assert env.keys() == sorted([KEY, REPORT_KEY])  # no rejects, no checkpoint


def test_an_object_no_upload_url_was_issued_for_is_reported_and_never_ingested(
    env: Harness,
) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]), register=False)

    assert ingest_once(env) == {"batchItemFailures": []}
    assert ingest_once(env) == {"batchItemFailures": []}  # again: the same single report

    assert env.items() == []
    report = env.report()
    assert_counts_add_up(report)
    assert report["status"] == "failed"
    assert [error["code"] for error in report["errors"]] == ["unknown_upload"]
    assert env.keys() == sorted([KEY, REPORT_KEY])


def test_the_uploads_table_ends_with_the_report_status_and_counts_and_no_lease(
    env: Harness,
) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"], ["B#", "2024-03-01", "y"]]))
    assert env.ledger()["status"] == "pending"

    ingest_once(env)

    upload = env.ledger()
    report = env.report()
    assert upload["status"] == report["status"] == "partial"
    assert upload["finished_at"] == report["finished_at"]
    assert [upload[name] for name in ("rows", "written", "rejected", "duplicates")] == [2, 1, 1, 0]
    assert "lease_owner" not in upload and "lease_until" not in upload


# --------------------------------------------------------------------------- report, rejects


def test_rejected_rows_are_reported_and_kept_as_sent(env: Harness) -> None:
    body = (
        b"medical_record_number,date_time,note\r\n"
        b"A1,2024-03-01T10:00:00Z,fine\r\n"
        b'B#1,2024-02-30T10:00:00Z,"two problems, one row"\r\n'
        b'C3,2024-03-01T10:00:00Z,"multi\r\nline note"\r\n'
        b"D4,2024-03-01T10:00:00Z,Andr\xe9 (latin-1)\r\n"
        b"E5,2024-03-01T10:00:00Z\r\n"
        b"F6,2024-03-01T10:00:00,no offset\r\n"
        b"G7,2024-03-01T10:00:00Z,fine again\r\n"
    )
    env.upload(body)

    ingest_once(env)

    assert sorted(env.values()) == [
        "A1#2024-03-01T10:00:00.000000Z",
        "C3#2024-03-01T10:00:00.000000Z",
        "G7#2024-03-01T10:00:00.000000Z",
    ]
    assert env.values()["G7#2024-03-01T10:00:00.000000Z"]["source_line"] == "9"
    report = env.report()
    assert_counts_add_up(report)
    assert (report["status"], report["rows"], report["written"], report["rejected"]) == (
        "partial",
        7,
        3,
        4,
    )
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "medical_record_number", "mrn_invalid_characters"),
        (3, "date_time", "date_time_impossible"),
        (6, "note", "invalid_utf8"),
        (7, None, "wrong_field_count"),
        (8, "date_time", "date_time_no_offset"),
    ]
    assert all(error["message"] for error in report["errors"])

    rows = env.rejects()
    assert rows[0] == [*REJECTS_HEADER, *HEADER]
    assert [row[:3] for row in rows[1:]] == [
        ["3", "medical_record_number; date_time", "mrn_invalid_characters; date_time_impossible"],
        ["6", "note", "invalid_utf8"],
        ["7", "", "wrong_field_count"],
        ["8", "date_time", "date_time_no_offset"],
    ]
    assert [row[4:] for row in rows[1:]] == [
        ["B#1", "2024-02-30T10:00:00Z", "two problems, one row"],
        ["D4", "2024-03-01T10:00:00Z", "Andr\udce9 (latin-1)"],
        ["E5", "2024-03-01T10:00:00Z"],
        ["F6", "2024-03-01T10:00:00", "no offset"],
    ]
    assert rows[2][6].encode("utf-8", "surrogateescape") == b"Andr\xe9 (latin-1)"
    assert b"Andr\xe9 (latin-1)" in env.object(REJECTS_KEY)  # the original byte, not U+FFFD


def test_a_latin1_file_has_its_non_ascii_rows_rejected_and_the_others_written(
    env: Harness,
) -> None:
    text = "medical_record_number,date_time,note\nA1,2024-03-01T10:00:00Z,plain\n"
    text += "B2,2024-03-01T10:00:00Z,Müller\nC3,2024-03-01T10:00:00Z,Zoë\nD4,2024-03-01T10:00Z,ok\n"
    body = text.encode("latin-1")
    env.upload(body)

    assert ingest_once(env) == {"batchItemFailures": []}

    assert sorted(item["medical_record_number"] for item in env.values().values()) == ["A1", "D4"]
    report = env.report()
    assert_counts_add_up(report)
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "note", "invalid_utf8"),
        (4, "note", "invalid_utf8"),
    ]
    kept = env.object(REJECTS_KEY)
    assert "Müller".encode("latin-1") in kept and "Zoë".encode("latin-1") in kept


def test_the_report_holds_the_first_thousand_errors_and_the_rejects_every_row(
    env: Harness,
) -> None:
    rows = [[f"BAD#{n}", "2024-03-01T10:00:00Z", "x"] for n in range(1005)]
    rows.append(["OK1", "2024-03-01T10:00:00Z", "x"])
    env.upload(csv_bytes(rows))

    ingest_once(env)

    report = env.report()
    assert_counts_add_up(report)
    assert (report["rows"], report["written"], report["rejected"]) == (1006, 1, 1005)
    assert len(report["errors"]) == 1000
    assert [error["line"] for error in report["errors"]] == list(range(2, 1002))
    rejects = env.rejects()
    assert len(rejects) == 1 + 1005
    assert rejects[-1][0] == "1006"


@pytest.mark.parametrize(
    ("body", "status", "codes"),
    [
        pytest.param(b"", "failed", ["empty_file"], id="empty"),
        pytest.param(b"\n\n", "failed", ["empty_file"], id="blank-lines"),
        pytest.param(b"medical_record_number,date_time,note\n", "succeeded", [], id="header-only"),
        pytest.param(b"\xef\xbb\xbfmedical_record_number,date_time\r\n", "succeeded", [], id="bom"),
        pytest.param(b"medical_record_number,note\n", "failed", ["missing_column"], id="no-date"),
    ],
)
def test_a_file_without_rows_gets_a_report_and_writes_nothing(
    env: Harness, body: bytes, status: str, codes: list[str]
) -> None:
    env.upload(body)

    assert ingest_once(env) == {"batchItemFailures": []}

    assert env.items() == []
    report = env.report()
    assert_counts_add_up(report)
    assert (report["status"], report["rows"], report["written"]) == (status, 0, 0)
    assert [error["code"] for error in report["errors"]] == codes
    assert env.keys() == sorted([KEY, REPORT_KEY])
