"""The keys an upload has already written, to count duplicates exactly in bounded memory.

A set of Python ints costs about 100 bytes a key: a file of a million rows would need
100 MB for it alone. Here each key is an 8-byte digest in sorted arrays (a few runs that
merge as they grow, so a look-up is a handful of binary searches), plus a small set of the
latest keys: about 8 bytes a key, and one sorted array to save in a checkpoint.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left

RECENT_LIMIT = 1 << 15


class SeenKeys:
    def __init__(self, sorted_digests: array | None = None) -> None:
        self._runs: list[array] = [sorted_digests] if sorted_digests else []
        self._recent: set[int] = set()

    def add(self, digest: int) -> bool:
        """Remember a key's digest; False when it was already there (a duplicate)."""
        if digest in self._recent:
            return False
        for run in self._runs:
            index = bisect_left(run, digest)
            if index < len(run) and run[index] == digest:
                return False
        self._recent.add(digest)
        if len(self._recent) >= RECENT_LIMIT:
            self._compact()
        return True

    def __len__(self) -> int:
        return len(self._recent) + sum(map(len, self._runs))

    def _compact(self) -> None:
        """Turn the recent set into a sorted run, merging runs no larger than it."""
        run = array("Q", sorted(self._recent))
        self._recent.clear()
        while self._runs and len(self._runs[-1]) <= len(run):
            run = array("Q", heapq.merge(self._runs.pop(), run))
        self._runs.append(run)

    def to_bytes(self) -> bytes:
        self._compact()
        while len(self._runs) > 1:
            last = self._runs.pop()
            self._runs[-1] = array("Q", heapq.merge(self._runs[-1], last))
        return self._runs[0].tobytes() if self._runs else b""

    @classmethod
    def from_bytes(cls, blob: bytes) -> SeenKeys:
        digests = array("Q")
        digests.frombytes(blob)
        return cls(digests)
