"""`ingest deploy`: plan every change as data first, then apply the plan.

The planner only reads (caller identity, the stack, the artifact bucket); the executor
writes. cli.py runs them in order and renders each result:

    plan = DeployPlanner(cfn, s3, sts).plan(stack, parameters, endpoint_url=url, dry_run=...)
    executor = DeployExecutor(cfn, s3)
    change_set = executor.prepare(plan)   # bucket, upload, change set (deleted on a dry run)
    if change_set.executable:             # False: nothing to change, or a dry run
        for event in executor.execute(change_set): ...   # may raise StackOperationFailed
        outputs = stack_outputs(cfn, stack)
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ingestcli import __version__
from ingestcli.deploy.artifact import (
    EnsureArtifactBucket,
    LambdaArtifact,
    Template,
    UploadArtifact,
    build_lambda_zip,
    bundled_template,
    ensure_bucket,
    plan_artifact,
    upload,
)
from ingestcli.deploy.stack import (
    StackEvent,
    describe_stack,
    follow_stack,
    latest_event_id,
    validate_stack_name,
)
from ingestcli.errors import AwsError, DeployError
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
# How CloudFormation says "nothing to do": a FAILED change set, or a refused request.
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_REFUSALS = {"ValidationError", "InvalidChangeSetStatus", "InsufficientCapabilitiesException"}


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


@dataclass(frozen=True)
class CreateChangeSet:
    stack_name: str
    change_set_name: str
    change_set_type: str  # CREATE or UPDATE
    parameters: dict[str, str]
    previous: tuple[str, ...]  # parameters that keep the stack's current value
    template_body: str = field(repr=False)


Step = EnsureArtifactBucket | UploadArtifact | CreateChangeSet


@dataclass(frozen=True)
class DeployPlan:
    """What deploy will do, in order. A dry run creates the change set only, then deletes it."""

    stack_name: str
    steps: tuple[Step, ...]
    dry_run: bool
    notes: tuple[str, ...]  # for the user, e.g. why a parameter was set for them


@dataclass(frozen=True)
class ResourceChange:
    action: str  # Add, Modify, Remove...
    logical_id: str
    resource_type: str
    replacement: str | None  # "True", "False", "Conditional" for a Modify

    @classmethod
    def from_api(cls, change: dict[str, Any]) -> ResourceChange:
        return cls(
            action=change.get("Action", ""),
            logical_id=change.get("LogicalResourceId", ""),
            resource_type=change.get("ResourceType", ""),
            replacement=change.get("Replacement"),
        )


@dataclass(frozen=True)
class ChangeSet:
    """A described change set. Not executable once deleted: no changes, or a dry run."""

    id: str | None  # None when CloudFormation refused to create one for lack of changes
    stack_id: str | None
    stack_name: str
    change_set_type: str
    changes: tuple[ResourceChange, ...]
    executable: bool


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


def _error(error: ClientError) -> tuple[str, str]:
    details = error.response.get("Error", {})
    return details.get("Code", ""), " ".join(details.get("Message", "").split())


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


class DeployExecutor:
    """Applies a DeployPlan through injected clients; polls with a sleep tests set to 0."""

    def __init__(
        self,
        cfn: BaseClient,
        s3: BaseClient,
        *,
        poll_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfn, self.s3 = cfn, s3
        self.poll_seconds, self.sleep = poll_seconds, sleep

    def prepare(self, plan: DeployPlan) -> ChangeSet:
        """Run the plan's steps up to a described change set (deleted again on a dry run)."""
        change_set: ChangeSet | None = None
        for step in plan.steps:
            match step:
                case EnsureArtifactBucket():
                    ensure_bucket(self.s3, step)
                case UploadArtifact():
                    upload(self.s3, step)
                case CreateChangeSet():
                    change_set = self._create_change_set(step)
        assert change_set is not None, "a plan always ends with its change set"
        if plan.dry_run and change_set.executable:
            self.discard(change_set)
            change_set = replace(change_set, executable=False)
        return change_set

    def execute(self, change_set: ChangeSet) -> Iterator[StackEvent]:
        """Execute the change set when iterated, yielding the stack's events until it settles."""
        assert change_set.id and change_set.stack_id, "only an executable change set runs"
        after = latest_event_id(self.cfn, change_set.stack_id)
        refused = self._start(change_set.id)
        if refused is not None:
            with suppress(AwsError):  # tidying up must not hide why it was refused
                self.discard(change_set)
            raise DeployError(f"CloudFormation did not execute the change set: {refused}")
        yield from follow_stack(
            self.cfn,
            change_set.stack_id,
            f"{change_set.change_set_type}_COMPLETE",
            after,
            poll_seconds=self.poll_seconds,
            sleep=self.sleep,
        )

    def _start(self, change_set_id: str) -> str | None:
        """Execute the change set: None once started, CloudFormation's reason if refused."""
        with aws_errors():
            try:
                self.cfn.execute_change_set(ChangeSetName=change_set_id)
            except ClientError as error:
                code, message = _error(error)
                if code in _REFUSALS:
                    return message
                raise
        return None

    def _create_change_set(self, step: CreateChangeSet) -> ChangeSet:
        """Create the change set and wait for it; "nothing to change" is an answer, not an error."""
        parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in step.parameters.items()]
        parameters += [{"ParameterKey": k, "UsePreviousValue": True} for k in step.previous]
        unchanged = ChangeSet(None, None, step.stack_name, step.change_set_type, (), False)
        with aws_errors():
            try:
                created = self.cfn.create_change_set(
                    StackName=step.stack_name,
                    ChangeSetName=step.change_set_name,
                    ChangeSetType=step.change_set_type,
                    TemplateBody=step.template_body,
                    Parameters=parameters,
                    Capabilities=["CAPABILITY_IAM"],
                    Description=f"ingest {__version__}",
                )
            except ClientError as error:
                code, message = _error(error)
                if any(marker in message for marker in NO_CHANGES):
                    return unchanged
                if code in _REFUSALS:
                    raise DeployError(f"CloudFormation refused the change set: {message}") from None
                raise
        description = self._wait_for_change_set(created["Id"])
        change_set = ChangeSet(
            id=created["Id"],
            stack_id=created["StackId"],
            stack_name=step.stack_name,
            change_set_type=step.change_set_type,
            changes=tuple(
                ResourceChange.from_api(change["ResourceChange"])
                for page in description
                for change in page.get("Changes", [])
                if "ResourceChange" in change
            ),
            executable=True,
        )
        if description[0]["Status"] == "FAILED":
            self.discard(change_set)
            reason = " ".join(description[0].get("StatusReason", "").split())
            if any(marker in reason for marker in NO_CHANGES):
                return unchanged
            raise DeployError(f"CloudFormation could not create the change set: {reason}")
        if not change_set.changes:  # how moto says "no changes"
            self.discard(change_set)
            return unchanged
        return change_set

    def _wait_for_change_set(self, change_set_id: str) -> list[dict[str, Any]]:
        """Every page of the change set's description, once it is complete or failed."""
        paginator = self.cfn.get_paginator("describe_change_set")
        while True:
            with aws_errors():
                pages = list(paginator.paginate(ChangeSetName=change_set_id))
            if pages[0]["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return pages
            self.sleep(self.poll_seconds)

    def discard(self, change_set: ChangeSet) -> None:
        """Delete the change set, and the empty stack a CREATE change set leaves behind."""
        assert change_set.id and change_set.stack_id
        with aws_errors():
            self.cfn.delete_change_set(ChangeSetName=change_set.id)
        stack = describe_stack(self.cfn, change_set.stack_id)
        if stack and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            with aws_errors():
                self.cfn.delete_stack(StackName=change_set.stack_id)
