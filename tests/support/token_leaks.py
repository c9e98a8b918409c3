"""Finding an upload token given away in text: whole, encoded, or any piece of its secret.

A token's "secret" is its last part. Besides the whole token, every 8-character piece of the
secret is looked for (48 random bits each: a chance match is about one in 10^14 per place),
so a secret stored or logged cut, padded or wrapped is caught too, as are the token's hex and
base64 forms.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

import pytest

from support.phi_guard import PhiLogGuard

PIECE = 8


def forms(token: str) -> list[str]:
    """What would give a token away: itself, its encodings, and each piece of its secret."""
    secret = token.rsplit(".", 1)[1]
    pieces = [secret[start : start + PIECE] for start in range(len(secret) - PIECE + 1)]
    encoded = token.encode()
    return [token, encoded.hex(), base64.b64encode(encoded).decode(), *pieces]


def give_away(tokens: Iterable[str], text: str) -> list[str]:
    """Which tokens `text` gives away (named by their provider, never shown)."""
    return [token.split(".")[1] for token in tokens if any(form in text for form in forms(token))]


def logged_text(logs: pytest.LogCaptureFixture) -> str:
    """Message, template, arguments and traceback of each record of the test so far."""
    return "\n".join(f"{record.name}: {PhiLogGuard.text_of(record)}" for record in logs.records)


def logger_names(logs: pytest.LogCaptureFixture) -> set[str]:
    return {record.name for record in logs.records}
