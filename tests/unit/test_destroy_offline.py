"""Destroy as plan and executor, and finding a stack output, with CloudFormation's answers
scripted by botocore's Stubber: no AWS, no moto, no network. A Stubber with no answer queued
fails any call, so each test also proves which calls were made, and that a plan only reads."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ingestcli.cli.exits import exit_code_for
from ingestcli.deploy.executor import DestroyExecutor
from ingestcli.deploy.models import DestroyPlan, KeptResource, StackResource
from ingestcli.deploy.planner import DestroyPlanner, removal_commands
from ingestcli.deploy.stack import StackOperationFailed, output_value
from ingestcli.errors import ConfigError, DeployError
from support.names import REGION, STACK
from support.stack_events import STACK_ID, stack_event

BY_ID = {"StackName": STACK_ID}
TEMPLATE = """
Resources:
  Bucket: {Type: "AWS::S3::Bucket", DeletionPolicy: Retain}
  Table: {Type: "AWS::DynamoDB::Table", DeletionPolicy: Retain, Properties: {X: !Ref Y}}
  Skipped: {Type: "AWS::DynamoDB::Table", DeletionPolicy: Retain}
  Queue: {Type: "AWS::SQS::Queue"}
"""
# boto3 hands a JSON template back parsed (a dict), a YAML one as text.
JSON_TEMPLATE = json.dumps(
    {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
            "Queue": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete"},
        }
    }
)


def cloudformation() -> Any:
    return boto3.client("cloudformation", region_name=REGION)


def described(status: str, **extra: Any) -> dict[str, Any]:
    stack = {"StackName": STACK, "StackId": STACK_ID, "StackStatus": status}
    return {"Stacks": [{**stack, "CreationTime": datetime(2025, 1, 1, tzinfo=UTC), **extra}]}


def resource(logical_id: str, kind: str, physical_id: str | None) -> dict[str, Any]:
    listed = {
        "StackName": STACK,
        "StackId": STACK_ID,
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "ResourceStatus": "CREATE_COMPLETE",
        "Timestamp": datetime(2025, 1, 1, tzinfo=UTC),
    }
    return listed if physical_id is None else {**listed, "PhysicalResourceId": physical_id}


def queue_plan(stub: Stubber, status: str, body: Any, resources: list[dict[str, Any]]) -> None:
    """The three reads a destroy plan makes, in order; the last two by stack id."""
    stub.add_response("describe_stacks", described(status), {"StackName": STACK})
    stub.add_response("get_template", {"TemplateBody": body}, BY_ID)
    stub.add_response("describe_stack_resources", {"StackResources": resources}, BY_ID)


# --------------------------------------------------------------------------- DestroyPlanner


def test_the_plan_keeps_what_the_deployed_template_retains_and_only_reads() -> None:
    cfn = cloudformation()
    listed = [
        resource("Bucket", "AWS::S3::Bucket", "my-bucket"),
        resource("Table", "AWS::DynamoDB::Table", "my-table"),
        resource("Skipped", "AWS::DynamoDB::Table", None),  # never created: nothing to keep
        resource("Queue", "AWS::SQS::Queue", "https://queue"),
        resource("", "AWS::Lambda::Function", "made-up"),  # an emulator's skipped resource
    ]
    with Stubber(cfn) as stub:
        queue_plan(stub, "UPDATE_COMPLETE", TEMPLATE, listed)
        plan = DestroyPlanner(cfn).plan(STACK)
        stub.assert_no_pending_responses()

    assert plan.stack_name == STACK
    assert plan.stack_id == STACK_ID
    assert [r.logical_id for r in plan.deleted] == ["Queue"]
    assert [k.resource for k in plan.kept] == [
        StackResource("Bucket", "AWS::S3::Bucket", "my-bucket"),
        StackResource("Table", "AWS::DynamoDB::Table", "my-table"),
    ]
    bucket, table = plan.kept
    assert bucket.commands == removal_commands(bucket.resource, REGION)
    assert table.commands == (
        f"aws dynamodb update-table --region {REGION} --table-name my-table "
        "--no-deletion-protection-enabled",
        f"aws dynamodb delete-table --region {REGION} --table-name my-table",
    )


def test_a_json_template_is_read_as_boto3_returns_it() -> None:
    """boto3 decodes a JSON TemplateBody into a dict after the call, stubbed or not."""
    cfn = cloudformation()
    listed = [
        resource("Bucket", "AWS::S3::Bucket", "my-bucket"),
        resource("Queue", "AWS::SQS::Queue", "https://queue"),
    ]
    with Stubber(cfn) as stub:
        queue_plan(stub, "CREATE_COMPLETE", JSON_TEMPLATE, listed)
        plan = DestroyPlanner(cfn).plan(STACK)

    assert [k.resource.logical_id for k in plan.kept] == ["Bucket"]
    assert [r.logical_id for r in plan.deleted] == ["Queue"]


def test_a_stack_only_reviewed_so_far_can_be_planned() -> None:
    cfn = cloudformation()
    with Stubber(cfn) as stub:
        queue_plan(stub, "REVIEW_IN_PROGRESS", TEMPLATE, [])
        plan = DestroyPlanner(cfn).plan(STACK)
    assert plan == DestroyPlan(STACK, STACK_ID, (), ())


@pytest.mark.parametrize(
    "status", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"]
)
def test_a_busy_stack_is_refused_after_one_read(status: str) -> None:
    cfn = cloudformation()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described(status), {"StackName": STACK})
        with pytest.raises(DeployError, match=rf"stack {STACK} is busy \({status}\)"):
            DestroyPlanner(cfn).plan(STACK)
        stub.assert_no_pending_responses()


@contextlib.contextmanager
def a_missing_stack() -> Iterator[Any]:
    """A CloudFormation client whose DescribeStacks says the stack does not exist, and the
    one error every caller must turn that into."""
    cfn = cloudformation()
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist"
        )
        with pytest.raises(
            DeployError, match=f"^stack {STACK} does not exist in region {REGION}: "
        ):
            yield cfn


def test_a_missing_stack_says_to_deploy() -> None:
    with a_missing_stack() as cfn:
        DestroyPlanner(cfn).plan(STACK)


def test_an_invalid_stack_name_is_refused_before_any_call() -> None:
    cfn = cloudformation()
    with (
        Stubber(cfn),
        pytest.raises(DeployError, match="invalid stack name 'Bad_Name'"),
    ):
        DestroyPlanner(cfn).plan("Bad_Name")


def test_removal_commands_empty_every_version_of_a_bucket_then_delete_it() -> None:
    bucket = StackResource("UploadsBucket", "AWS::S3::Bucket", "b")
    emptying, deleting = removal_commands(bucket, "eu-west-1")
    assert emptying.startswith("while [ ")
    assert "list-object-versions --region eu-west-1 --bucket b" in emptying
    assert "[Versions, DeleteMarkers][]" in emptying
    assert deleting == "aws s3api delete-bucket --region eu-west-1 --bucket b"
    assert removal_commands(StackResource("Q", "AWS::SQS::Queue", "q"), "eu-west-1") == ()


# --------------------------------------------------------------------------- DestroyExecutor


def plan_of_one_queue() -> DestroyPlan:
    bucket = StackResource("Bucket", "AWS::S3::Bucket", "my-bucket")
    return DestroyPlan(
        stack_name=STACK,
        stack_id=STACK_ID,
        deleted=(StackResource("Queue", "AWS::SQS::Queue", "https://queue"),),
        kept=(KeptResource(bucket, removal_commands(bucket, REGION)),),
    )


def test_nothing_is_deleted_until_the_events_are_read() -> None:
    cfn = cloudformation()
    with Stubber(cfn) as stub:  # no answer queued: any call would fail here
        events = DestroyExecutor(cfn, poll_seconds=0).execute(plan_of_one_queue())
        stub.assert_no_pending_responses()
    events.close()


def test_the_executor_deletes_by_stack_id_and_follows_to_delete_complete() -> None:
    cfn = cloudformation()
    sleeps: list[float] = []
    old = stack_event("e0", "UPDATE_COMPLETE")
    first = [stack_event("e1", "DELETE_IN_PROGRESS"), old]
    last = [
        stack_event("e3", "DELETE_COMPLETE"),
        stack_event("e2", "DELETE_COMPLETE", "Queue"),
        *first,
    ]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": [old]}, BY_ID)
        stub.add_response("delete_stack", {}, BY_ID)
        stub.add_response("describe_stacks", described("DELETE_IN_PROGRESS"), BY_ID)
        stub.add_response("describe_stack_events", {"StackEvents": first}, BY_ID)
        stub.add_response("describe_stacks", described("DELETE_COMPLETE"), BY_ID)
        stub.add_response("describe_stack_events", {"StackEvents": last}, BY_ID)
        executor = DestroyExecutor(cfn, poll_seconds=0.5, sleep=sleeps.append)
        seen = [(e.event_id, e.status) for e in executor.execute(plan_of_one_queue())]
        stub.assert_no_pending_responses()

    assert seen == [
        ("e1", "DELETE_IN_PROGRESS"),
        ("e2", "DELETE_COMPLETE"),
        ("e3", "DELETE_COMPLETE"),
    ]
    assert sleeps == [0.5]


def test_a_failed_delete_names_the_resource_and_its_reason() -> None:
    cfn = cloudformation()
    reason = "The bucket you tried to delete is not empty"
    events = [
        stack_event("e2", "DELETE_FAILED"),
        stack_event("e1", "DELETE_FAILED", "Queue", reason),
    ]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, BY_ID)
        stub.add_response("delete_stack", {}, BY_ID)
        stub.add_response("describe_stacks", described("DELETE_FAILED"), BY_ID)
        stub.add_response("describe_stack_events", {"StackEvents": events}, BY_ID)
        with pytest.raises(StackOperationFailed) as caught:
            list(DestroyExecutor(cfn, poll_seconds=0).execute(plan_of_one_queue()))

    assert caught.value.status == "DELETE_FAILED"
    assert [(f.logical_id, f.reason) for f in caught.value.failures] == [
        ("Queue", reason),
        (STACK, ""),
    ]


# --------------------------------------------------------------------------- output_value


class Factory:
    """Counts how often a command had to build a CloudFormation client."""

    def __init__(self, client: Any = None) -> None:
        self.client, self.calls = client, 0

    def __call__(self) -> Any:
        self.calls += 1
        assert self.client is not None, "no client was expected"
        return self.client


def test_a_saved_output_needs_no_client() -> None:
    factory = Factory()
    saved = {"RecordsTable": "records"}
    assert output_value("RecordsTable", saved=saved, stack_name=STACK, cfn=factory) == "records"
    assert factory.calls == 0


def test_an_output_not_saved_is_read_from_the_stack() -> None:
    cfn = cloudformation()
    outputs = [{"OutputKey": "RecordsTable", "OutputValue": "from-stack"}]
    factory = Factory(cfn)
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            described("CREATE_COMPLETE", Outputs=outputs),
            {"StackName": STACK},
        )
        found = output_value("RecordsTable", saved={"Other": "x"}, stack_name=STACK, cfn=factory)
        stub.assert_no_pending_responses()
    assert found == "from-stack"
    assert factory.calls == 1


def test_an_output_the_stack_lacks_says_to_deploy_again() -> None:
    cfn = cloudformation()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", described("CREATE_COMPLETE"), {"StackName": STACK})
        with pytest.raises(ConfigError) as caught:
            output_value("ApiUrl", saved={}, stack_name=STACK, cfn=Factory(cfn))
    assert str(caught.value) == (
        f"stack {STACK} has no output ApiUrl: run `ingest deploy` to update it"
    )
    assert exit_code_for(caught.value) == 2


def test_an_output_of_a_missing_stack_says_to_deploy() -> None:
    with a_missing_stack() as cfn:
        output_value("RecordsTable", saved={}, stack_name=STACK, cfn=Factory(cfn))
