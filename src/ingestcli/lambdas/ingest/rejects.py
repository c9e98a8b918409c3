"""The rejects file: refused rows as sent, each with its line and problems, as CSV."""

from __future__ import annotations

import csv
import io
import tempfile
from typing import IO, Any


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

    def add(self, line: int, problems: list[dict[str, Any]], fields: list[str]) -> None:
        columns = "; ".join(problem["column"] or "" for problem in problems)
        codes = "; ".join(problem["code"] for problem in problems)
        messages = "; ".join(problem["message"] for problem in problems)
        self._writer.writerow([line, columns, codes, messages, *fields])
        self.count += 1

    def header_row(self) -> str:
        columns = ["line", "column", "code", "message", *(self._header or ())]
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
