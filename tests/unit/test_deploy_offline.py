"""`ingest deploy`'s core without AWS: what is refused before any call, and CloudFormation's
answers moto does not give, scripted with botocore's Stubber (a call nobody queued fails the
test). The deploys themselves, on moto: tests/integration/test_deploy.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from ingestcli.deploy.artifact import build_lambda_zip
from ingestcli.deploy.executor import DeployExecutor
from ingestcli.deploy.models import ChangeSet, CreateChangeSet, DeployPlan
from ingestcli.deploy.planner import DeployPlanner, parse_parameters
from ingestcli.deploy.template import bundled_template
from ingestcli.errors import DeployError
from support.names import ACCOUNT, REGION, STACK

KEY = build_lambda_zip().key
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0f00"


@dataclass(frozen=True)
class Offline:
    planner: DeployPlanner
    cfn: Stubber


@pytest.fixture
def offline() -> Iterator[Offline]:
    """A planner whose clients answer only what a test queues: any other call fails it."""
    cfn, s3, sts = (
        boto3.client(name, region_name=REGION) for name in ("cloudformation", "s3", "sts")
    )
    with Stubber(cfn) as cfn_stub, Stubber(s3), Stubber(sts):
        yield Offline(DeployPlanner(cfn, s3, sts), cfn_stub)


def test_an_unknown_parameter_is_refused_naming_the_valid_ones(offline: Offline) -> None:
    with pytest.raises(DeployError, match="unknown parameter MaxRecieveCount") as caught:
        offline.planner.plan(STACK, {"MaxRecieveCount": "3"})
    valid = str(caught.value).split("valid ones are ")[1].split(", ")
    assert valid == [p for p in bundled_template().parameters if not p.startswith("Artifact")]


def test_the_artifact_parameters_are_not_the_users_to_set(offline: Offline) -> None:
    with pytest.raises(DeployError, match="ArtifactKey is set by ingest deploy itself"):
        offline.planner.plan(STACK, {"ArtifactKey": "lambda/mine.zip"})


def test_an_invalid_stack_name_is_refused_before_any_aws_call(offline: Offline) -> None:
    with pytest.raises(DeployError, match="invalid stack name 'Ingest_Prod'"):
        offline.planner.plan("Ingest_Prod")


def test_parse_parameters() -> None:
    assert parse_parameters(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(DeployError, match="'MaxReceiveCount' is not KEY=VALUE"):
        parse_parameters(["MaxReceiveCount"])
    with pytest.raises(DeployError, match="A is given twice"):
        parse_parameters(["A=1", "A=2"])


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE and cannot be updated: run ingest destroy first"),
        ("UPDATE_IN_PROGRESS", "is busy"),
        ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
    ],
)
def test_a_stack_that_cannot_be_updated_is_refused(
    offline: Offline, status: str, message: str
) -> None:
    stack = {"StackName": STACK, "StackId": STACK_ID, "StackStatus": status}
    offline.cfn.add_response(
        "describe_stacks",
        {"Stacks": [{**stack, "CreationTime": datetime.now(UTC)}]},
        {"StackName": STACK},
    )
    with pytest.raises(DeployError, match=message):
        offline.planner.plan(STACK)


def _failed_change_set(reason: str) -> tuple[DeployExecutor, Stubber, DeployPlan]:
    """Real CloudFormation's answer for a change set it could not create: FAILED, a reason."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    stub = Stubber(cfn)
    change_set_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/ingest-1/0f01"
    stub.add_response("create_change_set", {"Id": change_set_id, "StackId": STACK_ID})
    stub.add_response(
        "describe_change_set",
        {"ChangeSetId": change_set_id, "Status": "FAILED", "StatusReason": reason, "Changes": []},
        {"ChangeSetName": change_set_id},
    )
    stub.add_response("delete_change_set", {}, {"ChangeSetName": change_set_id})
    stack = {"StackName": STACK, "StackId": STACK_ID, "StackStatus": "UPDATE_COMPLETE"}
    stub.add_response(
        "describe_stacks",
        {"Stacks": [{**stack, "CreationTime": datetime.now(UTC)}]},
        {"StackName": STACK_ID},
    )
    step = CreateChangeSet(STACK, "ingest-1", "UPDATE", {"ArtifactKey": KEY}, (), "{}")
    executor = DeployExecutor(cfn, boto3.client("s3", region_name=REGION), poll_seconds=0)
    return executor, stub, DeployPlan(STACK, (step,), False, ())


def test_a_failed_change_set_without_changes_means_no_changes() -> None:
    executor, stub, plan = _failed_change_set(
        "The submitted information didn't contain changes. Submit different information to "
        "create a change set."
    )
    with stub:
        change_set = executor.prepare(plan)
        stub.assert_no_pending_responses()
    assert change_set == ChangeSet(None, None, STACK, "UPDATE", (), False)


def test_a_change_set_that_failed_for_another_reason_is_an_error() -> None:
    executor, stub, plan = _failed_change_set("Parameter 'IngestTimeout' must be one of ...")
    with stub, pytest.raises(DeployError, match="could not create the change set: Parameter"):
        executor.prepare(plan)
