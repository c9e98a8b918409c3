"""The provider API in-process on moto, sent request bodies built to break its JSON parser:
nesting deeper than Python's recursion limit, each body under the API's 16 KB limit."""

from __future__ import annotations

from typing import Any

import pytest

from ingestcli.core.ledger import UploadLedger
from ingestcli.lambdas.api.routes import Api
from ingestcli.services.providers import ProviderRegistry
from support.api_calls import SETTINGS, RecordingSts, call
from support.names import BUCKET, PROVIDERS, UPLOADS
from support.template import make_table


@pytest.fixture
def stack(clients) -> dict[str, Any]:
    make_table(clients.dynamodb, PROVIDERS, "ProvidersTable")
    make_table(clients.dynamodb, UPLOADS, "UploadsTable")
    clients.s3.create_bucket(Bucket=BUCKET)
    registry = ProviderRegistry(clients.dynamodb, PROVIDERS)
    return {
        "api": Api(clients.s3, clients.dynamodb, RecordingSts(clients.sts), SETTINGS),
        "alpha": registry.add("alpha")[1],
        "ledger": UploadLedger(clients.dynamodb, UPLOADS),
    }


@pytest.mark.parametrize(
    "body",
    ["[" * 15_000, "{" * 15_000, '{"a":' * 3_000, "[" * 8_000 + "]" * 8_000],
    ids=["open-arrays", "open-objects", "nested-objects", "closed-arrays"],
)
def test_deeply_nested_json_is_refused_as_invalid_json_not_a_500(stack, body: str) -> None:
    status, answer, _ = call(stack["api"], "POST", "/uploads", stack["alpha"], body=body)
    assert (status, answer["error"]["code"]) == (400, "invalid_json")
    assert stack["ledger"].recent("alpha", 10) == []
