"""What `ingest status` reads: the stack's state and outputs, and how deep its queues are.

The depths are what an operator acts on: a growing queue means ingestion falls behind, and
anything in the dead-letter queue is a file that failed again and again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ingestcli.deploy.stack import existing_stack, outputs_of, validate_stack_name
from ingestcli.services.session import aws_errors

if TYPE_CHECKING:
    from botocore.client import BaseClient

QUEUE_OUTPUTS = {"QueueUrl": "queue", "DeadLetterQueueUrl": "dead-letter queue"}
_DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass(frozen=True)
class QueueDepth:
    """One queue's approximate message counts, as SQS reports them."""

    name: str  # "queue" or "dead-letter queue"
    url: str
    visible: int  # waiting to be received
    in_flight: int  # received, not yet deleted
    delayed: int


@dataclass(frozen=True)
class StackStatus:
    """Everything `ingest status` shows; `--format json` prints it field by field."""

    name: str
    status: str
    reason: str | None
    last_updated: datetime
    outputs: dict[str, str]
    queues: tuple[QueueDepth, ...]


def queue_depth(sqs: BaseClient, name: str, url: str) -> QueueDepth:
    """SQS's approximate counts: good enough to see a backlog, not to count messages."""
    with aws_errors():
        answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_DEPTH_ATTRIBUTES))
    visible, in_flight, delayed = (int(answer["Attributes"].get(k, 0)) for k in _DEPTH_ATTRIBUTES)
    return QueueDepth(name, url, visible, in_flight, delayed)


def read_status(cfn: BaseClient, sqs: BaseClient, stack_name: str) -> StackStatus:
    """What `ingest status` shows: the stack's state, its outputs, and both queues' depths."""
    stack = existing_stack(cfn, validate_stack_name(stack_name))
    outputs = outputs_of(stack)
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
