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

# Connections a client needs beyond one per writer thread: the run's own calls (the lease,
# progress notes, a refused row's GetItem, the S3 stream) and the rejects file's upload,
# which sends two parts at a time (checkpoints.py).
POOL_MARGIN = 4
BOTOCORE_POOL = 10  # botocore's default max_pool_connections


def pool_size(settings: Settings) -> int:
    """Connections each client keeps: with more threads than botocore's default pool of 10
    (WriterThreads goes up to 32), connections beyond it are opened and dropped on every
    call (urllib3's "Connection pool is full"); never fewer than that default."""
    return max(BOTOCORE_POOL, settings.writers + POOL_MARGIN)


@functools.cache
def ingestor() -> Ingestor:
    import boto3
    from botocore.config import Config

    settings = Settings.from_environment()
    config = Config(max_pool_connections=pool_size(settings))
    return Ingestor(
        boto3.client("s3", config=config),
        boto3.client("dynamodb", config=config),
        boto3.client("sqs", config=config),
        settings,
    )


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return ingestor().handle_batch(event, context)
