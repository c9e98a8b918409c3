"""The one read of a file before it is sent: the local check (`ingest validate`'s) and its
SHA-256 in the same pass, and, for a file sent in parts, each part's SHA-256 too.

The file is then read once more, to send it. The whole file's SHA-256 is what the API
records and the ingest Lambda checks; each part's is what its URL pins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import IO

from ingestcli.core.summary import Summary, summarize
from ingestcli.services.files import open_binary

_DRAIN_BYTES = 1 << 20


@dataclass(frozen=True)
class Digest:
    """What the read found of the file's bytes: size, SHA-256 (hex), and with a part size,
    each part's SHA-256 in order."""

    size: int
    sha256: str
    part_size: int | None = None
    part_sha256: tuple[str, ...] = ()


class HashingReader:
    """A binary stream that hashes every byte read through it, whole and by part, and says
    how many bytes it has read after each read (`on_progress`): the check reads in blocks, so
    a bar moves with the bytes however wide the rows."""

    def __init__(
        self,
        stream: IO[bytes],
        part_size: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self._stream, self._part_size, self._on_progress = stream, part_size, on_progress
        self._whole, self._part = hashlib.sha256(), hashlib.sha256()
        self._size, self._in_part = 0, 0
        self._parts: list[str] = []

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._whole.update(data)
        self._size += len(data)
        if self._part_size:
            self._split(memoryview(data))
        if self._on_progress is not None:
            self._on_progress(self._size)
        return data

    def _split(self, data: memoryview) -> None:
        while data:
            room = self._part_size - self._in_part  # type: ignore[operator]
            self._part.update(data[:room])
            self._in_part += min(room, len(data))
            data = data[room:]
            if self._in_part == self._part_size:
                self._parts.append(self._part.hexdigest())
                self._part, self._in_part = hashlib.sha256(), 0

    def digest(self) -> Digest:
        """The digest of the whole stream: what the check left unread is read now."""
        while self.read(_DRAIN_BYTES):
            pass
        parts = list(self._parts)
        if self._part_size and (self._in_part or not parts):
            parts.append(self._part.hexdigest())
        return Digest(self._size, self._whole.hexdigest(), self._part_size, tuple(parts))


def check_and_hash(
    path: str,
    zone: tzinfo | None = None,
    part_size: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[Summary, Digest]:
    """`ingest validate`'s summary of the file and its digest, from one read
    (`on_progress(bytes_read)` now and then, as `ingest validate` shows it)."""
    with open_binary(path) as stream:
        reader = HashingReader(stream, part_size, on_progress)
        summary = summarize(reader, zone)  # type: ignore[arg-type]
        return summary, reader.digest()
