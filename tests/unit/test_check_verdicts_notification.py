"""`ingest check`'s reading of the bucket's notification once files also come in parts: a
multipart upload's completion fires s3:ObjectCreated:CompleteMultipartUpload, not
s3:ObjectCreated:Put, so only s3:ObjectCreated:* or both names (in one entry or two)
announce every file; Put alone leaves files sent in parts unannounced."""

from __future__ import annotations

from typing import Any

import pytest

from ingestcli.services.check_verdicts import (
    PARTS_UNANNOUNCED,
    Observations,
    no_report,
    notification_problem,
)

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ingest-UploadsQueue-X"
KEY = "ingest-canary-abc/uploads/2026/11/30/20261130T120000000Z-abcdefghij.csv"
PUT = "s3:ObjectCreated:Put"
PARTS = "s3:ObjectCreated:CompleteMultipartUpload"


def rule(name: str, value: str) -> dict[str, Any]:
    return {"Key": {"FilterRules": [{"Name": name, "Value": value}]}}


CSV_ONLY = rule("suffix", ".csv")
WRONG = "does not send ObjectCreated events for *.csv keys to it"


def entry(*events: str, arn: str = QUEUE_ARN, filter_: dict | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"QueueArn": arn, "Events": list(events)}
    return found | ({"Filter": filter_} if filter_ else {})


def problem(*entries: dict[str, Any]) -> str:
    return notification_problem({"QueueConfigurations": list(entries)}, QUEUE_ARN, KEY)


@pytest.mark.parametrize(
    "entries",
    [
        [entry("s3:ObjectCreated:*", filter_=CSV_ONLY)],
        [entry(PUT, PARTS)],
        [entry(PUT, filter_=CSV_ONLY), entry(PARTS, filter_=CSV_ONLY)],
        [entry(PARTS), entry(PUT, "s3:ObjectRemoved:*")],
    ],
    ids=["all-created", "both-in-one", "both-in-two", "both-among-others"],
)
def test_every_file_is_announced_with_the_wildcard_or_both_names(entries: list) -> None:
    assert problem(*entries) == ""


def test_put_alone_leaves_files_sent_in_parts_unannounced() -> None:
    assert problem(entry(PUT, filter_=CSV_ONLY)) == PARTS_UNANNOUNCED
    assert PARTS_UNANNOUNCED == (
        "announces files sent in one PUT (s3:ObjectCreated:Put) but not files sent in parts "
        "(s3:ObjectCreated:CompleteMultipartUpload) for *.csv keys"
    )


@pytest.mark.parametrize(
    "entries",
    [
        [entry(PUT), entry(PARTS, arn="arn:aws:sqs:us-east-1:123456789012:other")],
        [entry(PUT), entry(PARTS, filter_=rule("prefix", "x/"))],
    ],
    ids=["parts-to-another-queue", "parts-for-other-keys"],
)
def test_the_parts_event_counts_only_for_this_queue_and_this_key(entries: list) -> None:
    assert problem(*entries) == PARTS_UNANNOUNCED


def test_completions_alone_or_no_created_event_are_wrong_for_a_put() -> None:
    assert problem(entry(PARTS)) == WRONG
    assert problem(entry("s3:ObjectCreated:Copy", "s3:ObjectCreated:Post")) == WRONG
    assert problem(entry(PUT, filter_=rule("suffix", ".json"))) == WRONG


def seen(notification: str, **changes: Any) -> Observations:
    values: dict[str, Any] = dict(waited=3.0, last_status="pending", object_exists=True)
    values |= dict(notification=notification, queue_visible=0, queue_in_flight=0)
    values |= dict(dead_letters_before=0, dead_letters_after=0)
    return Observations(**(values | changes))


def test_a_put_only_notification_is_not_blamed_for_a_missing_put_report_but_named() -> None:
    """The canary sends one PUT, which a Put-only notification announces: the report went
    missing for another reason, told as before, and the notification is named besides."""
    places = {"bucket": "the-bucket", "key": KEY}
    verdict = no_report(seen(PARTS_UNANNOUNCED, dead_letters_after=2), places)
    assert verdict.detail == (
        "ingest failed: the dead-letter queue grew from 0 to 2 while waiting 3 s; besides, "
        f"bucket the-bucket's notification configuration {PARTS_UNANNOUNCED}: it must send "
        "s3:ObjectCreated:*"
    )
    assert verdict.look_at == no_report(seen("", dead_letters_after=2), places).look_at
    missing = no_report(seen(WRONG), places)
    assert missing.detail.startswith("no S3 notification to the queue") and "besides" not in (
        missing.detail
    )


def test_a_put_only_notification_is_the_cause_when_the_file_went_in_parts() -> None:
    """The check's `parts` link sends its file in parts: a notification that announces one
    PUT only is why that report never came (on AWS: moto also sends Put for a completion)."""
    places = {"bucket": "the-bucket", "key": KEY, "queue_arn": "arn:aws:sqs:eu:1:q"}
    verdict = no_report(seen(PARTS_UNANNOUNCED), places, in_parts=True)
    assert verdict.detail == (
        "no S3 notification to the queue: the file arrived, but no report came within 3 s, "
        f"and bucket the-bucket's notification configuration {PARTS_UNANNOUNCED}"
    )
    assert "s3:ObjectCreated:*" in verdict.look_at
    one_put = no_report(seen(PARTS_UNANNOUNCED), places)
    assert not one_put.detail.startswith("no S3 notification")
