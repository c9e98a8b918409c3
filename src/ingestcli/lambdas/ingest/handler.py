"""The ingest function's entry point (SQS event source mapping, ReportBatchItemFailures).

The Ingestor and its clients are made once per execution environment and kept, as Lambda
reuses an environment for many invocations; clients come from boto3's own chain
(AWS_ENDPOINT_URL included).
"""

from __future__ import annotations

import functools
from typing import Any

from ingestcli.lambdas.ingest.ingestor import Ingestor, LambdaContext
from ingestcli.lambdas.ingest.settings import Settings


@functools.cache
def ingestor() -> Ingestor:
    import boto3

    return Ingestor(
        boto3.client("s3"),
        boto3.client("dynamodb"),
        boto3.client("sqs"),
        Settings.from_environment(),
    )


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return ingestor().handle_batch(event, context)
