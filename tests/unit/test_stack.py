"""Stack names, the bundled template, and following a stack's events (CloudFormation's
answers scripted with botocore's Stubber). Status and destroy, on moto:
tests/integration/test_stack_status.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ingestcli.deploy.planner import DestroyPlanner
from ingestcli.deploy.stack import StackOperationFailed, follow_stack, validate_stack_name
from ingestcli.deploy.status import read_status
from ingestcli.deploy.template import bundled_template
from ingestcli.errors import DeployError
from support.names import REGION, STACK
from support.stack_events import STACK_ID, stack_event
from support.template import RETAINED


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
            DestroyPlanner(cfn).plan(name)


def test_bundled_template_is_read_from_the_package() -> None:
    template = bundled_template()
    assert template.retained == RETAINED
    assert {"ArtifactBucket", "ArtifactKey", "CreateFunctionUrl", "MaxReceiveCount"} <= set(
        template.parameters
    )
    assert template.body.startswith('AWSTemplateFormatVersion: "2010-09-09"')


def _stack(status: str, reason: str = "") -> dict[str, Any]:
    stack = {"StackName": STACK, "StackId": STACK_ID, "StackStatus": status}
    return {"Stacks": [{**stack, "StackStatusReason": reason, "CreationTime": datetime.now(UTC)}]}


def test_following_a_failed_stack_yields_each_new_event_once_then_names_the_failures() -> None:
    """Real CloudFormation: per-resource events, newest first, across pages."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    by_id = {"StackName": STACK_ID}
    failed = "Resource handler returned message: Invalid request provided (VisibilityTimeout)"
    old = stack_event("e0", "REVIEW_IN_PROGRESS")
    first = [
        stack_event("e2", "CREATE_IN_PROGRESS", "UploadsQueue"),
        stack_event("e1", "CREATE_IN_PROGRESS"),
    ]
    later = [
        stack_event("e6", "ROLLBACK_COMPLETE"),
        stack_event("e5", "DELETE_COMPLETE", "UploadsQueue"),
        stack_event("e4", "ROLLBACK_IN_PROGRESS", reason="The following resource(s) failed"),
    ]
    earlier = [stack_event("e3", "CREATE_FAILED", "UploadsQueue", failed), *first, old]
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
