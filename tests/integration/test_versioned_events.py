"""moto's S3 events, measured: they carry no `versionId`, which AWS's always carry for a
versioned bucket; `ingestcli.local.moto_server.apply_fixes` adds the version of the object
the event is about (the local stack's moto server runs it, and so does every in-process
account here). When moto fixes this itself, test_moto_alone_names_no_version fails, and the
fix can go."""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.names import BUCKET, KEY


def notify_queue(clients: Any, *, versioned: bool) -> str:
    """The bucket (versioned or not) sending its ObjectCreated events to a new queue."""
    clients.s3.create_bucket(Bucket=BUCKET)
    if versioned:
        versioning = {"Status": "Enabled"}
        clients.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration=versioning)
    queue_url = clients.sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    clients.s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    return queue_url


def delivered_objects(clients: Any, queue_url: str) -> list[dict[str, Any]]:
    """The `s3.object` of each ObjectCreated record the queue holds (test events skipped)."""
    messages = clients.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    objects = []
    for message in messages.get("Messages", []):
        for record in json.loads(message["Body"]).get("Records", []):
            objects.append(record["s3"]["object"])
    return objects


def test_each_put_to_a_versioned_bucket_is_notified_with_its_own_version(clients) -> None:
    queue_url = notify_queue(clients, versioned=True)
    made = [
        clients.s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)["VersionId"]
        for body in (b"1", b"2")
    ]
    assert made[0] != made[1]
    assert [found.get("versionId") for found in delivered_objects(clients, queue_url)] == made


def test_an_unversioned_buckets_events_name_no_version(clients) -> None:
    queue_url = notify_queue(clients, versioned=False)
    clients.s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"1")
    (found,) = delivered_objects(clients, queue_url)
    assert "versionId" not in found


def test_moto_alone_names_no_version(clients, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.s3 import notifications

    monkeypatch.setattr(notifications, "_get_s3_event", notifications._get_s3_event.__wrapped__)
    queue_url = notify_queue(clients, versioned=True)
    clients.s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"1")
    (found,) = delivered_objects(clients, queue_url)
    assert "versionId" not in found  # moto's defect: when this fails, remove the fix
