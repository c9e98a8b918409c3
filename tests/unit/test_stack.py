"""Stack names, the bundled template, following events, status and destroy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from conftest import REGION, STACK
from ingestcli.deploy.artifact import bundled_template
from ingestcli.deploy.stack import (
    StackOperationFailed,
    describe_stack,
    destroy,
    follow_stack,
    plan_destroy,
    read_status,
    validate_stack_name,
)
from ingestcli.errors import DeployError

STACK_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/0f00"
RETAINED = {
    "AccessLogsBucket": "AWS::S3::Bucket",
    "UploadsBucket": "AWS::S3::Bucket",
    "RecordsTable": "AWS::DynamoDB::Table",
    "ProvidersTable": "AWS::DynamoDB::Table",
    "UploadsTable": "AWS::DynamoDB::Table",
}


@pytest.mark.parametrize("name", ["ingest", "a", "prod-ingest-2", "a" * 27, "ingest-"])
def test_valid_stack_names(name: str) -> None:
    assert validate_stack_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Ingest",
        "1ingest",
        "-ingest",
        "a" * 28,
        "in_gest",
        "ingest.prod",
        "xn--ingest",
        "sthree-ingest",
    ],
)
def test_invalid_stack_names_are_refused_before_any_aws_call(name: str) -> None:
    cfn = boto3.client("cloudformation", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    with Stubber(cfn), Stubber(sqs):  # no answer queued: any call would fail the test
        with pytest.raises(DeployError, match="invalid stack name"):
            read_status(cfn, sqs, name)
        with pytest.raises(DeployError, match="invalid stack name"):
            plan_destroy(cfn, name)


def test_bundled_template_is_read_from_the_package() -> None:
    template = bundled_template()
    assert template.retained == RETAINED
    assert {"ArtifactBucket", "ArtifactKey", "CreateFunctionUrl", "MaxReceiveCount"} <= set(
        template.parameters
    )
    assert template.body.startswith('AWSTemplateFormatVersion: "2010-09-09"')


def _event(event_id: str, status: str, logical_id: str = STACK, reason: str = "") -> dict:
    kind = "AWS::CloudFormation::Stack" if logical_id == STACK else "AWS::SQS::Queue"
    return {
        "StackId": STACK_ID,
        "StackName": STACK,
        "EventId": event_id,
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": datetime(2025, 1, 1, tzinfo=UTC),
    }


def _stack(status: str, reason: str = "") -> dict[str, Any]:
    stack = {"StackName": STACK, "StackId": STACK_ID, "StackStatus": status}
    return {"Stacks": [{**stack, "StackStatusReason": reason, "CreationTime": datetime.now(UTC)}]}


def test_following_a_failed_stack_yields_each_new_event_once_then_names_the_failures() -> None:
    """Real CloudFormation: per-resource events, newest first, across pages."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    by_id = {"StackName": STACK_ID}
    failed = "Resource handler returned message: Invalid request provided (VisibilityTimeout)"
    old = _event("e0", "REVIEW_IN_PROGRESS")
    first = [_event("e2", "CREATE_IN_PROGRESS", "UploadsQueue"), _event("e1", "CREATE_IN_PROGRESS")]
    later = [
        _event("e6", "ROLLBACK_COMPLETE"),
        _event("e5", "DELETE_COMPLETE", "UploadsQueue"),
        _event("e4", "ROLLBACK_IN_PROGRESS", reason="The following resource(s) failed"),
    ]
    earlier = [_event("e3", "CREATE_FAILED", "UploadsQueue", failed), *first, old]
    sleeps: list[float] = []
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack("CREATE_IN_PROGRESS"), by_id)
        stub.add_response("describe_stack_events", {"StackEvents": [*first, old]}, by_id)
        stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE", "rolled back"), by_id)
        stub.add_response(
            "describe_stack_events", {"StackEvents": later, "NextToken": "page-2"}, by_id
        )
        stub.add_response(
            "describe_stack_events", {"StackEvents": earlier}, {**by_id, "NextToken": "page-2"}
        )
        events = follow_stack(
            cfn, STACK_ID, "CREATE_COMPLETE", "e0", poll_seconds=0.5, sleep=sleeps.append
        )
        seen = []
        with pytest.raises(StackOperationFailed) as caught:
            seen.extend(event.event_id for event in events)
        stub.assert_no_pending_responses()
    assert seen == ["e1", "e2", "e3", "e4", "e5", "e6"]
    assert sleeps == [0.5]
    assert caught.value.status == "ROLLBACK_COMPLETE"
    assert [(f.logical_id, f.status, f.reason) for f in caught.value.failures] == [
        ("UploadsQueue", "CREATE_FAILED", failed)
    ]
    assert "UploadsQueue (AWS::SQS::Queue) CREATE_FAILED: Resource handler" in str(caught.value)


def test_status_reports_outputs_and_queue_depths(clients, deployed: dict[str, str]) -> None:
    queue, dead_letters = deployed["QueueUrl"], deployed["DeadLetterQueueUrl"]
    for number in range(3):
        clients.sqs.send_message(QueueUrl=queue, MessageBody=f"upload {number}")
    clients.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)
    for number in range(2):
        clients.sqs.send_message(QueueUrl=dead_letters, MessageBody=f"poison {number}")

    status = read_status(clients.cfn, clients.sqs, STACK)

    assert status.status == "CREATE_COMPLETE"
    assert status.outputs == deployed
    assert isinstance(status.last_updated, datetime)
    depths = {q.name: (q.url, q.visible, q.in_flight, q.delayed) for q in status.queues}
    assert depths == {"queue": (queue, 2, 1, 0), "dead-letter queue": (dead_letters, 2, 0, 0)}


def test_status_of_a_missing_stack_says_to_deploy(clients) -> None:
    with pytest.raises(DeployError, match=f"stack {STACK} does not exist: run ingest deploy"):
        read_status(clients.cfn, clients.sqs, STACK)


def test_destroy_deletes_the_stack_and_keeps_the_data(clients, deployed: dict[str, str]) -> None:
    plan = plan_destroy(clients.cfn, STACK)

    kept = {k.resource.logical_id: k for k in plan.kept}
    assert {name: k.resource.resource_type for name, k in kept.items()} == RETAINED
    for name in RETAINED:
        assert kept[name].resource.physical_id == deployed[name]
        assert all(deployed[name] in command for command in kept[name].commands)
    assert "--no-deletion-protection-enabled" in kept["RecordsTable"].commands[0]
    assert kept["UploadsBucket"].commands[-1].startswith("aws s3api delete-bucket")
    deleted = {r.logical_id for r in plan.deleted}
    assert {"UploadsQueue", "UploadsDeadLetterQueue", "IngestFunction", "ApiFunction"} <= deleted
    assert not deleted & set(RETAINED)

    events = list(destroy(clients.cfn, plan, poll_seconds=0))

    assert events[-1].status == "DELETE_COMPLETE"
    assert describe_stack(clients.cfn, STACK) is None
    for bucket in ("UploadsBucket", "AccessLogsBucket"):
        clients.s3.head_bucket(Bucket=deployed[bucket])
    for table in ("RecordsTable", "ProvidersTable", "UploadsTable"):
        clients.dynamodb.describe_table(TableName=deployed[table])
    assert clients.sqs.list_queues().get("QueueUrls", []) == []


def test_destroy_of_a_missing_stack_says_so(clients) -> None:
    with pytest.raises(DeployError, match="does not exist"):
        plan_destroy(clients.cfn, STACK)
