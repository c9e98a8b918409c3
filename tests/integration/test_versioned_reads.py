"""The versioned read path, as every deployed bucket runs it: the bucket is versioned (the
template says so), S3's event names the version its PUT made, and the ingest handler reads
that version and no other, from its first run to its last (GetObject with VersionId, with
Range on each continuation), whatever lands at the key meanwhile.

A second object version is written with put_object and no If-None-Match (moto honours the
header: a presigned PUT would get 412), as a tool that drops the header would.
"""

from __future__ import annotations

import json

import pytest

from ingestcli.core.status import SECOND_FILE_IGNORED
from support.harness import Harness, make_harness
from support.ingest_events import FakeContext, s3_event_body
from support.names import BUCKET, KEY
from support.versioned_reads import FIRST, ROWS, SECOND, ObjectReads

RUN_ROWS = 500  # each run stops at its first time check, after this many rows


def short_runs() -> FakeContext:
    """A run that has time for its lease and its first RUN_ROWS rows, then continues."""
    return FakeContext(answers_before_low=1)


def event_version(body: str) -> str | None:
    return json.loads(body)["Records"][0]["s3"]["object"].get("versionId")


def mrns(env: Harness) -> set[str]:
    return {item["medical_record_number"]["S"] for item in env.items()}


def put_second(env: Harness) -> str:
    """A second version at the upload's key, current from now on."""
    return env.s3.put_object(Bucket=BUCKET, Key=KEY, Body=SECOND)["VersionId"]


@pytest.fixture
def env(clients) -> Harness:
    return make_harness(clients)


def test_the_harness_bucket_is_versioned_and_its_events_name_the_version_put(env) -> None:
    assert env.s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    env.upload(FIRST)
    first = env.s3.head_object(Bucket=BUCKET, Key=KEY)["VersionId"]
    assert event_version(s3_event_body(KEY)) == first
    second = put_second(env)
    assert second != first and event_version(s3_event_body(KEY)) == second
    assert event_version(s3_event_body(KEY, version_id=None)) is None


def test_every_read_is_pinned_to_the_events_version_across_continuations(env) -> None:
    env.upload(FIRST)
    first = env.s3.head_object(Bucket=BUCKET, Key=KEY)["VersionId"]
    reads = ObjectReads(env.s3, KEY)
    ingestor = env.ingestor(time_check_every_rows=RUN_ROWS)
    env.send(s3_event_body(KEY))
    assert env.deliver_next(ingestor, short_runs()) == {"batchItemFailures": []}
    assert env.ledger()["status"] == "processing"  # it continues in another run
    second = put_second(env)  # the current object is now the second file
    env.send(s3_event_body(KEY))  # its own event, as S3 sends one for each PUT
    env.drain(ingestor, short_runs)
    assert mrns(env) == {f"P-{n:05d}" for n in range(ROWS)}  # the first file, whole, alone
    report = env.report()
    assert report is not None and report["status"] == "succeeded"
    assert (report["rows"], report["written"]) == (ROWS, ROWS)
    assert [error["code"] for error in report["errors"]] == [SECOND_FILE_IGNORED]
    upload = env.ledger()
    assert upload["object_version"] == first and upload["extra_versions"] == 1
    assert second not in reads.versions()
    assert reads.versions() == {first} and not any("IfMatch" in r for r in reads.requests)
    # One Range read per continuation (ROWS / RUN_ROWS runs), each of the first version.
    assert len(reads.ranged()) == ROWS // RUN_ROWS - 1
    assert all(request["VersionId"] == first for request in reads.ranged())


def test_a_version_that_lands_before_the_first_run_leaves_the_events_version_read(env) -> None:
    # What a lookup of the current version when the event is received would get wrong: the
    # event names the first PUT's version; the second PUT lands before any run reads.
    env.upload(FIRST)
    event = s3_event_body(KEY)
    put_second(env)
    reads = ObjectReads(env.s3, KEY)
    env.send(event)
    env.drain(env.ingestor())
    assert mrns(env) == {f"P-{n:05d}" for n in range(ROWS)}
    assert reads.versions() == {event_version(event)}
    report = env.report()
    assert report is not None and report["written"] == ROWS


def test_an_unversioned_bucket_and_event_still_ingest_pinned_by_etag(clients) -> None:
    # The path of an unversioned bucket (not the template's): no versionId in the event, none
    # from HeadObject; the upload is pinned by its ETag, and no read names a version.
    env = make_harness(clients, versioned=False)
    env.upload(FIRST)
    reads = ObjectReads(env.s3, KEY)
    event = s3_event_body(KEY)
    assert event_version(event) is None and "VersionId" not in env.s3.head_object(
        Bucket=BUCKET, Key=KEY
    )
    env.send(event)
    env.drain(env.ingestor(time_check_every_rows=RUN_ROWS), short_runs)
    assert mrns(env) == {f"P-{n:05d}" for n in range(ROWS)}
    report = env.report()
    assert report is not None and (report["status"], report["written"]) == ("succeeded", ROWS)
    upload = env.ledger()
    assert not upload.get("object_version") and upload["object_etag"]
    assert reads.versions() == {None}
    assert len(reads.ranged()) == ROWS // RUN_ROWS - 1


def test_without_versions_a_file_replaced_mid_ingest_is_refused_never_mixed_in(clients) -> None:
    # The bug this pins down: a later run of an unversioned bucket used to read on from its
    # saved byte in whatever file was now at the key, and report the mix as succeeded.
    env = make_harness(clients, versioned=False)
    env.upload(FIRST)
    ingestor = env.ingestor(time_check_every_rows=RUN_ROWS)
    env.send(s3_event_body(KEY))
    assert env.deliver_next(ingestor, short_runs()) == {"batchItemFailures": []}
    assert env.ledger()["status"] == "processing"
    env.s3.put_object(Bucket=BUCKET, Key=KEY, Body=SECOND)  # replaces it: no versions here
    reads = ObjectReads(env.s3, KEY)
    env.drain(ingestor, short_runs)
    assert all(request.get("IfMatch") == env.ledger()["object_etag"] for request in reads.requests)
    assert mrns(env) == {f"P-{n:05d}" for n in range(RUN_ROWS)}  # the first file's, only
    report = env.report()
    assert report is not None and report["status"] == "failed"
    # the second file is seen (by its ETag) and ignored; the first cannot be read to its end
    codes = [error["code"] for error in report["errors"]]
    assert codes == [SECOND_FILE_IGNORED, "file_changed"]
    assert report["rows"] == report["written"] == RUN_ROWS
