"""What every route answers with: a JSON response, or an ApiError the handler turns into
one (`{"error": {"code", "message"}}`)."""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    """A request the API refuses: its HTTP status, a stable code and a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def respond(status: int, document: Any, headers: dict[str, str] | None = None) -> dict:
    """A function-URL response (payload 2.0) carrying `document` as JSON."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"} | (headers or {}),
        "body": json.dumps(document),
    }
