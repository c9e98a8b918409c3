"""The providers table, as the server reads it: one item per provider (key providerId)
with its status, optional IANA time zone and the SHA-256 of its current upload token.

The operator side (add, list, revoke, rotate) is services/providers.py; the API checks a
token and the ingest Lambda checks the provider with `read_provider`.
"""

from __future__ import annotations

from typing import Any

from ingestcli.core.items import flatten

ACTIVE, REVOKED = "active", "revoked"


def read_provider(
    dynamodb: Any, table: str, provider_id: str, *attributes: str
) -> dict[str, str | int] | None:
    """The provider's item as plain values (only `attributes`, if named), or None."""
    request: dict[str, Any] = {
        "TableName": table,
        "Key": {"providerId": {"S": provider_id}},
        "ConsistentRead": True,
    }
    if attributes:
        names = {f"#a{index}": name for index, name in enumerate(attributes)}
        request["ProjectionExpression"] = ", ".join(names)
        request["ExpressionAttributeNames"] = names
    item = dynamodb.get_item(**request).get("Item")
    return flatten(item) if item else None
