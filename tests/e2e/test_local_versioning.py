"""Versioning on the local stack, as on AWS: the bucket is versioned (moto ignores the
template's VersioningConfiguration; the stack sets it through the API), each upload's S3
event reaches the queue naming the version its PUT made (moto's carry none; moto_server's fix
adds it), and the queue worker's ingest handler reads that version and no other, through
every continuation, while a second version sits at the key.

The stack (moto in a process of its own, the API on loopback) is shared by the module; each
test starts its own queue worker and uses a provider of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestcli.core.ledger import UploadLedger
from ingestcli.core.status import SECOND_FILE_IGNORED
from ingestcli.local.stack import WorkerOptions, start_local_stack
from support.ingest_events import csv_bytes
from support.local_stack import Stack
from support.versioned_reads import FIRST, ROWS, SECOND, ObjectReads

pytestmark = pytest.mark.xdist_group("local_versioning")

# Runs short of time: a 4 s function timeout is below the 60 s margin the handler keeps, so
# each run stops at its first time check (every 500 rows) and continues in another.
SHORT_TIMEOUT = 4
RUN_ROWS = 500


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    local = start_local_stack(0, 0, worker=None)
    try:
        yield Stack(local)
    finally:
        local.stop()


def queued_events(stack: Stack, key: str) -> list[dict[str, Any]]:
    """The `s3.object` of each queued S3 record for `key`, left in the queue (peeked)."""
    found = []
    for _ in range(3):  # a receive may return only part of a small queue
        answer = stack.sqs.receive_message(
            QueueUrl=stack.outputs["QueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        for message in answer.get("Messages", []):
            for record in json.loads(message["Body"]).get("Records", []):
                if record["s3"]["object"]["key"].replace("%2F", "/") == key:
                    found.append(record["s3"]["object"])
        if found:
            return found
    return found


def test_the_bucket_is_versioned_and_an_uploads_event_names_its_version(
    stack: Stack, tmp_path: Path
) -> None:
    assert stack.s3.get_bucket_versioning(Bucket=stack.bucket)["Status"] == "Enabled"
    upload_id = stack.send(
        "versioned-one", csv_bytes([["P-1", "2024-03-01T10:00:00Z", "x"]]), tmp_path
    )
    key = stack.ledger("versioned-one", upload_id)["key"]
    version = stack.s3.head_object(Bucket=stack.bucket, Key=key)["VersionId"]
    assert [found.get("versionId") for found in queued_events(stack, key)] == [version]
    worker = stack.local.start_worker(WorkerOptions())
    try:
        report = stack.report("versioned-one", upload_id)
        entry = stack.settled("versioned-one", upload_id)
    finally:
        worker.stop()
    assert (report["status"], report["written"]) == ("succeeded", 1)
    assert entry["object_version"] == version


def test_a_second_version_at_the_key_is_never_read_through_continuations(
    stack: Stack, tmp_path: Path
) -> None:
    provider = "versioned-pin"
    upload_id = stack.send(provider, FIRST, tmp_path)  # no worker yet: the event waits
    key = stack.ledger(provider, upload_id)["key"]
    first = stack.s3.head_object(Bucket=stack.bucket, Key=key)["VersionId"]
    # A tool that drops If-None-Match: a second version, current from now on, and its event.
    second = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=SECOND)["VersionId"]
    reads: list[ObjectReads] = []

    def record_reads(service: str, client: Any) -> Any:
        if service == "s3":
            reads.append(ObjectReads(client, key))
        return client

    options = WorkerOptions(
        environment={"LEASE_GRACE_MS": "1000"},
        timeout_seconds=SHORT_TIMEOUT,
        wrap_client=record_reads,
    )
    worker = stack.local.start_worker(options)
    try:
        report = stack.report(provider, upload_id)
        entry = stack.settled(provider, upload_id)
    finally:
        worker.stop()
    items = stack.items(provider)
    assert {item["medical_record_number"] for item in items} == {f"P-{n:05d}" for n in range(ROWS)}
    assert (report["status"], report["rows"], report["written"]) == ("succeeded", ROWS, ROWS)
    assert [error["code"] for error in report["errors"]] == [SECOND_FILE_IGNORED]
    assert entry["object_version"] == first
    upload = UploadLedger(stack.dynamodb, stack.outputs["UploadsTable"]).get(provider, upload_id)
    assert upload is not None and upload["extra_versions"] == 1
    (recorded,) = reads
    assert recorded.versions() == {first} and second != first
    assert len(recorded.ranged()) == ROWS // RUN_ROWS - 1  # one per continuation
    assert all(request["VersionId"] == first for request in recorded.ranged())
    assert stack.depth("QueueUrl") == 0 and stack.depth("DeadLetterQueueUrl") == 0
