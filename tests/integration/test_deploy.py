"""`ingest deploy`'s core against moto: plan, artifact, change set, events, outputs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from conftest import LOCAL_ENDPOINT, REGION, STACK
from ingestcli.deploy.artifact import (
    EnsureArtifactBucket,
    Template,
    UploadArtifact,
    build_lambda_zip,
    bundled_template,
)
from ingestcli.deploy.planner import (
    ChangeSet,
    CreateChangeSet,
    DeployExecutor,
    DeployPlan,
    DeployPlanner,
    parse_parameters,
)
from ingestcli.deploy.stack import describe_stack, stack_outputs
from ingestcli.errors import DeployError

ACCOUNT = "123456789012"
BUCKET = f"ingest-artifacts-{ACCOUNT}-{REGION}"
KEY = build_lambda_zip().key
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0f00"
OUTPUTS = {
    "UploadsBucket",
    "AccessLogsBucket",
    "RecordsTable",
    "ProvidersTable",
    "UploadsTable",
    "QueueUrl",
    "DeadLetterQueueUrl",
    "IngestFunction",
    "ApiFunction",
    "SignerRoleArn",
    "IngestLogGroup",
    "ApiLogGroup",
}


def steps_of(plan: DeployPlan) -> tuple[EnsureArtifactBucket, UploadArtifact, CreateChangeSet]:
    bucket, upload, change_set = plan.steps
    assert isinstance(bucket, EnsureArtifactBucket)
    assert isinstance(upload, UploadArtifact)
    assert isinstance(change_set, CreateChangeSet)
    return bucket, upload, change_set


def test_first_deploy_creates_the_bucket_the_artifact_and_the_stack(clients, deploy) -> None:
    run = deploy()

    bucket, upload, change_set = steps_of(run.plan)
    assert (bucket.bucket, bucket.exists) == (BUCKET, False)
    assert (upload.key, upload.exists) == (KEY, False)
    assert change_set.change_set_type == "CREATE"
    assert change_set.parameters == {
        "ArtifactBucket": BUCKET,
        "ArtifactKey": KEY,
        "CreateFunctionUrl": "false",
    }
    assert change_set.previous == ()
    assert any(LOCAL_ENDPOINT in note and "CreateFunctionUrl" in note for note in run.plan.notes)
    actions = {(c.action, c.logical_id) for c in run.change_set.changes}
    assert {("Add", "UploadsBucket"), ("Add", "IngestFunction")} <= actions
    assert [event.status for event in run.events] == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert describe_stack(clients.cfn, STACK)["StackStatus"] == "CREATE_COMPLETE"
    outputs = stack_outputs(clients.cfn, STACK)
    assert set(outputs) == OUTPUTS  # no ApiUrl: moto cannot create function URLs
    assert outputs["UploadsBucket"] == f"{STACK}-uploads-{ACCOUNT}-{REGION}"


def test_artifact_bucket_is_private_encrypted_and_holds_the_zip(clients, deployed) -> None:
    s3 = clients.s3
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    ownership = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]
    assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    body = s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert body == build_lambda_zip().content


def test_second_deploy_of_the_same_code_changes_and_uploads_nothing(clients, deploy) -> None:
    deploy()
    before = clients.s3.list_object_versions(Bucket=BUCKET)["Versions"]
    stack_before = describe_stack(clients.cfn, STACK)

    run = deploy()

    bucket, upload, change_set = steps_of(run.plan)
    assert bucket.exists and upload.exists
    assert change_set.change_set_type == "UPDATE"
    assert set(change_set.previous) == set(bundled_template().parameters) - {
        "ArtifactBucket",
        "ArtifactKey",
        "CreateFunctionUrl",
    }
    assert run.change_set.changes == () and not run.change_set.executable
    assert run.events == []
    after = clients.s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert [(v["Key"], v["VersionId"], v["LastModified"]) for v in after] == [
        (v["Key"], v["VersionId"], v["LastModified"]) for v in before
    ]
    assert describe_stack(clients.cfn, STACK) == stack_before
    left = clients.cfn.list_change_sets(StackName=STACK)["Summaries"]
    assert [s["ExecutionStatus"] for s in left] == ["EXECUTE_COMPLETE"]  # the first deploy's


def test_a_changed_parameter_is_planned_as_an_update_keeping_the_others(deploy) -> None:
    deploy()
    run = deploy({"MaxReceiveCount": "10"}, dry_run=True)
    (change_set,) = run.plan.steps
    assert isinstance(change_set, CreateChangeSet)
    assert change_set.change_set_type == "UPDATE"
    assert change_set.parameters["MaxReceiveCount"] == "10"
    assert "MaxReceiveCount" not in change_set.previous
    assert "IngestTimeout" in change_set.previous


def test_a_changed_parameter_updates_the_stack(clients, deploy) -> None:
    deploy()
    run = deploy({"MaxReceiveCount": "10"})
    assert ("Modify", "UploadsQueue") in {(c.action, c.logical_id) for c in run.change_set.changes}
    assert describe_stack(clients.cfn, STACK)["StackStatus"] == "UPDATE_COMPLETE"
    parameters = describe_stack(clients.cfn, STACK)["Parameters"]
    assert {"ParameterKey": "MaxReceiveCount", "ParameterValue": "10"} in parameters


def test_a_changed_template_updates_the_stack_and_its_outputs(clients, deploy) -> None:
    body = bundled_template().body
    timeout = (
        "VisibilityTimeout: !FindInMap [IngestTimeouts, !Ref IngestTimeout, QueueVisibilityTimeout]"
    )
    older = body.replace(timeout, "VisibilityTimeout: 60")
    assert older != body
    deploy(template=Template.parse(older))
    outputs = stack_outputs(clients.cfn, STACK)

    run = deploy()

    assert [(c.action, c.logical_id) for c in run.change_set.changes] == [
        ("Modify", "UploadsQueue")
    ]
    assert [event.status for event in run.events] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert describe_stack(clients.cfn, STACK)["StackStatus"] == "UPDATE_COMPLETE"
    assert stack_outputs(clients.cfn, STACK) == outputs
    attributes = clients.sqs.get_queue_attributes(
        QueueUrl=outputs["QueueUrl"], AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "1800"  # 6 x the default IngestTimeout, 300


def test_a_deploy_cloudformation_refuses_ends_in_one_error_and_leaves_no_stack(
    clients, deploy
) -> None:
    """IngestTimeout must be one of AllowedValues: AWS refuses the change set; moto only
    fails on execution (the IngestTimeouts mapping has no key "61")."""
    with pytest.raises(DeployError, match="CloudFormation did not execute the change set") as err:
        deploy({"IngestTimeout": "61"})
    assert "Template error" in str(err.value)
    assert describe_stack(clients.cfn, STACK) is None
    assert deploy().events[-1].status == "CREATE_COMPLETE"


def test_dry_run_leaves_no_change_set_no_stack_and_no_bucket(clients, deploy) -> None:
    run = deploy(dry_run=True)

    assert run.plan.dry_run
    assert [type(step) for step in run.plan.steps] == [CreateChangeSet]
    assert len(run.change_set.changes) > 20 and not run.change_set.executable
    assert run.events == []
    assert describe_stack(clients.cfn, STACK) is None
    assert clients.cfn.list_change_sets(StackName=STACK)["Summaries"] == []
    assert clients.s3.list_buckets()["Buckets"] == []


def test_without_an_endpoint_the_function_url_is_left_to_the_template(clients) -> None:
    plan = DeployPlanner(clients.cfn, clients.s3, clients.sts).plan(STACK, dry_run=True)
    (change_set,) = plan.steps
    assert "CreateFunctionUrl" not in change_set.parameters
    assert plan.notes == ()


def test_an_explicit_function_url_parameter_wins_over_the_endpoint(clients) -> None:
    planner = DeployPlanner(clients.cfn, clients.s3, clients.sts)
    plan = planner.plan(STACK, {"CreateFunctionUrl": "true"}, endpoint_url=LOCAL_ENDPOINT)
    assert plan.steps[-1].parameters["CreateFunctionUrl"] == "true"
    assert plan.notes == ()


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
