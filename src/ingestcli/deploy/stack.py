"""The stack as CloudFormation sees it: its name rule, its state and outputs, its events.

Shared by deploy, destroy, status and every command that finds a resource by a stack
output. Nothing here prints and nothing builds a client: functions take a CloudFormation
client, return data or yield events, and the CLI (cli/stack.py) renders them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from ingestcli.errors import ConfigError, DeployError
from ingestcli.services.session import aws_errors

if TYPE_CHECKING:
    from botocore.client import BaseClient

# The uploads bucket is named <stack>-uploads-<12-digit account>-<region>, and a bucket name
# has at most 63 characters: 63 - len("-uploads-") - 12 - len("-") - 14 (longest region).
MAX_STACK_NAME = 27
_STACK_NAME = re.compile(r"[a-z][a-z0-9-]*")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")  # refused by S3 in bucket names
# Hosts of AWS's own endpoints: any other endpoint (a local moto, a proxy) was set on purpose.
_AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
_SHOWN_CHARS = 200  # of a stack name or an endpoint URL, both of which a config file can set


class StackNotFound(DeployError):
    """No stack of that name where the client looked: the message names the stack, the
    region and (when it is not AWS's own) the endpoint, the usual causes of a wrong guess."""

    def __init__(self, stack_name: str, region: str | None, endpoint_url: str | None) -> None:
        self.stack_name, self.region, self.endpoint_url = stack_name, region, endpoint_url
        where = f"in region {region}" if region else "in the default region"
        if endpoint_url:
            where += f" (endpoint {endpoint_url[:_SHOWN_CHARS]})"
        super().__init__(
            f"stack {stack_name[:_SHOWN_CHARS]} does not exist {where}: check --region and "
            "--stack-name, or create it with `ingest deploy`"
        )

    @classmethod
    def seen_by(cls, cfn: BaseClient, stack_name: str) -> StackNotFound:
        """The stack as missing where `cfn` looked: its region, and its endpoint if custom."""
        endpoint = cfn.meta.endpoint_url or None
        host = (urlsplit(endpoint).hostname or "") if endpoint else ""
        custom = endpoint if endpoint and not host.endswith(_AWS_HOSTS) else None
        return cls(stack_name, cfn.meta.region_name, custom)


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
    """The stack's description; a missing stack is StackNotFound, which says where it looked
    (a stack in another region is the usual surprise) and what to do."""
    stack = describe_stack(cfn, stack_name)
    if stack is None:
        raise StackNotFound.seen_by(cfn, stack_name)
    return stack


def outputs_of(stack: dict[str, Any]) -> dict[str, str]:
    """OutputKey -> OutputValue of a stack description."""
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def stack_outputs(cfn: BaseClient, stack_name: str) -> dict[str, str]:
    """OutputKey -> OutputValue, what later commands need to find the resources."""
    return outputs_of(existing_stack(cfn, stack_name))


def output_value(
    name: str,
    *,
    saved: Mapping[str, str],
    stack_name: str,
    cfn: Callable[[], BaseClient],
) -> str:
    """One output: from the outputs saved by the last deploy, or else from the stack itself.

    The stack is asked only when the saved outputs lack the name (a support engineer never
    deployed from their machine), so `cfn` makes the client when it is needed, not before.
    """
    outputs = dict(saved)
    if name not in outputs:
        client = cfn()
        with aws_errors():
            outputs = stack_outputs(client, stack_name)
    if name not in outputs:
        raise ConfigError(
            f"stack {stack_name} has no output {name}: run `ingest deploy` to update it"
        )
    return outputs[name]


@dataclass(frozen=True)
class StackEvent:
    """One line of the stack's history, as deploy and destroy print it while they follow."""

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
    """A resource CloudFormation could not create, update or delete, and the reason it gave."""

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
