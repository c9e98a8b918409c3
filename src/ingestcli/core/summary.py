"""A whole file's verdicts folded into counts and the first problems.

`ingest validate`, and `ingest upload` before it sends a file, want this summary; the ingest
Lambda does not (it consumes the verdicts one by one and keeps its own report). So it lives
apart from the verdict engine (validate.py), which both share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import IO

from ingestcli.core.contract import ContractViolation
from ingestcli.core.messages import Problem
from ingestcli.core.validate import CsvValidation

# How many rows pass between two progress reports: often enough for a bar to move, rarely
# enough that reporting costs nothing next to the validation.
PROGRESS_EVERY_ROWS = 8192


@dataclass
class Summary:
    """What `ingest validate` reports: complete counts and the first problems."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    header_error: Problem | None = None
    errors: list[Problem] = field(default_factory=list)
    errors_truncated: bool = False
    error_counts: dict[str, int] = field(default_factory=dict)  # every problem, by code

    @property
    def ok(self) -> bool:
        return self.header_error is None and self.invalid == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "header_error": (
                {"code": self.header_error.code, "message": self.header_error.message}
                if self.header_error
                else None
            ),
            "errors": [problem.as_dict() for problem in self.errors],
            "errors_truncated": self.errors_truncated,
            "error_counts": self.error_counts,
        }


def summarize(
    stream: IO[bytes] | IO[str],
    zone: tzinfo | None = None,
    max_errors: int = 100,
    on_progress: Callable[[int], None] | None = None,
) -> Summary:
    """Validate a whole stream and count; `on_progress(bytes_read)` is called now and then."""
    summary = Summary()
    try:
        validation = CsvValidation(stream, zone)
    except ContractViolation as violation:
        summary.header_error = Problem(1, violation.column, violation.code, violation.message)
        summary.error_counts[violation.code] = 1  # the file's one problem counts, as in reports
        return summary
    errors = summary.errors
    counts = summary.error_counts
    rows = invalid = 0
    for _line, _fields, _mrn, _date_time, problems in validation.rows():
        rows += 1
        if problems:
            invalid += 1
            for problem in problems:
                counts[problem.code] = counts.get(problem.code, 0) + 1
                if len(errors) < max_errors:
                    errors.append(problem)
                else:
                    summary.errors_truncated = True
        if on_progress and rows % PROGRESS_EVERY_ROWS == 0:
            on_progress(validation.bytes_read or 0)
    summary.rows = rows
    summary.invalid = invalid
    summary.valid = summary.rows - summary.invalid
    return summary
