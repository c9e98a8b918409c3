"""The stack as CloudFormation sees it: name rule, state, events, status, and destroy.

Shared by deploy, destroy and status. Nothing here prints: functions return data or yield
events, and cli.py renders them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ingestcli.deploy.artifact import Template
from ingestcli.errors import DeployError
from ingestcli.services.session import aws_errors

if TYPE_CHECKING:
    from botocore.client import BaseClient

# The uploads bucket is named <stack>-uploads-<12-digit account>-<region>, and a bucket name
# has at most 63 characters: 63 - len("-uploads-") - 12 - len("-") - 14 (longest region).
MAX_STACK_NAME = 27
_STACK_NAME = re.compile(r"[a-z][a-z0-9-]*")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")  # refused by S3 in bucket names
QUEUE_OUTPUTS = {"QueueUrl": "queue", "DeadLetterQueueUrl": "dead-letter queue"}
_DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def validate_stack_name(name: str) -> str:
    """Refuse, before any AWS call, a name that would make the uploads bucket name invalid."""
    if len(name) > MAX_STACK_NAME or not _STACK_NAME.fullmatch(name):
        raise DeployError(
            f"invalid stack name '{name}': use lowercase letters, digits and hyphens, "
            f"start with a letter, at most {MAX_STACK_NAME} characters"
        )
    if name.startswith(_RESERVED_PREFIXES):
        raise DeployError(
            f"invalid stack name '{name}': it must not start with "
            + " or ".join(_RESERVED_PREFIXES)
        )
    return name


def describe_stack(cfn: BaseClient, stack: str) -> dict[str, Any] | None:
    """The stack's description by name or id, or None when there is no such stack."""
    with aws_errors():
        try:
            return cfn.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as error:
            if "does not exist" in error.response.get("Error", {}).get("Message", ""):
                return None
            raise


def existing_stack(cfn: BaseClient, stack_name: str) -> dict[str, Any]:
    """The stack's description; a missing stack is a DeployError that says what to run."""
    stack = describe_stack(cfn, stack_name)
    if stack is None:
        raise DeployError(f"stack {stack_name} does not exist: run ingest deploy")
    return stack


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def stack_outputs(cfn: BaseClient, stack_name: str) -> dict[str, str]:
    """OutputKey -> OutputValue, what later commands need to find the resources."""
    return _outputs(existing_stack(cfn, stack_name))


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str
    physical_id: str

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")

    @classmethod
    def from_api(cls, event: dict[str, Any]) -> StackEvent:
        return cls(
            event_id=event["EventId"],
            timestamp=event["Timestamp"],
            logical_id=event.get("LogicalResourceId", ""),
            resource_type=event.get("ResourceType", ""),
            status=event.get("ResourceStatus", ""),
            reason=event.get("ResourceStatusReason", ""),
            physical_id=event.get("PhysicalResourceId", ""),
        )


@dataclass(frozen=True)
class ResourceFailure:
    logical_id: str
    resource_type: str
    status: str
    reason: str

    @classmethod
    def of(cls, event: StackEvent) -> ResourceFailure:
        return cls(event.logical_id, event.resource_type, event.status, event.reason)


class StackOperationFailed(DeployError):
    """A deploy or destroy that CloudFormation could not finish, with each failure's reason."""

    def __init__(self, stack_name: str, status: str, failures: list[ResourceFailure]) -> None:
        self.stack_name = stack_name
        self.status = status
        self.failures = tuple(failures)
        lines = [f"stack {stack_name} ended in {status}"]
        lines += [f"  {f.logical_id} ({f.resource_type}) {f.status}: {f.reason}" for f in failures]
        super().__init__("\n".join(lines))


def latest_event_id(cfn: BaseClient, stack_id: str) -> str | None:
    """The newest event so far: following starts after it, so old events are not replayed."""
    with aws_errors():
        events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    return events[0]["EventId"] if events else None


def _new_events(cfn: BaseClient, stack_id: str, seen: set[str]) -> list[StackEvent]:
    """Events not seen yet, oldest first; pages come newest first, so stop at a seen one."""
    fresh: list[StackEvent] = []
    with aws_errors():
        for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
            for event in page["StackEvents"]:
                if event["EventId"] in seen:
                    return fresh[::-1]
                fresh.append(StackEvent.from_api(event))
    return fresh[::-1]


def follow_stack(
    cfn: BaseClient,
    stack_id: str,
    succeeded: str,
    after_event_id: str | None,
    *,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StackEvent]:
    """Yield the stack's new events live until it settles; raise unless it ends in `succeeded`.

    Follows by stack id, which still answers once the stack is deleted. The status is read
    before the events, so the events that led to the final status are always yielded.
    """
    seen = {after_event_id} if after_event_id else set()
    failures: list[ResourceFailure] = []
    while True:
        stack = describe_stack(cfn, stack_id)
        if stack is None:
            raise DeployError(f"stack {stack_id} disappeared while it was being followed")
        for event in _new_events(cfn, stack_id, seen):
            seen.add(event.event_id)
            if event.failed:
                failures.append(ResourceFailure.of(event))
            yield event
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        sleep(poll_seconds)
    if status != succeeded:
        # Emulators without per-resource events: the stack's own reason is all there is.
        failures = failures or [
            ResourceFailure(
                stack["StackName"],
                "AWS::CloudFormation::Stack",
                status,
                stack.get("StackStatusReason", "no reason given"),
            )
        ]
        raise StackOperationFailed(stack["StackName"], status, failures)


@dataclass(frozen=True)
class QueueDepth:
    name: str  # "queue" or "dead-letter queue"
    url: str
    visible: int  # waiting to be received
    in_flight: int  # received, not yet deleted
    delayed: int


@dataclass(frozen=True)
class StackStatus:
    name: str
    status: str
    reason: str | None
    last_updated: datetime
    outputs: dict[str, str]
    queues: tuple[QueueDepth, ...]


def queue_depth(sqs: BaseClient, name: str, url: str) -> QueueDepth:
    with aws_errors():
        answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_DEPTH_ATTRIBUTES))
    visible, in_flight, delayed = (int(answer["Attributes"].get(k, 0)) for k in _DEPTH_ATTRIBUTES)
    return QueueDepth(name, url, visible, in_flight, delayed)


def read_status(cfn: BaseClient, sqs: BaseClient, stack_name: str) -> StackStatus:
    """What `ingest status` shows: the stack's state, its outputs, and both queues' depths."""
    stack = existing_stack(cfn, validate_stack_name(stack_name))
    outputs = _outputs(stack)
    return StackStatus(
        name=stack_name,
        status=stack["StackStatus"],
        reason=stack.get("StackStatusReason"),
        last_updated=stack.get("LastUpdatedTime", stack["CreationTime"]),
        outputs=outputs,
        queues=tuple(
            queue_depth(sqs, name, outputs[key])
            for key, name in QUEUE_OUTPUTS.items()
            if key in outputs
        ),
    )


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    resource_type: str
    physical_id: str


@dataclass(frozen=True)
class KeptResource:
    """A resource the stack retains on delete, and the commands that remove it by hand."""

    resource: StackResource
    commands: tuple[str, ...]


@dataclass(frozen=True)
class DestroyPlan:
    stack_name: str
    stack_id: str
    deleted: tuple[StackResource, ...]
    kept: tuple[KeptResource, ...]


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


def plan_destroy(cfn: BaseClient, stack_name: str) -> DestroyPlan:
    """What delete_stack removes and what it keeps, from the deployed template's policies."""
    stack = existing_stack(cfn, validate_stack_name(stack_name))
    status = stack["StackStatus"]
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack_name} is busy ({status}): wait for it to settle")
    with aws_errors():
        body = cfn.get_template(StackName=stack["StackId"])["TemplateBody"]
        listed = cfn.describe_stack_resources(StackName=stack["StackId"])["StackResources"]
    retained = Template.parse(body if isinstance(body, str) else json.dumps(body)).retained
    # Emulators list resources they skipped without ids; those are not there to delete.
    resources = [
        StackResource(r["LogicalResourceId"], r["ResourceType"], r.get("PhysicalResourceId", ""))
        for r in listed
        if r.get("LogicalResourceId")
    ]
    return DestroyPlan(
        stack_name=stack_name,
        stack_id=stack["StackId"],
        deleted=tuple(r for r in resources if r.logical_id not in retained),
        kept=tuple(
            KeptResource(r, removal_commands(r, cfn.meta.region_name))
            for r in resources
            if r.logical_id in retained and r.physical_id
        ),
    )


def destroy(
    cfn: BaseClient,
    plan: DestroyPlan,
    *,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StackEvent]:
    """Delete the stack when iterated, yielding its events until DELETE_COMPLETE."""
    after = latest_event_id(cfn, plan.stack_id)
    with aws_errors():
        cfn.delete_stack(StackName=plan.stack_id)
    yield from follow_stack(
        cfn, plan.stack_id, "DELETE_COMPLETE", after, poll_seconds=poll_seconds, sleep=sleep
    )
