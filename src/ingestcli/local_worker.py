"""The local stack's stand-in for Lambda's SQS event source mapping.

moto runs no Lambda code without Docker, so this worker plays the mapping's part for the
ingest handler: it long-polls the queue, hands the handler a real SQS event batch with a
context whose remaining time counts down from the function's timeout, deletes the
messages the handler did not list in `batchItemFailures`, and leaves the failed ones to
come back. A message stays invisible for the function's timeout while it is processed, as
AWS requires of the queue; a failed one is made visible again after `retry_after` seconds
(AWS waits out the whole visibility timeout; locally that would make a retry take minutes).
moto's queue applies the redrive policy, so a message received maxReceiveCount times goes
to the dead-letter queue as on AWS.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class FunctionContext:
    """The part of a Lambda context the handlers use: time left before the timeout."""

    def __init__(self, timeout_seconds: float, request_id: str = "local") -> None:
        self._deadline = time.monotonic() + timeout_seconds
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Received messages as the event source mapping gives them to a function."""
    records = []
    for message in messages:
        body = message["Body"]
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": body,
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


class QueueWorker:
    """Polls one queue and runs one handler on its messages, until stopped."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = 1,
        timeout_seconds: float = 300,
        retry_after: int = 1,
        wait_seconds: int = 1,
    ) -> None:
        self.sqs, self.queue_url, self.handler = sqs, queue_url, handler
        self.batch_size, self.timeout_seconds = batch_size, timeout_seconds
        self.retry_after, self.wait_seconds = retry_after, wait_seconds
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self.region = self.queue_arn.split(":")[3]
        self.batches = self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """One receive and, if it brought messages, one invocation; how many it brought."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            VisibilityTimeout=int(self.timeout_seconds),
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        context = FunctionContext(self.timeout_seconds)
        try:
            answer = self.handler(sqs_event(messages, self.queue_arn, self.region), context)
            failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        except Exception:  # the whole invocation failed: every message comes back
            failed = {message["MessageId"] for message in messages}
        self.batches += 1
        self.failures += len(failed)
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]}
                    for n, message in enumerate(done)
                ],
            )
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_after,
                )
        return len(messages)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # the queue itself failed (moto stopping): wait, try again
                self._stop.wait(1)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="queue-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 5)
