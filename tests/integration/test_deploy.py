"""`ingest deploy`'s core against moto: plan, artifact, change set, events, outputs.

What is refused before any AWS call, and CloudFormation's answers that moto does not give
(scripted with botocore's Stubber), are in tests/unit/test_deploy_offline.py."""

from __future__ import annotations

import pytest

from ingestcli.deploy.artifact import EnsureArtifactBucket, UploadArtifact, build_lambda_zip
from ingestcli.deploy.models import CreateChangeSet, DeployPlan
from ingestcli.deploy.planner import DeployPlanner
from ingestcli.deploy.stack import describe_stack, stack_outputs
from ingestcli.deploy.template import Template, bundled_template
from ingestcli.errors import DeployError
from support.names import ACCOUNT, LOCAL_ENDPOINT, REGION, STACK

BUCKET = f"ingest-artifacts-{ACCOUNT}-{REGION}"
KEY = build_lambda_zip().key
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
