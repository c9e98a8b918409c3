"""CloudFormation answers as botocore's Stubber needs them, for offline tests of the deploy
and destroy code: the stack's id and one stack event."""

from __future__ import annotations

from datetime import UTC, datetime

from support.names import REGION, STACK

STACK_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/0f00"


def stack_event(event_id: str, status: str, logical_id: str = STACK, reason: str = "") -> dict:
    kind = "AWS::CloudFormation::Stack" if logical_id == STACK else "AWS::SQS::Queue"
    return {
        "StackId": STACK_ID,
        "StackName": STACK,
        "EventId": event_id,
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": datetime(2025, 1, 1, tzinfo=UTC),
    }
