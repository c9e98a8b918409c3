"""SeenKeys counts duplicates exactly, across compactions and checkpoint round trips."""

from __future__ import annotations

import random

import pytest

from ingestcli.lambdas.ingest import seen_keys
from ingestcli.lambdas.ingest.seen_keys import SeenKeys


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agrees_with_a_set_through_compactions_and_round_trips(monkeypatch, seed) -> None:
    monkeypatch.setattr(seen_keys, "RECENT_LIMIT", 64)  # compact often
    rng = random.Random(seed)
    seen, expected = SeenKeys(), set()
    for step in range(20_000):
        digest = rng.randrange(6_000) * 0x9E3779B97F4A7C15 % 2**64
        assert seen.add(digest) == (digest not in expected)
        expected.add(digest)
        if step % 2_500 == 0:
            seen = SeenKeys.from_bytes(seen.to_bytes())
        assert len(seen) == len(expected)


def test_runs_stay_few_and_bytes_stay_small(monkeypatch) -> None:
    monkeypatch.setattr(seen_keys, "RECENT_LIMIT", 128)
    seen = SeenKeys()
    for digest in range(100_000):
        seen.add(digest * 7919)
    assert len(seen._runs) <= 17  # about log2(100_000 / 128) + 1
    assert len(seen.to_bytes()) == 8 * 100_000


def test_empty_round_trip() -> None:
    assert SeenKeys.from_bytes(SeenKeys().to_bytes()).add(5) is True
