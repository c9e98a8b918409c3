"""DynamoDB's low-level attribute values, as the code reads and writes them: strings and
whole numbers only (records hold every CSV value as a string, so nothing else is stored)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

Item = dict[str, dict[str, str]]


def flatten(item: dict[str, Any], *, leave_out: Collection[str] = ()) -> dict[str, str | int]:
    """A low-level item as plain values: numbers as int, strings as stored."""
    return {
        name: int(value["N"]) if "N" in value else value.get("S", "")
        for name, value in item.items()
        if name not in leave_out
    }


def typed(value: str | int) -> dict[str, str]:
    """The low-level attribute value of a string or a whole number."""
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def query_items(dynamodb: Any, request: dict[str, Any], limit: int | None = None) -> Iterator[Item]:
    """The items of a Query, page by page as they are used, at most `limit` of them (the
    last page asks for no more than are still wanted)."""
    request = dict(request)
    left = limit
    while left is None or left > 0:
        answer = dynamodb.query(**request, **({} if left is None else {"Limit": left}))
        items = answer.get("Items", [])
        yield from items
        if left is not None:
            left -= len(items)
        if "LastEvaluatedKey" not in answer:
            return
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
