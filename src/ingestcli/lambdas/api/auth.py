"""Who is calling: the bearer token alone decides the provider, never the request.

Every failure (no header, a malformed or unknown token, a revoked provider, a rotated
token) is the same 401, so a caller learns nothing about which providers exist; the log
line says which it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestcli.core import tokens
from ingestcli.core.providers_table import ACTIVE, read_provider

UNAUTHORIZED = "a valid upload token is required: Authorization: Bearer <token>"


class Unauthorized(Exception):
    """The request carries no valid token; the API answers 401."""


@dataclass(frozen=True)
class Caller:
    """Who called: the provider, and the SHA-256 of the token it used (as the providers
    table holds it), so an upload can record which token issued its URL."""

    provider: str
    token_sha256: str


def authenticate(
    dynamodb: Any, providers_table: str, headers: dict[str, str], line: dict[str, Any]
) -> Caller:
    """The provider the bearer token belongs to, and the token's hash; raises Unauthorized
    otherwise."""
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
    return Caller(provider, stored_hash)
