"""Upload tokens: `ingest.<provider id>.<43 characters of secrets.token_urlsafe(32)>`.

The token names its provider, so the API finds the provider with one GetItem and compares
one hash. Dots never occur in a provider id or in token_urlsafe's alphabet, so the token
splits one way only. Only the SHA-256 of a token is stored; the token is shown once.
Standard library only; provider ids follow layout.PROVIDER_ID, the rule keys are read by.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from ingestcli.core.layout import PROVIDER_ID

PREFIX = "ingest"
SECRET_BYTES = 32  # 256 bits; token_urlsafe(32) is 43 characters
_TOKEN = re.compile(
    rf"{PREFIX}\.(?P<provider>{PROVIDER_ID.pattern})\.[A-Za-z0-9_-]{{43}}", re.ASCII
)


def new_token(provider_id: str) -> str:
    """A fresh token for the provider; raises ValueError for an id that is not a provider id."""
    if not PROVIDER_ID.fullmatch(provider_id):
        raise ValueError("not a provider id")
    return f"{PREFIX}.{provider_id}.{secrets.token_urlsafe(SECRET_BYTES)}"


def token_hash(token: str) -> str:
    """What the providers table keeps instead of the token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def provider_of(token: str) -> str | None:
    """The provider a token claims to belong to, or None when it is not shaped as a token."""
    match = _TOKEN.fullmatch(token)
    return match["provider"] if match else None


def matches(token: str, stored_hash: str) -> bool:
    """Whether the token hashes to the stored hash, compared in constant time."""
    return hmac.compare_digest(
        token_hash(token).encode(), stored_hash.encode("utf-8", "surrogatepass")
    )
