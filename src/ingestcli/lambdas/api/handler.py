"""The API function's entry point (a Lambda function URL, payload 2.0).

The Api and its clients are made once per execution environment and kept, as Lambda reuses
an environment for many invocations; clients come from boto3's own chain
(AWS_ENDPOINT_URL included).
"""

from __future__ import annotations

import functools
from typing import Any

from ingestcli.lambdas.api.routes import Api, Settings


@functools.cache
def api() -> Api:
    import boto3

    return Api(
        boto3.client("s3"),
        boto3.client("dynamodb"),
        boto3.client("sts"),
        Settings.from_environment(),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api().handler(event, context)
