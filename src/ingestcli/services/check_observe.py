"""What `ingest check` looks at once a report failed to come in time: the object in the
bucket, the bucket's notification configuration, and both queues' depths. Reads only; a
read that fails is noted as unknown, never raised, so the verdict still names what it can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestcli.errors import IngestError
from ingestcli.services.check_verdicts import Observations, notification_problem
from ingestcli.services.session import aws_errors


def queue_arn(sqs: Any, queue_url: str) -> str:
    """The queue's ARN, or "" when it cannot be read."""
    try:
        with aws_errors():
            answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return answer["Attributes"]["QueueArn"]
    except IngestError:
        return ""


def depth(sqs: Any, queue_url: str) -> tuple[int | None, int | None]:
    """(waiting, in flight) of a queue, as SQS approximates them; None when unreadable."""
    try:
        with aws_errors():
            answer = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
    except IngestError:
        return None, None
    return (
        int(answer.get("ApproximateNumberOfMessages", 0)),
        int(answer.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


def observe(
    s3: Any,
    sqs: Any,
    outputs: Mapping[str, str],
    key: str,
    *,
    waited: float,
    last_status: str,
    dead_letters_before: int | None,
) -> Observations:
    """What the bucket and queues show about the upload at `key`, to tell why no report came."""
    unknown: list[str] = []
    bucket = outputs["UploadsBucket"]
    exists: bool | None = None
    notification: str | None = None
    try:
        with aws_errors():
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=10)
        exists = any(found["Key"] == key for found in listed.get("Contents", []))
    except IngestError as error:
        unknown.append(str(error))
    try:
        with aws_errors():
            configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
        notification = notification_problem(configuration, queue_arn(sqs, outputs["QueueUrl"]), key)
    except IngestError as error:
        unknown.append(str(error))
    visible, in_flight = depth(sqs, outputs["QueueUrl"])
    return Observations(
        waited=waited,
        last_status=last_status,
        object_exists=exists,
        notification=notification,
        queue_visible=visible,
        queue_in_flight=in_flight,
        dead_letters_before=dead_letters_before,
        dead_letters_after=depth(sqs, outputs["DeadLetterQueueUrl"])[0],
        unknown=tuple(unknown),
    )
