"""GET /provider on moto: the token's provider and the time zone the ingest Lambda reads its
files in, so `ingest upload` checks a file locally as the server will. (That the ingest
Lambda reads a file in that very zone: tests/integration/test_upload_lifecycle.py.)"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from support.api_calls import altered, api_stack, call


@pytest.fixture
def stack(clients) -> dict[str, Any]:
    return api_stack(clients)


def test_a_provider_learns_its_own_time_zone_or_null(stack) -> None:
    api = stack["api"]
    assert call(api, "GET", "/provider", stack["alpha"])[:2] == (
        200,
        {"provider": "alpha", "timezone": None},
    )
    assert call(api, "GET", "/provider/", stack["bravo"])[:2] == (
        200,
        {"provider": "bravo", "timezone": "Europe/Paris"},
    )


def test_only_a_valid_token_is_told_anything(stack) -> None:
    api = stack["api"]
    for token in (None, altered(stack["alpha"])):
        status, body, _ = call(api, "GET", "/provider", token)
        assert (status, body["error"]["code"]) == (401, "unauthorized")
    stack["registry"].revoke("bravo")
    assert call(api, "GET", "/provider", stack["bravo"])[0] == 401


def test_provider_takes_get_only(stack) -> None:
    status, body, response = call(stack["api"], "POST", "/provider", stack["alpha"], body={})
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")
    assert response["headers"]["allow"] == "GET"
    assert call(stack["api"], "GET", "/provider/x", stack["alpha"])[0] == 404


def test_the_log_line_names_the_route_and_provider_only(stack, caplog) -> None:
    caplog.set_level(logging.INFO, logger="ingest.api")
    call(stack["api"], "GET", "/provider", stack["bravo"])
    [line] = [json.loads(record.getMessage()) for record in caplog.records]
    assert {k: line[k] for k in ("route", "provider", "status")} == {
        "route": "/provider",
        "provider": "bravo",
        "status": 200,
    }
    assert stack["bravo"] not in caplog.text
