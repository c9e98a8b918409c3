"""Who is calling: the bearer token alone decides the provider, never the request.

Every failure (no header, a malformed or unknown token, a revoked provider, a rotated
token) is the same 401, so a caller learns nothing about which providers exist; the log
line says which it was.
"""

from __future__ import annotations

from typing import Any

from ingestcli.core import tokens
from ingestcli.core.providers_table import ACTIVE, read_provider

UNAUTHORIZED = "a valid upload token is required: Authorization: Bearer <token>"


class Unauthorized(Exception):
    """The request carries no valid token; the API answers 401."""


def authenticate(
    dynamodb: Any, providers_table: str, headers: dict[str, str], line: dict[str, Any]
) -> str:
    """The provider the bearer token belongs to; raises Unauthorized otherwise."""
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    provider = tokens.provider_of(token) if scheme.lower() == "bearer" else None
    if provider is None:
        line["auth"] = "malformed"
        raise Unauthorized
    line["provider"] = provider
    item = read_provider(dynamodb, providers_table, provider, "status", "token_sha256")
    stored_hash = str((item or {}).get("token_sha256", ""))
    if item is None or item.get("status") != ACTIVE or not tokens.matches(token, stored_hash):
        line["auth"] = "unknown" if item is None else "refused"
        raise Unauthorized
    return provider
