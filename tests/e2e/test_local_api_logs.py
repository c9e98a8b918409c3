"""What the local API server logs of a request's path, over real HTTP on loopback: the route
shape it matches, never a piece of the path itself (a token misplaced there stays out)."""

from __future__ import annotations

import logging
import secrets

import pytest

from ingestcli.local.api_server import ApiServer
from support.http import send
from support.token_leaks import give_away, logged_text


def _answer(event, context) -> dict:
    return {"statusCode": 404}


def _token() -> str:
    secret = secrets.token_urlsafe(32)  # 43 characters
    assert len(secret) == 43
    return f"ingest.acme.{secret}"


@pytest.mark.parametrize("suffix", ["/x", "", "/x/y", "?q=1"])
def test_a_token_as_the_first_segment_of_the_path_is_not_logged(logs, suffix: str) -> None:
    logs.set_level(logging.DEBUG, logger="ingestcli.local.api_server")
    token = _token()
    with ApiServer(_answer) as server:
        assert send(f"{server.url}/{token}{suffix}")[0] == 404
    records = [r for r in logs.records if r.name == "ingestcli.local.api_server"]
    assert records, "the request was not logged at all"
    text = logged_text(logs)
    assert give_away([token], text) == []
    assert "acme" not in text and "ingest." not in text
    assert "GET /{unknown} 404" in text


def test_a_failing_handler_logs_the_route_shape_not_the_path(logs) -> None:
    token = _token()

    def broken(event, context) -> dict:
        raise RuntimeError("broken")

    with ApiServer(broken) as server:
        assert send(f"{server.url}/{token}/x")[0] == 500
        assert send(f"{server.url}/uploads/{token}")[0] == 500
    text = logged_text(logs)
    assert give_away([token], text) == []
    assert "GET /{unknown}" in text and "GET /uploads/{upload_id}" in text


def test_known_routes_are_logged_by_their_shape(logs) -> None:
    logs.set_level(logging.DEBUG, logger="ingestcli.local.api_server")
    with ApiServer(_answer) as server:
        send(f"{server.url}/uploads")
        send(f"{server.url}/uploads/20261125T192257593Z-n5hqr6j7t2/")
    text = logged_text(logs)
    assert "GET /uploads 404" in text
    assert "GET /uploads/{upload_id} 404" in text
    assert "n5hqr6j7t2" not in text
