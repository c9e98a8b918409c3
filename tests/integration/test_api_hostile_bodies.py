"""The provider API in-process on moto, sent request bodies built to break its JSON parser:
nesting deeper than Python's recursion limit, each body under the API's 16 KB limit."""

from __future__ import annotations

from typing import Any

import pytest

from support.api_calls import api_stack, call


@pytest.fixture
def stack(clients) -> dict[str, Any]:
    return api_stack(clients)


@pytest.mark.parametrize(
    "body",
    ["[" * 15_000, "{" * 15_000, '{"a":' * 3_000, "[" * 8_000 + "]" * 8_000],
    ids=["open-arrays", "open-objects", "nested-objects", "closed-arrays"],
)
def test_deeply_nested_json_is_refused_as_invalid_json_not_a_500(stack, body: str) -> None:
    status, answer, _ = call(stack["api"], "POST", "/uploads", stack["alpha"], body=body)
    assert (status, answer["error"]["code"]) == (400, "invalid_json")
    assert stack["ledger"].recent("alpha", 10) == []
