"""The provider API in-process: function-URL events in, responses out, and what a request
declares about a file."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ingestcli.core.ledger import UploadLedger
from ingestcli.lambdas.api.routes import Api, Settings
from ingestcli.services.providers import ProviderRegistry
from support.names import BUCKET, PROVIDERS, UPLOADS
from support.template import make_table

SIGNER = "arn:aws:iam::123456789012:role/ingest-test-UploadSignerRole"
SETTINGS = Settings(PROVIDERS, UPLOADS, BUCKET, SIGNER, url_expiry_seconds=300)
CSV = b"medical_record_number,date_time\r\nA1,2024-03-01T14:30:00Z\r\n"


class RecordingSts:
    """The STS client, keeping each AssumeRole request and the credentials it returned."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, []

    def assume_role(self, **request: Any) -> dict[str, Any]:
        answer = self.real.assume_role(**request)
        self.calls.append((request, answer["Credentials"]))
        return answer


def event(method: str, path: str, token: str | None = None, **parts: Any) -> dict[str, Any]:
    headers = {"content-type": "application/json"} | parts.pop("headers", {})
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body = parts.pop("body", None)
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": parts.pop("query", ""),
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": path}},
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": parts.pop("base64", False),
    }


def call(api: Api, *args: Any, **kwargs: Any) -> tuple[int, Any, dict[str, Any]]:
    response = api.handler(event(*args, **kwargs), None)
    assert response["headers"]["content-type"] == "application/json"
    return response["statusCode"], json.loads(response["body"]), response


def declare(data: bytes = CSV, filename: str = "visits.csv", **changes: Any) -> dict[str, Any]:
    declared = {"filename": filename, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return declared | changes


def altered(token: str) -> str:
    """The token with its last character changed: same shape, wrong secret."""
    return token[:-1] + ("B" if token[-1] != "B" else "C")


def api_stack(clients: Any) -> dict[str, Any]:
    """Tables, bucket and two providers (alpha, and bravo in Europe/Paris) on moto; the API
    under test with a recording STS client."""
    make_table(clients.dynamodb, PROVIDERS, "ProvidersTable")
    make_table(clients.dynamodb, UPLOADS, "UploadsTable")
    clients.s3.create_bucket(Bucket=BUCKET)
    registry = ProviderRegistry(clients.dynamodb, PROVIDERS)
    sts = RecordingSts(clients.sts)
    return {
        "api": Api(clients.s3, clients.dynamodb, sts, SETTINGS),
        "sts": sts,
        "registry": registry,
        "alpha": registry.add("alpha")[1],
        "bravo": registry.add("bravo", "Europe/Paris")[1],
        "ledger": UploadLedger(clients.dynamodb, UPLOADS),
    }
