"""What the validator says about a refused header or row: where, a stable code, and why.

The wording lives here, apart from the verdict engine (validate.py), so that the messages a
clinic's IT person reads can be reviewed in one place, and so that building them stays off
the hot path: they are called only for rows that are refused. Like the contract's, they
never quote a value from the file.

The size limits are read from `lines` when a message is built, never copied, so that a
message always quotes the limit the reader enforced. A message names a column by position
and a cut name (bounded.py), so that its size never grows with the file.
"""

from __future__ import annotations

import csv
from typing import NamedTuple

from ingestcli.core import lines
from ingestcli.core.bounded import column_label, cut_name
from ingestcli.core.contract import MAX_ITEM_BYTES, Header


class Problem(NamedTuple):
    """Why a header or a row was refused: where, a stable code, and a plain message."""

    line: int
    column: str | None
    code: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


def wrong_width(line: int, width: int, found: int) -> Problem:
    """A row whose field count is not the header's."""
    return Problem(
        line,
        None,
        "wrong_field_count",
        f"has {found} field{'s' if found != 1 else ''} where the header has {width}",
    )


def bad_bytes_at(fields: list[str]) -> tuple[int, int, int] | None:
    """(column, character, byte), 1-based, of a row's first byte that is not UTF-8 (decoded
    to a lone surrogate), if any. The rejects file finds the column with it too."""
    for column, value in enumerate(fields, start=1):
        if value.isascii():
            continue
        for position, char in enumerate(value, start=1):
            if "\udc80" <= char <= "\udcff":
                return column, position, ord(char) - 0xDC00
    return None


def bad_bytes_problem(line: int, header: Header, fields: list[str]) -> Problem | None:
    """The first byte of a row that is not UTF-8, if any. The column is named by position
    and a cut name (bounded.py): a name repeated whole in every row's error made a 57 KB
    file give a 20 MB report."""
    found = bad_bytes_at(fields)
    if found is None:
        return None
    column, position, byte = found
    name = header.names[column - 1]
    return Problem(
        line,
        cut_name(name),
        "invalid_utf8",
        f"byte 0x{byte:02X} at character {position} of {column_label(column, name)} is not "
        "UTF-8: save the file as UTF-8",
    )


def too_large(line: int) -> Problem:
    """A record that would not fit in one DynamoDB item."""
    return Problem(
        line,
        None,
        "item_too_large",
        f"the record is larger than the {MAX_ITEM_BYTES // 1024} KB one database item can hold",
    )


def unreadable(line: int, count: int, what: str = "field") -> Problem:
    """The `count` lines after a too large field or line, which cannot be parsed safely."""
    limit = (lines.MAX_FIELD_CHARS if what == "field" else lines.MAX_LINE_BYTES) >> 20
    return Problem(
        line,
        None,
        "rest_unreadable",
        f"lines {line}-{line + count - 1} were not read: after a {what} of more than "
        f"{limit} MB the rows that follow cannot be told apart; fix that {what}, and the "
        "rest of the file is read",
    )


def line_too_long(line: int) -> Problem:
    """A physical line past lines.MAX_LINE_BYTES, refused unread."""
    return Problem(
        line,
        None,
        "field_too_large",
        f"a line is longer than {lines.MAX_LINE_BYTES >> 20} MB, far more than one database "
        f"item can hold ({MAX_ITEM_BYTES // 1024} KB)",
    )


def malformed(error: csv.Error, line: int, last_line: int) -> Problem:
    """A record the CSV parser refused, told in words rather than in the parser's."""
    reason = str(error)
    if "unexpected end of data" in reason:
        return Problem(
            line,
            None,
            "unclosed_quote",
            f"a quoted field is never closed, so lines {line}-{last_line} were read as one value",
        )
    if "field larger than field limit" in reason:
        return Problem(
            line,
            None,
            "field_too_large",
            f"a field is larger than {lines.MAX_FIELD_CHARS >> 20} MB, far more than one "
            f"database item can hold ({MAX_ITEM_BYTES // 1024} KB)",
        )
    if "expected after" in reason:
        return Problem(
            line,
            None,
            "malformed_quotes",
            'text follows a closing quote: inside a quoted field, write a quote as ""',
        )
    # The parser's own words may end in advice for programmers ("- do you need to open the
    # file in universal-newline mode?"), which is no help to whoever reads a report.
    return Problem(
        line, None, "malformed_row", f"the row is not valid CSV: {reason.split(' - ')[0]}"
    )


def header_malformed(error: csv.Error) -> str:
    """Why the CSV parser refused the header row, told in words rather than in the parser's."""
    reason = str(error)
    if isinstance(error, lines.LineTooLong):
        return f"the header row is longer than {lines.MAX_LINE_BYTES >> 20} MB"
    if "unexpected end of data" in reason:
        return "the header row opens a quote that is never closed"
    if "field larger than field limit" in reason:
        return f"a column name is larger than {lines.MAX_FIELD_CHARS >> 20} MB"
    if "expected after" in reason:
        return (
            "text follows a closing quote in the header row: inside a quoted name, write a "
            'quote as ""'
        )
    return f"the header row is not valid CSV: {reason.split(' - ')[0]}"


# What a provider can do about a date and time without an offset. They read it in
# `ingest validate`, in `ingest upload`'s check and in the pipeline's report, and none of
# them can register a time zone: the operator does (`ingest provider add --timezone`).
NO_OFFSET = (
    "has no UTC offset: add one (such as -05:00 or Z), or ask your operator to register your "
    "time zone; `ingest upload` then checks with it, and `ingest validate --assume-tz ZONE` "
    "checks as the server would"
)
NONEXISTENT_LOCAL_TIME = "does not exist in your time zone (the clocks skip it): add a UTC offset"
AMBIGUOUS_LOCAL_TIME = (
    "happens twice in your time zone (the clocks go back): add a UTC offset to say which"
)

# A header refused for its delimiter: the words for each delimiter a spreadsheet may write.
DELIMITER_NAMES = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}


def wrong_delimiter(delimiter: str) -> str:
    """The header row holds the required columns once split at `delimiter`, not at commas."""
    return (
        f"the file is separated by {DELIMITER_NAMES[delimiter]}, not commas: export it again "
        "as comma-separated CSV"
    )
