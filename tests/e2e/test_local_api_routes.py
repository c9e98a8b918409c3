"""The local API server serves every method and path: routes the API handler gains (`GET
/provider`, `POST /uploads/{upload_id}/abandon`) reach it unchanged, over real HTTP on
loopback, and are logged by their shape, never by the id in their path."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from ingestcli.local.api_server import ApiServer
from support.http import send

UPLOAD_ID = "20261125T192257593Z-n5hqr6j7t2"


@pytest.mark.parametrize(
    ("method", "path", "shape"),
    [
        ("GET", "/provider", "/provider"),
        ("POST", f"/uploads/{UPLOAD_ID}/abandon", "/uploads/{upload_id}/abandon"),
        ("DELETE", f"/uploads/{UPLOAD_ID}/something/new", "/{unknown}"),
        ("PATCH", "/a-route-not-yet-written", "/{unknown}"),
    ],
)
def test_any_method_and_path_reaches_the_handler_unchanged(
    logs: pytest.LogCaptureFixture, method: str, path: str, shape: str
) -> None:
    logs.set_level(logging.INFO, logger="ingestcli.local.api_server")
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 202, "body": json.dumps({"route": event["rawPath"]})}

    with ApiServer(handler) as server:
        status, _, body = send(f"{server.url}{path}", method, b"{}" if method == "POST" else None)

    assert (status, json.loads(body)) == (202, {"route": path})
    [event] = seen
    assert (event["requestContext"]["http"]["method"], event["rawPath"]) == (method, path)
    lines = [r.getMessage() for r in logs.records if r.name == "ingestcli.local.api_server"]
    assert lines == [f"{method} {shape} 202"]
    assert UPLOAD_ID not in "\n".join(lines)
