"""The ingest Lambda's resources and the provider API on one moto account, for tests of an
upload's life after its URL is handed out (abandoned, expired, its progress)."""

from __future__ import annotations

import hashlib
from typing import Any

from ingestcli.core.clock import utc_now
from ingestcli.core.ledger import UploadLedger
from ingestcli.lambdas.api.routes import Api
from ingestcli.services.providers import ProviderRegistry
from support.api_calls import SETTINGS, RecordingSts, call, declare
from support.harness import Harness, make_harness
from support.names import BUCKET, PROVIDERS, RECORDS, UPLOADS


def csv_of(rows: int, date_time: str = "2024-03-01T14:{:02d}:00Z") -> bytes:
    lines = ["medical_record_number,date_time"]
    lines += [f"LC{n:04d},{date_time.format(n % 60)}" for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


class World:
    """The ingest Lambda's resources (the harness) and the API over the same moto account,
    with a clock the API reads that a test can move on."""

    def __init__(self, clients: Any) -> None:
        self.clients = clients
        self.env: Harness = make_harness(clients)
        self.registry = ProviderRegistry(clients.dynamodb, PROVIDERS)
        self.alpha = self.registry.add("alpha")[1]
        self.bravo = self.registry.add("bravo")[1]
        self.now = utc_now()
        sts = RecordingSts(clients.sts)
        self.api = Api(clients.s3, clients.dynamodb, sts, SETTINGS, clock=lambda: self.now)
        self.ledger = UploadLedger(clients.dynamodb, UPLOADS)

    def create(self, body: bytes, token: str | None = None) -> dict[str, Any]:
        status, ticket, _ = call(
            self.api, "POST", "/uploads", token or self.alpha, body=declare(body)
        )
        assert status == 201, ticket
        return ticket

    def land(self, key: str, body: bytes) -> None:
        """The file arrives as the presigned PUT would put it."""
        sha256 = hashlib.sha256(body).hexdigest()
        metadata = {"sha256": sha256, "filename": "visits.csv"}
        self.clients.s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata)

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        return call(self.api, "GET", path, token or self.alpha)[:2]

    def abandon(self, upload_id: str, token: str | None = None) -> tuple[int, Any]:
        return call(self.api, "POST", f"/uploads/{upload_id}/abandon", token or self.alpha)[:2]

    def listed(self) -> dict[str, dict[str, Any]]:
        uploads = self.get("/uploads")[1]["uploads"]
        return {upload["upload_id"]: upload for upload in uploads}

    def records_of(self, provider: str) -> list[dict[str, Any]]:
        items = self.clients.dynamodb.scan(TableName=RECORDS)["Items"]
        return [item for item in items if item["providerId"]["S"] == provider]
