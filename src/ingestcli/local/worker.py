"""The local stack's stand-in for Lambda's SQS event source mapping.

moto runs no Lambda code without Docker, so this worker plays the mapping's part for the
ingest handler: it long-polls the queue, hands the handler a real SQS event batch with a
context whose remaining time counts down from the function's timeout, deletes the
messages the handler did not list in `batchItemFailures`, and leaves the failed ones to
come back. A received message stays invisible for the queue's own visibility timeout, as
with the event source mapping (the template sets it to 6x the function's timeout, as AWS
advises): a run that dies holding an upload's lease (function timeout + LEASE_GRACE_MS)
has lost it by the time its message comes back, so the redelivery can take the upload
over. The worker reads that timeout when it is made and asks for it on every receive: a
queue made by moto's CloudFormation does not apply its own (it hands a message out again
at once).

A failed message is made visible again after `retry_after` seconds (AWS waits out the
whole visibility timeout; locally that would make a retry take minutes). moto's queue
applies the redrive policy, so a message received maxReceiveCount times goes to the
dead-letter queue as on AWS, at the next receive once it is visible again: one that failed
its last attempt is made visible at once, so it is there by the time its report is read.

`concurrency` threads poll and invoke at once, as Lambda runs up to the mapping's maximum
concurrency of invocations side by side; the default, 1, handles one message at a time.
"""

from __future__ import annotations

import hashlib
import json
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
        visibility_timeout: int | None = None,
        retry_after: int = 1,
        wait_seconds: int = 1,
        concurrency: int = 1,
    ) -> None:
        """`visibility_timeout`: seconds a received message stays hidden; None (the default)
        takes the queue's own setting, as the event source mapping does."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.sqs, self.queue_url, self.handler = sqs, queue_url, handler
        self.batch_size, self.timeout_seconds = batch_size, timeout_seconds
        self.retry_after, self.wait_seconds = retry_after, wait_seconds
        self.concurrency = concurrency
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn", "RedrivePolicy", "VisibilityTimeout"]
        )["Attributes"]
        if visibility_timeout is None:
            visibility_timeout = int(attributes.get("VisibilityTimeout", 30))
        self.visibility_timeout = visibility_timeout
        self.queue_arn = attributes["QueueArn"]
        self.region = self.queue_arn.split(":")[3]
        redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
        self.max_receives: int | None = int(redrive.get("maxReceiveCount") or 0) or None
        self.batches = self.failures = 0
        self._counts = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def poll_once(self) -> int:
        """One receive and, if it brought messages, one invocation; how many it brought."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            VisibilityTimeout=self.visibility_timeout,
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
        with self._counts:
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
                    VisibilityTimeout=0 if self._spent(message) else self.retry_after,
                )
        return len(messages)

    def _spent(self, message: dict[str, Any]) -> bool:
        """Whether the message has had its last receive: the dead-letter queue's next."""
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        return self.max_receives is not None and receives >= self.max_receives

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # the queue itself failed (moto stopping): wait, try again
                self._stop.wait(1)

    def start(self) -> None:
        """Poll in `concurrency` daemon threads until stop()."""
        if self._threads:
            raise RuntimeError("the worker is already running")
        self._threads = [
            threading.Thread(target=self.run, name=f"queue-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop polling; an invocation under way is waited for a few seconds at most."""
        self._stop.set()
        deadline = time.monotonic() + self.wait_seconds + 5
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
