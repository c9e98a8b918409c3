"""Output of `ingest query` (reports and uploads are rendered by render/upload.py).

Records go out as a rich table for people, one JSON array for scripts (values exactly as
stored, streamed as they are read), or CSV for a spreadsheet. CSV output neutralises
spreadsheet formulas: a cell that starts with =, +, -, @, a tab or a carriage return and is
not a plain number gets a leading apostrophe, so a value a provider sent (say
=HYPERLINK(...)) is shown as text instead of run on a support person's machine. The JSON
form is the exact one.

Values came from providers' files: before they reach a terminal, rich markup is escaped
and control characters (an ESC sequence could rewrite the screen) are shown as \\xNN. The
table shows every value whole: when its columns do not fit the console, each record is a
block of `column | value` lines instead (render/fit.py), and `date_time` drops a fraction
of zeros (`2024-03-01T14:15:00Z`).
"""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from collections.abc import Iterable
from typing import Any, TextIO

from ingestcli.cli.render.fit import ID, Column, print_rows
from ingestcli.cli.render.output import human_time, plural, shown, stdout
from ingestcli.core.contract import DATE_TIME_COLUMN, MRN_COLUMN
from ingestcli.core.spreadsheet import spreadsheet_safe

LEADING_COLUMNS = (MRN_COLUMN, DATE_TIME_COLUMN, "date_time_original")
TRAILING_COLUMNS = ("upload_id", "source_line", "ingested_at")
_FRAME = frozenset(LEADING_COLUMNS + TRAILING_COLUMNS)


def _own_columns(records: Iterable[dict[str, Any]]) -> list[str]:
    """The columns the files themselves had, in first-seen order (uploads may differ)."""
    own: dict[str, None] = {}
    for record in records:
        own.update((name, None) for name in record if name not in _FRAME)
    return list(own)


def record_columns(records: Iterable[dict[str, Any]]) -> list[str]:
    """The key columns, the records' own columns in first-seen order, then bookkeeping."""
    return [*LEADING_COLUMNS, *_own_columns(records), *TRAILING_COLUMNS]


def render_records_table(records: Iterable[dict[str, Any]], *, limit: int | None = None) -> int:
    """One row per record (or, when the columns do not fit the console, one block per
    record), then a count line; returns the count."""
    found = list(records)
    if not found:
        stdout.print("no records for this MRN")
        return 0
    own = _own_columns(found)
    columns = [
        Column("date_time (UTC)", ID),
        Column("as sent", ID),
        *(Column(shown(name)) for name in own),
        Column("upload", ID),
    ]
    rows = [
        [
            shown(human_time(record.get(DATE_TIME_COLUMN, ""))),
            shown(record.get("date_time_original", "")),
            *(shown(record.get(name, "")) for name in own),
            shown(record.get("upload_id", "")),
        ]
        for record in found
    ]
    print_rows(stdout, columns, rows)
    count = plural(len(found), "record")
    if limit is not None and len(found) >= limit:
        count += " (--limit reached: there may be more)"
    stdout.print(count)
    return len(found)


def write_records_json(records: Iterable[dict[str, Any]], stream: TextIO | None = None) -> int:
    """One JSON array of flat objects, written record by record; returns the count.

    An error part-way leaves the array unclosed, so a script cannot take half for all.
    """
    out = stream or sys.stdout
    count = 0
    for record in records:
        out.write(",\n" if count else "[\n")
        out.write(textwrap.indent(json.dumps(record, indent=2), "  "))
        count += 1
    out.write("\n]\n" if count else "[]\n")
    return count


def write_records_csv(records: Iterable[dict[str, Any]], stream: TextIO | None = None) -> int:
    """A header and one row per record; returns the count.

    The records are gathered first: the header must name every column any of them has
    (uploads may differ in their columns), and one patient's records fit in memory.
    """
    found = list(records)
    columns = record_columns(found)
    writer = csv.writer(stream or sys.stdout, lineterminator="\r\n")
    writer.writerow(map(spreadsheet_safe, columns))
    for record in found:
        writer.writerow(spreadsheet_safe(record.get(name, "")) for name in columns)
    return len(found)
