"""The provider registry and upload tokens, on moto's DynamoDB.

The providers table is keyed as infra/cloudformation/ingest.yaml keys it. What matters to a
user: a token is shown once and only its hash is kept; revoke and rotate take effect at
once; an unknown or malformed id is an error that names it. (The tokens themselves, their
shape and how one is checked against its hash: tests/unit/test_tokens.py.)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from ingestcli.core import tokens
from ingestcli.errors import UsageError
from ingestcli.services.providers import (
    Provider,
    ProviderExists,
    ProviderRegistry,
    ProviderRevoked,
    UnknownProvider,
)
from support.template import make_table

PROVIDERS = "ingest-test-providers"


@pytest.fixture
def registry(clients) -> ProviderRegistry:
    return ProviderRegistry(
        clients.dynamodb, make_table(clients.dynamodb, PROVIDERS, "ProvidersTable")
    )


def raw_items(clients) -> list[dict[str, Any]]:
    return clients.dynamodb.scan(TableName=PROVIDERS, ConsistentRead=True)["Items"]


# --------------------------------------------------------------------------- registry


def test_add_returns_the_token_once_and_keeps_only_its_hash(registry, clients) -> None:
    provider, token = registry.add("acme", "America/New_York")
    assert provider == Provider(
        "acme", "active", "America/New_York", provider.created_at, provider.created_at
    )
    assert provider.created_at.endswith("Z")
    assert tokens.provider_of(token) == "acme"
    [item] = raw_items(clients)
    assert token not in json.dumps(item)
    assert token.split(".")[-1] not in json.dumps(item)
    # The ingest Lambda reads these two as plain strings.
    assert item["status"] == {"S": "active"}
    assert item["time_zone"] == {"S": "America/New_York"}
    assert item["token_sha256"] == {"S": hashlib.sha256(token.encode()).hexdigest()}
    assert set(item) == {
        "providerId",
        "status",
        "time_zone",
        "token_sha256",
        "created_at",
        "updated_at",
    }


def test_a_provider_without_time_zone_has_no_time_zone_attribute(registry, clients) -> None:
    provider, _ = registry.add("clinic-7")
    assert provider.time_zone is None
    assert "time_zone" not in raw_items(clients)[0]


def test_add_refuses_an_existing_id_and_keeps_its_token(registry, clients) -> None:
    _, token = registry.add("acme")
    before = raw_items(clients)
    with pytest.raises(ProviderExists, match="'acme' already exists"):
        registry.add("acme", "Europe/Paris")
    assert raw_items(clients) == before
    assert tokens.matches(token, before[0]["token_sha256"]["S"])
    registry.revoke("acme")
    with pytest.raises(ProviderExists):
        registry.add("acme")  # a revoked id is not reissued either


BAD_IDS = [
    "",
    "ab",
    "A-clinic",
    "-acme",
    "acme-",
    "ac_me",
    "ac.me",
    "ac/me",
    "x" * 64,
    "acmé",
    " acme",
]


def test_bad_ids_are_refused_everywhere(registry, clients) -> None:
    for provider_id in BAD_IDS:
        for attempt in (registry.add, registry.revoke, registry.rotate):
            with pytest.raises(UsageError, match="invalid provider id"):
                attempt(provider_id)
    assert raw_items(clients) == []


def test_add_refuses_a_time_zone_that_is_not_an_iana_name(registry, clients) -> None:
    for zone in ("Mars/Olympus_Mons", "EST5EDT,M3.2.0,M11.1.0", "../etc", ""):
        with pytest.raises(UsageError, match="time zone"):
            registry.add("acme", zone)
    assert raw_items(clients) == []


def test_list_shows_every_provider_by_id_without_hashes(registry, clients) -> None:
    names = [f"clinic-{n:02d}" for n in range(7)]
    for name in reversed(names):
        registry.add(name)
    registry.revoke("clinic-03")

    class SmallPages:
        """Scans return two items a page, so listing must follow LastEvaluatedKey."""

        def __init__(self, real: Any) -> None:
            self.real, self.pages = real, 0

        def scan(self, **request: Any) -> dict[str, Any]:
            self.pages += 1
            return self.real.scan(**request, Limit=2)

    paged = SmallPages(clients.dynamodb)
    listed = ProviderRegistry(paged, PROVIDERS).list_providers()
    assert [provider.provider_id for provider in listed] == names
    assert [provider.status for provider in listed].count("revoked") == 1
    assert paged.pages >= 4
    assert all(not hasattr(provider, "token_sha256") for provider in listed)


def test_revoke_marks_the_provider_revoked_and_is_idempotent(registry, clients) -> None:
    registry.add("acme")
    revoked = registry.revoke("acme")
    assert revoked.status == "revoked"
    assert registry.revoke("acme").status == "revoked"
    assert raw_items(clients)[0]["status"] == {"S": "revoked"}


def test_rotate_replaces_the_hash_and_the_old_token_stops(registry, clients) -> None:
    _, old = registry.add("acme")
    new = registry.rotate("acme")
    assert new != old and tokens.provider_of(new) == "acme"
    stored = raw_items(clients)[0]["token_sha256"]["S"]
    assert tokens.matches(new, stored)
    assert not tokens.matches(old, stored)
    assert new not in json.dumps(raw_items(clients))


def test_unknown_providers_are_named_and_nothing_is_created(registry, clients) -> None:
    with pytest.raises(UnknownProvider, match="no provider 'ghost'"):
        registry.revoke("ghost")
    with pytest.raises(UnknownProvider, match="no provider 'ghost'"):
        registry.rotate("ghost")
    assert raw_items(clients) == []


def test_a_revoked_provider_gets_no_new_token(registry, clients) -> None:
    registry.add("acme")
    registry.revoke("acme")
    before = raw_items(clients)
    with pytest.raises(ProviderRevoked, match="'acme' is revoked"):
        registry.rotate("acme")
    assert raw_items(clients) == before


def test_canary_ids_are_reserved_for_ingest_check(registry, clients) -> None:
    """`ingest check` deletes everything under a canary id: no provider may ever hold one."""
    with pytest.raises(UsageError, match="reserved for `ingest check`"):
        registry.add("ingest-canary-abc")
    with pytest.raises(UsageError, match="a canary's id starts with"):
        registry.add("acme", canary=True)
    assert raw_items(clients) == []
    registry.add("ingest-canary-abc", canary=True)
