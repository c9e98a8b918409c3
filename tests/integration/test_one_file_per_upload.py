"""One upload id is one file: a URL signs If-None-Match, and a second object version that
reaches the key anyway (an old URL, a tool that drops the header) is never ingested and never
skipped silently: the uploads table counts it and the report names it.

S3 events built here name the version their PUT made, as AWS's do; `versioned_event` names
a chosen one.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ingestcli.core.ledger import UploadLedger, upload_summary
from ingestcli.core.status import SECOND_FILE_IGNORED
from ingestcli.services.presign import HEADERS, presign_upload
from support.harness import Harness, ingest_once, make_harness
from support.ingest_events import FakeContext, csv_bytes, lambda_event, s3_event_body, sqs_record
from support.names import BUCKET, KEY, PROVIDER, REGION, UPLOADS

FIRST = csv_bytes([["P-1", "2024-03-01T10:00:00Z", "first"], ["P-2", "2024-03-01T11:00:00Z", ""]])
SECOND = csv_bytes([["P-9", "2024-03-02T10:00:00Z", "second file"]])


@pytest.fixture
def env(clients) -> Harness:
    return make_harness(clients)


def put_again(env: Harness, body: bytes = SECOND) -> str | None:
    """A second PUT at the key WITHOUT If-None-Match, as a tool that drops the header."""
    answer = env.s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    return answer.get("VersionId")


def versioned_event(version_id: str) -> dict[str, Any]:
    """An S3 event as AWS sends it for a versioned bucket: with the object's versionId."""
    body = json.loads(s3_event_body(KEY))
    body["Records"][0]["s3"]["object"]["versionId"] = version_id
    return lambda_event(sqs_record(json.dumps(body)))


def second_file_errors(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [error for error in report["errors"] if error["code"] == SECOND_FILE_IGNORED]


def test_presign_signs_if_none_match_and_moto_refuses_a_second_put_with_it(env) -> None:
    signing = boto3.client(
        "s3", region_name=REGION, config=Config(signature_version="s3v4")
    )  # as session.client makes it
    answer = presign_upload(
        signing, env.dynamodb, bucket=BUCKET, uploads_table=UPLOADS, provider=PROVIDER
    )
    signed = parse_qs(urlsplit(answer["url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert set(signed) == {"host", *HEADERS} and HEADERS["if-none-match"] == "*"
    assert answer["headers"] == HEADERS
    env.s3.put_object(Bucket=BUCKET, Key=answer["key"], Body=FIRST, IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        env.s3.put_object(Bucket=BUCKET, Key=answer["key"], Body=SECOND, IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_a_second_file_after_the_first_was_ingested_is_counted_and_reported_not_ingested(
    env,
) -> None:
    env.upload(FIRST)
    assert ingest_once(env) == {"batchItemFailures": []}
    items, first_report = env.items(), env.report()
    assert first_report is not None and first_report["status"] == "succeeded"
    put_again(env)
    for _ in range(2):  # a redelivered event counts once
        assert ingest_once(env) == {"batchItemFailures": []}
    assert env.items() == items  # nothing of the second file was written
    report = env.report()
    assert report is not None
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    assert {name: report[name] for name in ("status", "rows", "written")} == {
        "status": "succeeded",
        "rows": 2,
        "written": 2,
    }
    (flag,) = second_file_errors(report)
    assert flag["line"] is None and "new URL" in flag["message"]
    upload = env.ledger()
    assert upload is not None and upload["status"] == "succeeded"
    assert upload["extra_versions"] == 1
    summary = upload_summary(UploadLedger(env.dynamodb, UPLOADS).recent(PROVIDER, 1)[0])
    assert summary["status"] == "succeeded" and summary["extra_versions"] == 1


def test_a_second_file_arriving_mid_way_is_flagged_and_the_first_is_finished(env) -> None:
    # Versioned, as the template makes the bucket: the runs that continue read the first
    # version, pinned, while the current one is the second file.
    env.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    rows = [[f"P-{n}", "2024-03-01T10:00:00Z", "x"] for n in range(3000)]
    env.upload(csv_bytes(rows))
    env.send(s3_event_body(KEY))
    ingestor = env.ingestor(time_check_every_rows=500)
    assert env.deliver_next(ingestor, FakeContext(answers_before_low=1))  # continues
    assert env.ledger()["status"] == "processing"
    put_again(env)  # the current object is now the second file
    env.send(s3_event_body(KEY))
    env.drain(ingestor)
    report = env.report()
    assert report is not None and report["status"] == "succeeded"
    assert report["rows"] == report["written"] == 3000  # the first file, whole
    assert len(second_file_errors(report)) == 1
    assert env.count() == 3000 and env.ledger()["extra_versions"] == 1


def test_with_versioned_events_the_first_version_read_is_the_upload(env) -> None:
    env.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    env.upload(FIRST)
    first = env.s3.head_object(Bucket=BUCKET, Key=KEY)["VersionId"]
    second = put_again(env)
    assert second and second != first
    ingestor = env.ingestor()
    assert ingestor.handle_batch(versioned_event(first), FakeContext())["batchItemFailures"] == []
    assert ingestor.handle_batch(versioned_event(second), FakeContext())["batchItemFailures"] == []
    assert ingestor.handle_batch(versioned_event(first), FakeContext())["batchItemFailures"] == []
    report = env.report()
    assert report is not None and (report["rows"], report["written"]) == (2, 2)
    assert len(second_file_errors(report)) == 1
    upload = env.ledger()
    assert upload is not None and upload["object_version"] == first
    assert upload["extra_versions"] == 1
    assert {item["medical_record_number"]["S"] for item in env.items()} == {"P-1", "P-2"}


def test_a_first_file_that_is_refused_still_gets_the_second_file_flag(env) -> None:
    env.upload(FIRST, sha256="0" * 64)  # the first file does not match its declared digest
    ingest_once(env)
    put_again(env)
    ingest_once(env)
    report = env.report()
    assert report is not None and report["status"] == "failed"
    assert [error["code"] for error in report["errors"]] == [
        SECOND_FILE_IGNORED,
        "checksum_mismatch",
    ]
    assert env.count() == 0
