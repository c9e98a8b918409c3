"""Large CSV files of few, wide rows (a note of about 50 KB each), for tests of large uploads
whose ingest must stay quick: a 100 MB file is 2,000 rows, which the local stack ingests in
seconds. Some rows may be invalid (an impossible date) or repeat the key of the row before
(a duplicate: the later row wins), and the file says what its report must then count and
which row each key of the records table must hold."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ingestcli.core.contract import check_mrn, sort_key
from ingestcli.core.date_time import normalise_date_time

HEADER = "medical_record_number,date_time,note\n"
NOTE_BYTES = 50_000
DATE_TIME = "2024-03-01T10:00:00Z"
IMPOSSIBLE_DATE = "2024-02-30T10:00:00Z"  # the check and the pipeline refuse it


@dataclass(frozen=True)
class WideCsv:
    """A file written by `write_wide_csv` and what its ingest must give."""

    path: Path
    size: int
    sha256: str
    rows: int
    invalid: int
    kept: dict[str, int]  # each valid row's sort key -> the line of the row that wins (the last)

    @property
    def duplicates(self) -> int:
        return self.rows - self.invalid - len(self.kept)


def write_wide_csv(
    path: Path,
    size: int,
    *,
    tag: str = "W",
    invalid_every: int = 0,
    duplicate_every: int = 0,
    note_bytes: int = NOTE_BYTES,
) -> WideCsv:
    """Write a CSV file of at least `size` bytes at `path`: rows of MRN `{tag}-NNNNNN` and a
    note of `note_bytes`; every `invalid_every`-th row has an impossible date, every
    `duplicate_every`-th other row repeats the last valid row's key (0: none)."""
    digest, written = hashlib.sha256(), 0
    kept: dict[str, int] = {}
    rows = invalid = 0
    last_key: tuple[str, str] | None = None
    with path.open("wb") as stream:

        def put(text: str) -> None:
            nonlocal written
            data = text.encode()
            stream.write(data)
            digest.update(data)
            written += len(data)

        put(HEADER)
        while written < size:
            line, number = rows + 2, rows + 1
            mrn, date_time = f"{tag}-{rows:06d}", DATE_TIME
            if invalid_every and number % invalid_every == 0:
                date_time, invalid = IMPOSSIBLE_DATE, invalid + 1
            elif duplicate_every and number % duplicate_every == 0 and last_key:
                mrn, date_time = last_key
            if date_time != IMPOSSIBLE_DATE:
                last_key = (mrn, date_time)
                kept[sort_key(check_mrn(mrn), normalise_date_time(date_time))] = line
            note = f"{rows:08d}".ljust(note_bytes, "x")
            put(f"{mrn},{date_time},{note}\n")
            rows += 1
    return WideCsv(path, written, digest.hexdigest(), rows, invalid, kept)
