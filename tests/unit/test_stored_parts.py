"""Which parts a resumed upload need not send again: those S3 holds whole, as this file has
them. S3 lists each part's SHA-256 for an upload opened with one (moto lists none: then the
size must match, and the whole file's SHA-256, which the resume record is named by, did)."""

from __future__ import annotations

from ingestcli.services.parts import _stored
from ingestcli.services.read_once import Digest

MIB = 1024**2
DIGEST = Digest(12 * MIB, "0" * 64, 5 * MIB, ("a" * 64, "b" * 64, "c" * 64))


def listing(*parts: tuple[object, object, object]) -> dict:
    return {"parts": [{"part_number": n, "size": s, "sha256": h} for n, s, h in parts]}


def test_parts_of_the_planned_size_and_checksum_are_kept() -> None:
    found = listing((1, 5 * MIB, "a" * 64), (2, 5 * MIB, None), (3, 2 * MIB, "c" * 64))
    assert _stored(found, DIGEST) == {1, 2, 3}


def test_a_part_of_another_size_or_checksum_is_sent_again() -> None:
    found = listing((1, 5 * MIB - 1, "a" * 64), (2, 5 * MIB, "f" * 64), (3, 2 * MIB, None))
    assert _stored(found, DIGEST) == {3}


def test_parts_outside_the_plan_or_malformed_are_ignored() -> None:
    found = listing(
        (0, 5 * MIB, None), (4, 5 * MIB, None), ("1", 5 * MIB, None), (True, 5 * MIB, None)
    )
    assert _stored(found, DIGEST) == set()
