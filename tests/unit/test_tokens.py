"""Upload tokens: the shape that names their provider, their randomness, and how a token is
checked against the hash that is kept of it (the registry that keeps it: the integration tier's
test_providers.py)."""

from __future__ import annotations

import hashlib

import pytest

from ingestcli.core import tokens


def test_a_token_names_its_provider_and_parses_one_way_only() -> None:
    for provider in ("abc", "a-b-c", "x" * 63, "0-9"):
        token = tokens.new_token(provider)
        assert token.startswith(f"ingest.{provider}.")
        assert tokens.provider_of(token) == provider
        assert len(token) == len("ingest..") + len(provider) + 43


@pytest.mark.parametrize(
    "token",
    [
        "",
        "ingest.acme",
        "ingest.acme.",
        "ingest.acme." + "a" * 42,
        "ingest.acme." + "a" * 44,
        "ingest.ACME." + "a" * 43,
        "ingest.-acme." + "a" * 43,
        "ingest.acme.b." + "a" * 41,
        "Ingest.acme." + "a" * 43,
        "other.acme." + "a" * 43,
        "ingest.acme." + "a" * 42 + "=",
        "ingest.acme." + "a" * 42 + "\n",
        "ingest.acme." + "a" * 42 + "é",
    ],
)
def test_a_malformed_token_names_no_provider(token: str) -> None:
    assert tokens.provider_of(token) is None


def test_tokens_are_random_and_refuse_bad_provider_ids() -> None:
    assert len({tokens.new_token("acme") for _ in range(100)}) == 100
    with pytest.raises(ValueError):
        tokens.new_token("Acme")


def test_matches_compares_the_hash_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    token = tokens.new_token("acme")
    stored = hashlib.sha256(token.encode()).hexdigest()
    assert tokens.token_hash(token) == stored
    calls = []
    real = tokens.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    assert tokens.matches(token, stored)
    assert not tokens.matches(token + "x", stored)
    assert not tokens.matches(token, "")
    assert not tokens.matches(token, "é" * 64)  # a damaged stored value is no match, no crash
    assert len(calls) == 4
