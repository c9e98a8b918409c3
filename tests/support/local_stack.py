"""A local stack (moto in a process of its own, the API on loopback) seen as the provider,
support and the operator see it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ingestcli.core.status import FINISHED
from ingestcli.local.stack import LocalStack, session
from ingestcli.services.api_client import ApiClient
from ingestcli.services.providers import ProviderRegistry
from ingestcli.services.upload import upload, wait_for_report

# Seconds: the longest any one upload may take before the test gives up on it.
REPORT_TIMEOUT = 90.0


class Stack:
    """A local stack, seen as the provider, support and the operator see it."""

    def __init__(self, local: LocalStack) -> None:
        self.local = local
        boto = session()
        self.s3 = boto.client("s3", endpoint_url=local.endpoint)
        self.sqs = boto.client("sqs", endpoint_url=local.endpoint)
        self.dynamodb = boto.client("dynamodb", endpoint_url=local.endpoint)
        self.outputs = local.outputs
        self.bucket = local.outputs["UploadsBucket"]
        self.registry = ProviderRegistry(self.dynamodb, local.outputs["ProvidersTable"])
        self.tokens: dict[str, str] = {}

    # ---- the provider

    def client(self, provider: str) -> ApiClient:
        if provider not in self.tokens:
            self.tokens[provider] = self.registry.add(provider)[1]
        return ApiClient(self.local.api_url, self.tokens[provider])

    def send(self, provider: str, body: bytes, folder: Path) -> str:
        """Upload `body` as `provider` through the API and a presigned PUT: its upload id."""
        path = folder / f"{provider}.csv"
        path.write_bytes(body)
        return upload(self.client(provider), str(path))["upload_id"]

    def report(self, provider: str, upload_id: str) -> dict[str, Any]:
        """The report, as `ingest upload --wait` gets it from the API."""
        return wait_for_report(
            self.client(provider), upload_id, timeout=REPORT_TIMEOUT, poll=0.2, max_poll=1.0
        )

    # ---- what is in the stack

    def items(self, provider: str) -> list[dict[str, str]]:
        """Every item of the provider's partition (a Query), as plain strings, in key order."""
        found: list[dict[str, str]] = []
        request: dict[str, Any] = {
            "TableName": self.outputs["RecordsTable"],
            "KeyConditionExpression": "providerId = :p",
            "ExpressionAttributeValues": {":p": {"S": provider}},
            "ConsistentRead": True,
        }
        while True:
            answer = self.dynamodb.query(**request)
            found += [
                {name: str(next(iter(value.values()))) for name, value in item.items()}
                for item in answer["Items"]
            ]
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def count(self, provider: str) -> int:
        request: dict[str, Any] = {
            "TableName": self.outputs["RecordsTable"],
            "KeyConditionExpression": "providerId = :p",
            "ExpressionAttributeValues": {":p": {"S": provider}},
            "Select": "COUNT",
        }
        total = 0
        while True:
            answer = self.dynamodb.query(**request)
            total += answer["Count"]
            if "LastEvaluatedKey" not in answer:
                return total
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def ledger(self, provider: str, upload_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.outputs["UploadsTable"],
            Key={"providerId": {"S": provider}, "uploadId": {"S": upload_id}},
            ConsistentRead=True,
        ).get("Item", {})
        return {name: value.get("S", value.get("N")) for name, value in item.items()}

    def keys(self, prefix: str) -> list[str]:
        answer = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(found["Key"] for found in answer.get("Contents", []))

    def read(self, key: str) -> bytes | None:
        if key not in self.keys(key):
            return None
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def depth(self, queue: str) -> int:
        """Messages in a queue ("QueueUrl" or "DeadLetterQueueUrl"), visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.outputs[queue],
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def settled(self, provider: str, upload_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the upload is finished in the uploads table and the queue is empty."""
        deadline = time.monotonic() + timeout
        while True:
            entry = self.ledger(provider, upload_id)
            if entry.get("status") in FINISHED and self.depth("QueueUrl") == 0:
                return entry
            assert time.monotonic() < deadline, f"not settled: {entry}, {self.depth('QueueUrl')}"
            time.sleep(0.1)
