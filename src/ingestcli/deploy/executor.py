"""Carrying out the plans of `ingest deploy` and `ingest destroy`: every write is here.

An executor gets its clients through its constructor and a plan (models.py) that a planner
(planner.py) made and the CLI showed; it yields the stack's events as they happen, so the
CLI (cli/stack.py) can print them live. Polls sleep through an injected `sleep`, which tests
set to do nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ingestcli import __version__
from ingestcli.deploy.artifact import EnsureArtifactBucket, UploadArtifact, ensure_bucket, upload
from ingestcli.deploy.models import (
    ChangeSet,
    CreateChangeSet,
    DeployPlan,
    DestroyPlan,
    ResourceChange,
)
from ingestcli.deploy.stack import StackEvent, describe_stack, follow_stack, latest_event_id
from ingestcli.errors import AwsError, DeployError
from ingestcli.services.session import aws_errors

if TYPE_CHECKING:
    from botocore.client import BaseClient

# How CloudFormation says "nothing to do": a FAILED change set, or a refused request.
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_REFUSALS = {"ValidationError", "InvalidChangeSetStatus", "InsufficientCapabilitiesException"}


def _error(error: ClientError) -> tuple[str, str]:
    details = error.response.get("Error", {})
    return details.get("Code", ""), " ".join(details.get("Message", "").split())


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


class DestroyExecutor:
    """Deletes the stack of a DestroyPlan; what the template retains stays, with its data."""

    def __init__(
        self,
        cfn: BaseClient,
        *,
        poll_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfn = cfn
        self.poll_seconds, self.sleep = poll_seconds, sleep

    def execute(self, plan: DestroyPlan) -> Iterator[StackEvent]:
        """Delete the stack when iterated, yielding its events until DELETE_COMPLETE.

        By stack id: once deleted, the stack's name no longer answers, its id still does.
        """
        after = latest_event_id(self.cfn, plan.stack_id)
        with aws_errors():
            self.cfn.delete_stack(StackName=plan.stack_id)
        yield from follow_stack(
            self.cfn,
            plan.stack_id,
            "DELETE_COMPLETE",
            after,
            poll_seconds=self.poll_seconds,
            sleep=self.sleep,
        )
