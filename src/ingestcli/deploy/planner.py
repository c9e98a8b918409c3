"""Planning `ingest deploy` and `ingest destroy`: read the current state, decide every step.

Planners only read (caller identity, the stack, its template and resources, the artifact
bucket) through the clients they are given, and return a plan (models.py) that the CLI
shows before an executor (executor.py) acts on it. cli/stack.py runs them in order:

    plan = DeployPlanner(cfn, s3, sts).plan(stack, parameters, endpoint_url=url, dry_run=...)
    executor = DeployExecutor(cfn, s3)
    change_set = executor.prepare(plan)   # bucket, upload, change set (deleted on a dry run)
    if change_set.executable:             # False: nothing to change, or a dry run
        for event in executor.execute(change_set): ...   # may raise StackOperationFailed
        outputs = stack_outputs(cfn, stack)

    plan = DestroyPlanner(cfn).plan(stack)  # what goes, what keeps its data
    for event in DestroyExecutor(cfn).execute(plan): ...  # not run at all on a dry run
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ingestcli.deploy.artifact import LambdaArtifact, build_lambda_zip, plan_artifact
from ingestcli.deploy.models import (
    CreateChangeSet,
    DeployPlan,
    DestroyPlan,
    KeptResource,
    StackResource,
    Step,
)
from ingestcli.deploy.stack import describe_stack, existing_stack, validate_stack_name
from ingestcli.deploy.template import Template, bundled_template
from ingestcli.errors import DeployError
from ingestcli.services.session import account_id, aws_errors

if TYPE_CHECKING:
    from botocore.client import BaseClient

FUNCTION_URL_PARAMETER = "CreateFunctionUrl"
UPDATABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}


def parse_parameters(pairs: Iterable[str]) -> dict[str, str]:
    """KEY=VALUE strings from the command line; the value may be empty or hold '='."""
    parameters: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise DeployError(f"parameter '{pair}' is not KEY=VALUE")
        if key.strip() in parameters:
            raise DeployError(f"parameter {key.strip()} is given twice")
        parameters[key.strip()] = value
    return parameters


def _change_set_type(stack_name: str, stack: dict[str, Any] | None) -> str:
    """CREATE for a new stack (or one only reviewed so far), UPDATE for a settled one."""
    status = stack["StackStatus"] if stack else None
    if status is None or status == "REVIEW_IN_PROGRESS":
        return "CREATE"
    if status in UPDATABLE:
        return "UPDATE"
    if status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack {stack_name} is busy ({status}): wait for it to settle")
    if status == "UPDATE_ROLLBACK_FAILED":
        raise DeployError(
            f"stack {stack_name} is in UPDATE_ROLLBACK_FAILED: finish the rollback with `aws "
            f"cloudformation continue-update-rollback --stack-name {stack_name}`, or destroy it"
        )
    raise DeployError(
        f"stack {stack_name} is in {status} and cannot be updated: "
        "run ingest destroy first, then deploy again"
    )


class DeployPlanner:
    """Reads the current state through injected clients and decides every step."""

    def __init__(
        self,
        cfn: BaseClient,
        s3: BaseClient,
        sts: BaseClient,
        *,
        template: Template | None = None,
        artifact: LambdaArtifact | None = None,
    ) -> None:
        self.cfn, self.s3, self.sts = cfn, s3, sts
        self.template = template or bundled_template()
        self.artifact = artifact or build_lambda_zip()

    def plan(
        self,
        stack_name: str,
        parameters: Mapping[str, str] | None = None,
        *,
        endpoint_url: str | None = None,
        dry_run: bool = False,
    ) -> DeployPlan:
        """The plan; `endpoint_url` names an emulator (moto), which has no function URLs."""
        parameters = dict(parameters or {})
        validate_stack_name(stack_name)
        self.template.check_parameters(parameters)
        stack = describe_stack(self.cfn, stack_name)
        change_set_type = _change_set_type(stack_name, stack)
        bucket, upload_step = plan_artifact(
            self.s3, self.artifact, account_id(self.sts), self.cfn.meta.region_name
        )
        values = {"ArtifactBucket": bucket.bucket, "ArtifactKey": self.artifact.key, **parameters}
        notes = []
        if endpoint_url and FUNCTION_URL_PARAMETER not in parameters:
            values[FUNCTION_URL_PARAMETER] = "false"
            notes.append(
                f"{FUNCTION_URL_PARAMETER}=false: the endpoint {endpoint_url} cannot create "
                "Lambda function URLs, so the stack has no ApiUrl (the local stack serves the API)"
            )
        current = [p["ParameterKey"] for p in stack.get("Parameters", [])] if stack else []
        previous = (
            tuple(k for k in current if k in self.template.parameters and k not in values)
            if change_set_type == "UPDATE"
            else ()
        )
        steps: list[Step] = [] if dry_run else [bucket, upload_step]
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        steps.append(
            CreateChangeSet(
                stack_name=stack_name,
                change_set_name=f"ingest-{stamp}-{secrets.token_hex(3)}",
                change_set_type=change_set_type,
                parameters=values,
                previous=previous,
                template_body=self.template.body,
            )
        )
        return DeployPlan(stack_name, tuple(steps), dry_run, tuple(notes))


class DestroyPlanner:
    """Reads the stack, its deployed template and its resources; decides what goes and what
    keeps its data. Reads only, so `ingest destroy --dry-run` is this plan and nothing else."""

    def __init__(self, cfn: BaseClient) -> None:
        self.cfn = cfn

    def plan(self, stack_name: str) -> DestroyPlan:
        """What delete_stack removes and what it keeps, from the deployed template's policies.

        The deployed template, not the bundled one: the stack may come from another version.
        """
        stack = existing_stack(self.cfn, validate_stack_name(stack_name))
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            raise DeployError(f"stack {stack_name} is busy ({status}): wait for it to settle")
        with aws_errors():
            body = self.cfn.get_template(StackName=stack["StackId"])["TemplateBody"]
            listed = self.cfn.describe_stack_resources(StackName=stack["StackId"])
        retained = Template.parse(body if isinstance(body, str) else json.dumps(body)).retained
        # Emulators list resources they skipped without ids; those are not there to delete.
        resources = [
            StackResource(
                r["LogicalResourceId"], r["ResourceType"], r.get("PhysicalResourceId", "")
            )
            for r in listed["StackResources"]
            if r.get("LogicalResourceId")
        ]
        region = self.cfn.meta.region_name
        return DestroyPlan(
            stack_name=stack_name,
            stack_id=stack["StackId"],
            deleted=tuple(r for r in resources if r.logical_id not in retained),
            kept=tuple(
                KeptResource(r, removal_commands(r, region))
                for r in resources
                if r.logical_id in retained and r.physical_id
            ),
        )


def removal_commands(resource: StackResource, region: str) -> tuple[str, ...]:
    """aws CLI commands that delete a retained resource; its data is gone for good after."""
    name, where = resource.physical_id, f"--region {region}"
    if resource.resource_type == "AWS::S3::Bucket":
        # Versioned: every version and delete marker must go, at most 1000 per request.
        listing = f"aws s3api list-object-versions {where} --bucket {name} --no-paginate"
        versions = "[Versions, DeleteMarkers][]"
        return (
            f"while [ \"$({listing} --max-keys 1 --query 'length({versions})' --output text)\" "
            f"!= 0 ]; do aws s3api delete-objects {where} --bucket {name} --delete "
            f'"$({listing} --max-keys 1000 --output json --query '
            f"'{{Objects: {versions}.{{Key: Key, VersionId: VersionId}}, Quiet: `true`}}')\"; done",
            f"aws s3api delete-bucket {where} --bucket {name}",
        )
    if resource.resource_type == "AWS::DynamoDB::Table":
        return (
            f"aws dynamodb update-table {where} --table-name {name} "
            "--no-deletion-protection-enabled",
            f"aws dynamodb delete-table {where} --table-name {name}",
        )
    return ()
