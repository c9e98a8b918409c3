"""Checkpoint and rejects files hold rows as sent (patient data): every one is written with
the tag the template's lifecycle rules match, so a deleted or replaced one is gone for good a
day later instead of staying 365 days as a noncurrent version."""

from __future__ import annotations

from typing import Any

from ingestcli.core.layout import CHECKPOINT_TAG, REJECTS_TAG
from support.harness import make_harness
from support.ingest_events import FakeContext, csv_bytes, s3_event_body
from support.names import BUCKET, CHECKPOINTS, KEY, REJECTS_KEY
from support.template import template


def tag_of(s3: Any, key: str, version_id: str) -> str:
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=key, VersionId=version_id)["TagSet"]
    return ",".join(f"{tag['Key']}={tag['Value']}" for tag in tags)


def test_every_checkpoint_and_rejects_version_carries_its_lifecycle_tag(clients) -> None:
    env = make_harness(clients)
    rows = [[f"P-{n:04d}", "2024-03-01T10:00:00Z", "x"] for n in range(900)]
    rows += [["bad mrn!", "2024-03-01T10:00:00Z", "rejected"] for _ in range(5)]
    env.upload(csv_bytes(rows))
    env.send(s3_event_body(KEY))
    ingestor = env.ingestor(time_check_every_rows=300)
    env.drain(ingestor, lambda: FakeContext(answers_before_low=1))  # three runs, checkpoints
    report = env.report()
    assert report is not None and (report["written"], report["rejected"]) == (900, 5)

    versions = env.s3.list_object_versions(Bucket=BUCKET, Prefix=f"{KEY.split('/')[0]}/")
    written = [(v["Key"], v["VersionId"]) for v in versions.get("Versions", [])]
    saved = [(key, version) for key, version in written if key.startswith(CHECKPOINTS)]
    assert saved, "no checkpoint was ever written: the runs did not continue"
    assert {tag_of(env.s3, key, version) for key, version in saved} == {CHECKPOINT_TAG}
    rejects = [(key, version) for key, version in written if key == REJECTS_KEY]
    assert [tag_of(env.s3, key, version) for key, version in rejects] == [REJECTS_TAG]


def test_the_lifecycle_rules_match_the_tags_the_ingest_writes() -> None:
    rules = template()["Resources"]["UploadsBucket"]["Properties"]["LifecycleConfiguration"]
    expiring = {
        "=".join((tag["Key"], tag["Value"])): rule["NoncurrentVersionExpiration"]
        for rule in rules["Rules"]
        if "NoncurrentVersionExpiration" in rule
        for tag in rule.get("TagFilters", [])
    }
    for tag in (CHECKPOINT_TAG, REJECTS_TAG):
        assert expiring[tag] == {"NoncurrentDays": 1}, tag
