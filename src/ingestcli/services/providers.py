"""The provider registry, operator side: add, list, revoke, rotate.

Item (providers table, key providerId): status ("active" | "revoked"), time_zone (optional
IANA name, for date_times written without an offset), token_sha256, created_at, updated_at.
The table keeps only the SHA-256 of a token: the token itself is returned once, by add or
rotate, and the API compares hashes. Every write is conditional, so an unknown id is an
error that names it rather than a new half-made item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ingestcli.core import tokens
from ingestcli.core.aws_errors import is_condition_failure
from ingestcli.core.date_time import resolve_time_zone
from ingestcli.core.items import flatten
from ingestcli.core.layout import PROVIDER_ID, PROVIDER_ID_RULE
from ingestcli.core.providers_table import ACTIVE, REVOKED, read_provider
from ingestcli.errors import UsageError
from ingestcli.services.session import aws_errors

# What leaves the table: never token_sha256.
_SHOWN = ("providerId", "status", "time_zone", "created_at", "updated_at")


class ProviderExists(UsageError):
    """`provider add` of an id that is already registered (active or revoked)."""


class UnknownProvider(UsageError):
    """A provider id that is not registered."""


class ProviderRevoked(UsageError):
    """A revoked provider stays revoked: rotating must not give it access again."""


@dataclass(frozen=True)
class Provider:
    provider_id: str
    status: str
    time_zone: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Provider:
        value = flatten(item)
        return cls(
            provider_id=str(value["providerId"]),
            status=value.get("status", ""),
            time_zone=value.get("time_zone"),
            created_at=value.get("created_at", ""),
            updated_at=value.get("updated_at", ""),
        )


CANARY_PREFIX = "ingest-canary-"  # reserved: the ids `ingest check` adds and cleans up


def check_provider_id(provider_id: str, option: str | None = None) -> str:
    """The id as given, or a UsageError that states the rule S3 keys are read by (and names
    the `option` the id came from, if any)."""
    if not PROVIDER_ID.fullmatch(provider_id):
        where = f"{option}: " if option else ""
        raise UsageError(f"{where}invalid provider id {provider_id[:80]!r}: {PROVIDER_ID_RULE}")
    return provider_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ProviderRegistry:
    """The providers table, through an injected boto3 DynamoDB client."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table

    def add(
        self, provider_id: str, time_zone: str | None = None, *, canary: bool = False
    ) -> tuple[Provider, str]:
        """Register a provider; returns it and its token, which is never shown again. Ids
        that start with CANARY_PREFIX are `ingest check`'s (`canary`), never a provider's,
        so its clean-up can never delete a real provider's data."""
        check_provider_id(provider_id)
        if provider_id.startswith(CANARY_PREFIX) != canary:
            raise UsageError(
                f"provider ids starting with {CANARY_PREFIX!r} are reserved for `ingest check`"
                if not canary
                else f"a canary's id starts with {CANARY_PREFIX!r}"
            )
        if time_zone is not None:
            try:
                resolve_time_zone(time_zone)
            except ValueError as error:
                raise UsageError(str(error)) from None
        token, now = tokens.new_token(provider_id), _now()
        item = {
            "providerId": {"S": provider_id},
            "status": {"S": ACTIVE},
            "token_sha256": {"S": tokens.token_hash(token)},
            "created_at": {"S": now},
            "updated_at": {"S": now},
        }
        if time_zone is not None:
            item["time_zone"] = {"S": time_zone}
        with aws_errors():
            try:
                self.dynamodb.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(providerId)",
                )
            except ClientError as error:
                if is_condition_failure(error):
                    raise ProviderExists(
                        f"provider '{provider_id}' already exists: "
                        f"`ingest provider rotate {provider_id}` gives it a new token"
                    ) from None
                raise
        return Provider.from_item(item), token

    def require(self, provider_id: str) -> None:
        """Raise UnknownProvider, naming the id, unless the provider is registered: checked
        before an operator is asked to confirm anything about it."""
        check_provider_id(provider_id)
        with aws_errors():
            found = read_provider(self.dynamodb, self.table, provider_id, "providerId")
        if found is None:
            raise _unknown(provider_id)

    def list_providers(self) -> list[Provider]:
        """Every provider, by id. A Scan: the table holds one small item per provider."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(_SHOWN))),
            "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(_SHOWN)},
        }
        found: list[Provider] = []
        with aws_errors():
            while True:
                answer = self.dynamodb.scan(**request)
                found.extend(Provider.from_item(item) for item in answer.get("Items", []))
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return sorted(found, key=lambda provider: provider.provider_id)

    def revoke(self, provider_id: str) -> Provider:
        """Stop the provider's token at once (the API and the ingest Lambda read status)."""
        return self._update(
            provider_id, "SET #s = :revoked, updated_at = :now", {":revoked": {"S": REVOKED}}
        )

    def rotate(self, provider_id: str) -> str:
        """A new token for an active provider; the old one stops working at once."""
        token = tokens.new_token(check_provider_id(provider_id))
        self._update(
            provider_id,
            "SET token_sha256 = :hash, updated_at = :now",
            {":hash": {"S": tokens.token_hash(token)}, ":active": {"S": ACTIVE}},
            condition="#s = :active",
        )
        return token

    def _update(
        self, provider_id: str, expression: str, values: dict[str, Any], condition: str = ""
    ) -> Provider:
        check_provider_id(provider_id)
        with aws_errors():
            try:
                answer = self.dynamodb.update_item(
                    TableName=self.table,
                    Key={"providerId": {"S": provider_id}},
                    UpdateExpression=expression,
                    ConditionExpression=" AND ".join(
                        filter(None, ["attribute_exists(providerId)", condition])
                    ),
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=values | {":now": {"S": _now()}},
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                if "Item" not in error.response:
                    raise _unknown(provider_id) from None
                raise ProviderRevoked(
                    f"provider '{provider_id}' is revoked: a revoked provider gets no new token"
                ) from None
        return Provider.from_item(answer["Attributes"])


def _unknown(provider_id: str) -> UnknownProvider:
    return UnknownProvider(f"no provider '{provider_id}': `ingest provider list` shows them")
