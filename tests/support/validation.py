"""Running the streaming validator on bytes or text, and the values its tests are made of."""

from __future__ import annotations

import io

from ingestcli.core import validate
from support.paths import CORPUS

MRN = "medical_record_number"
DT = "date_time"
HEADER = "medical_record_number,date_time,note\n"
OK_TIME = "2024-03-01T10:00:00Z"
BOM = b"\xef\xbb\xbf"
CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.csv"))  # verdicts: expected.json


def stream_of(data: bytes | str) -> io.BytesIO | io.StringIO:
    """Bytes become a binary stream; text a text stream opened as the csv module wants."""
    return io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data, newline="")


def rows_of(data: bytes | str, zone=None) -> list[validate.Row]:
    return list(validate.CsvValidation(stream_of(data), zone).rows())


def verdicts(data: bytes | str, zone=None) -> list[tuple[int, list[tuple[str | None, str]]]]:
    """(line, [(column, code), ...]) for every record; an empty list means valid."""
    return [
        (line, [(p.column, p.code) for p in problems])
        for line, _fields, _mrn, _dt, problems in rows_of(data, zone)
    ]
