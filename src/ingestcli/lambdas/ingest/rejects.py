"""The rejects file: refused rows as sent, each with its line and problems, as CSV.

Each row is the refused record's fields, after four cells: its line, the 1-based positions
of the columns at fault, the codes, and the messages (cut to bounded.MESSAGE_CHARS). Column
names are never repeated per row, only once in the header row (which copies the file's), so
the file is at most the upload's size plus a small constant per row (the four cells), plus
one byte per formula-like cell: cells a spreadsheet would run as formulas (`=cmd|...`,
`@...`, and the file's own header names too) get a leading apostrophe (core/spreadsheet.py),
as `ingest query --format csv` does, since this file is meant to be opened by a person.
"""

from __future__ import annotations

import csv
import io
import tempfile
from typing import IO, Any

from ingestcli.core.bounded import cut_message, cut_name
from ingestcli.core.messages import bad_bytes_at
from ingestcli.core.reports import Progress
from ingestcli.core.spreadsheet import spreadsheet_safe


class RejectsBuffer:
    """Refused rows as sent, with their line and problems, as CSV: in memory while small,
    then in a temporary file, so a file of bad rows cannot exhaust the Lambda's memory."""

    def __init__(self, header: tuple[str, ...] | None) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - kept open
        # Bytes that were not UTF-8 come back as they were sent.
        self._text = io.TextIOWrapper(
            self._file, encoding="utf-8", errors="surrogateescape", newline="", write_through=True
        )
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self.count = 0
        self._header = header
        # A problem names its column by name, cut if long: find its position. A cut name
        # that two columns share gives the first; invalid_utf8 finds its own (below).
        self._positions: dict[str, int] = {}
        for position, name in enumerate(header or (), start=1):
            self._positions.setdefault(name, position)
            self._positions.setdefault(cut_name(name), position)

    def _position(self, problem: dict[str, Any], fields: list[str]) -> str:
        if problem["code"] == "invalid_utf8":
            found = bad_bytes_at(fields)  # the rule that named the column, so the same column
            if found:
                return str(found[0])
        column = problem.get("column")
        return str(self._positions.get(column, "")) if column is not None else ""

    def reject(
        self, progress: Progress, line: int, problems: list[dict[str, Any]], fields: list[str]
    ) -> None:
        """A row refused (by the validator or by the table): counted as rejected, its
        problems listed in the report, the row kept here as sent."""
        progress.rejected += 1
        progress.add_errors(problems)
        self.add(line, problems, fields)

    def add(self, line: int, problems: list[dict[str, Any]], fields: list[str]) -> None:
        columns = "; ".join(self._position(problem, fields) for problem in problems)
        codes = "; ".join(problem["code"] for problem in problems)
        messages = cut_message("; ".join(problem["message"] for problem in problems))
        self._writer.writerow([line, columns, codes, messages, *map(spreadsheet_safe, fields)])
        self.count += 1

    def header_row(self) -> str:
        columns = ["line", "column", "code", "message", *map(spreadsheet_safe, self._header or ())]
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerow(columns)
        return text.getvalue()

    def rewound(self) -> IO[bytes]:
        """The rows written so far, as bytes from the start, for an upload."""
        self._text.flush()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()
