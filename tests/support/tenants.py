"""Two tenants, alpha and bravo, sharing one stack on moto behind the in-process API: each
has a finished upload with a report (and a rejects file) and a pending upload. Reports carry
a marker string of their owner, so a body showing another tenant's report is caught."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ingestcli.core.ledger import UploadLedger
from ingestcli.lambdas.api.routes import Api
from ingestcli.services.providers import ProviderRegistry
from support.api_calls import SETTINGS, RecordingSts, call, declare
from support.names import BUCKET, PROVIDERS, UPLOADS
from support.template import make_table

NAMES = ("alpha", "bravo")


@dataclass
class Tenant:
    name: str
    token: str
    finished: str  # an upload with a report
    pending: str  # an upload still waiting for its file
    uploads: set[str] = field(default_factory=set)  # every upload of the tenant, these two too

    @property
    def secret(self) -> str:
        return self.token.rsplit(".", 1)[1]

    @property
    def marker(self) -> str:
        return f"report-of-{self.name}-only"


@dataclass
class World:
    api: Api
    sts: RecordingSts
    registry: ProviderRegistry
    ledger: UploadLedger
    clients: Any
    tenants: dict[str, Tenant] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Tenant:
        return self.tenants[name]

    def stored_uploads(self) -> list[tuple[str, str]]:
        items = self.clients.dynamodb.scan(TableName=UPLOADS, ConsistentRead=True)["Items"]
        return sorted((item["providerId"]["S"], item["uploadId"]["S"]) for item in items)


def make_world(clients: Any) -> World:
    """Tables, bucket, two providers with two uploads each; one of each has its report."""
    make_table(clients.dynamodb, PROVIDERS, "ProvidersTable")
    make_table(clients.dynamodb, UPLOADS, "UploadsTable")
    clients.s3.create_bucket(Bucket=BUCKET)
    registry = ProviderRegistry(clients.dynamodb, PROVIDERS)
    sts = RecordingSts(clients.sts)
    api = Api(clients.s3, clients.dynamodb, sts, SETTINGS)
    world = World(api, sts, registry, UploadLedger(clients.dynamodb, UPLOADS), clients)
    for name in NAMES:
        token = registry.add(name)[1]
        made = []
        for filename in ("done.csv", "waiting.csv"):
            status, body, _ = call(api, "POST", "/uploads", token, body=declare(filename=filename))
            assert status == 201, body
            made.append(body["upload_id"])
        tenant = world.tenants[name] = Tenant(name, token, *made, uploads=set(made))
        report = {
            "upload_id": tenant.finished,
            "provider": name,
            "status": "partial",
            "rows": 2,
            "written": 1,
            "rejected": 1,
            "duplicates": 0,
            "errors": [{"line": 3, "column": "note", "code": "x", "message": tenant.marker}],
        }
        world.ledger.finish(
            name, tenant.finished, None, report | {"finished_at": "2026-01-01T00:00:00Z"}
        )
        clients.s3.put_object(
            Bucket=BUCKET,
            Key=f"{name}/reports/{tenant.finished}.json",
            Body=json.dumps(report).encode(),
        )
        clients.s3.put_object(
            Bucket=BUCKET, Key=f"{name}/rejects/{tenant.finished}.csv", Body=tenant.marker.encode()
        )
    sts.calls.clear()
    return world
