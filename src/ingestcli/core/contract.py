"""The CSV contract: what a patient-records file must hold, and how a row becomes an item.

`ingest validate` and the ingest Lambda both judge rows with this module, so a file
gets the same verdicts on a laptop and in AWS. It holds the header, MRN and item-size
rules; the `date_time` rule, the largest, is in date_time.py. Standard library only.

The contract, in short: UTF-8, comma separated (a header that holds the required columns
only when split at semicolons, tabs or vertical bars is refused as header_wrong_delimiter,
which says so), RFC 4180 quoting. `date_time` is ISO 8601 with a UTC offset; its fraction
may have up to nine digits (.NET's round-trip format and SQL Server's datetime2(7) write
seven), and is stored cut, not rounded, to microseconds: 10:00:00.1234567Z is stored as
10:00:00.123456Z, the value as sent is kept in `date_time_original`, and two rows whose
times differ only past the microsecond have one key, so the earlier is a duplicate.

Error messages never quote a value from the file: they may end up next to other
tenants' logs, and a medical record number is patient data.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

MRN_COLUMN = "medical_record_number"
DATE_TIME_COLUMN = "date_time"
REQUIRED_COLUMNS = (MRN_COLUMN, DATE_TIME_COLUMN)
KEY_ATTRIBUTES = ("providerId", "sortKey")
BOOKKEEPING_ATTRIBUTES = ("date_time_original", "upload_id", "source_line", "ingested_at")
RESERVED_COLUMNS = frozenset(KEY_ATTRIBUTES + BOOKKEEPING_ATTRIBUTES)
_RESERVED_FOLDED = frozenset(name.lower() for name in RESERVED_COLUMNS)
KEY_SEPARATOR = "#"
MAX_MRN_LENGTH = 64
# The longest column name, in UTF-8 bytes. DynamoDB refuses attribute names of 64 KB and more
# (moto does not), counts every name in every item's 400 KB, and allows at most 255 bytes for
# a name that a key or an index would use; 255 is the limit that keeps every column usable
# as an index later, far above any real column name, and it keeps a header of a few columns
# from eating the item's room. A name past it refuses the file (`column_name_too_long`).
MAX_COLUMN_NAME_BYTES = 255
# The largest item the pipeline writes, counted as both stores count it: every attribute's
# name and value as UTF-8 bytes, a number as its decimal digits. DynamoDB allows 400 KB
# (409,600 bytes) and counts a number as about one byte per two digits plus one, less than
# its digits; moto (5.2, models/dynamo_type.py LimitedSizeDict) refuses an item whose names
# and values pass 405,000 bytes, a number counted as its digits. The smaller figure is the
# contract's, so that no row `ingest validate` passes is refused by AWS or the local stack;
# a row the table still refuses is that row's rejection (item_refused_by_database).
DYNAMODB_ITEM_BYTES = 400 * 1024
MOTO_ITEM_BYTES = 405_000
MAX_ITEM_BYTES = min(DYNAMODB_ITEM_BYTES, MOTO_ITEM_BYTES)

# Longest value each added attribute can hold: provider ids are at most 63 characters,
# the sort key is an MRN, '#' and a normalised date_time (27), the normalised date_time
# itself, upload ids at most 64, a line number 21 and the ingestion time 27.
_NORMALISED_LENGTH = len("YYYY-MM-DDTHH:MM:SS.ffffffZ")
_BOOKKEEPING_VALUE_BYTES = (
    63 + (MAX_MRN_LENGTH + 1 + _NORMALISED_LENGTH) + _NORMALISED_LENGTH + 64 + 21 + 27
)
ITEM_OVERHEAD_BYTES = (
    sum(len(name) for name in KEY_ATTRIBUTES + BOOKKEEPING_ATTRIBUTES) + _BOOKKEEPING_VALUE_BYTES
)


class ContractViolation(Exception):
    """A header or a value breaks the contract; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Header:
    """A header that passed the contract: column names and where the key columns are."""

    names: tuple[str, ...]
    mrn_index: int
    date_time_index: int

    @property
    def width(self) -> int:
        return len(self.names)

    @property
    def value_budget(self) -> int:
        """Bytes left for a row's values once names and bookkeeping are counted."""
        names = sum(len(name.encode("utf-8", "surrogatepass")) for name in self.names)
        return MAX_ITEM_BYTES - ITEM_OVERHEAD_BYTES - names


def parse_header(fields: list[str]) -> Header:
    """Check a header row and locate the required columns; raise ContractViolation if unfit."""
    names = [name.strip() for name in fields]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:].strip()
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise ContractViolation(
                "empty_column_name", f"column {position} of the header has no name"
            )
        # Neither of these two quotes the name, nor sets `column`: a long name has no place
        # in a report, and in a file without a header row the "names" are a patient's values.
        size = len(name.encode("utf-8", "surrogatepass"))
        if size > MAX_COLUMN_NAME_BYTES:
            raise ContractViolation(
                "column_name_too_long",
                f"the name of column {position} is {size:,} bytes long, more than the "
                f"{MAX_COLUMN_NAME_BYTES} bytes a column name may have",
            )
        if name in seen:
            raise ContractViolation(
                "duplicate_column",
                f"columns {seen[name]} and {position} of the header have the same name: "
                "rename one of them",
            )
        seen[name] = position
        if name.lower() in _RESERVED_FOLDED:
            raise ContractViolation(
                "reserved_column",
                f"'{name}' is reserved for the pipeline's own use; rename or remove that column",
                name,
            )
    for required in REQUIRED_COLUMNS:
        if required not in seen:
            near = [name for name in names if name.lower() == required]
            hint = f" (found '{near[0]}': the name must be written exactly so)" if near else ""
            raise ContractViolation(
                "missing_column", f"the header has no '{required}' column{hint}", required
            )
    return Header(tuple(names), names.index(MRN_COLUMN), names.index(DATE_TIME_COLUMN))


# The delimiters a spreadsheet writes in place of commas (a European Excel writes ';').
OTHER_DELIMITERS = (";", "\t", "|")


def other_delimiter(header_text: str) -> str | None:
    """The delimiter that `header_text`, the raw text of a refused header row, is split at,
    when that is not a comma: the one that gives it both required columns, if any.

    The file is still refused (the contract is comma separated), but the message can say
    what to do. The names are only looked for, never quoted.
    """
    for delimiter in (",", *OTHER_DELIMITERS):
        if delimiter not in header_text:
            continue
        rows = csv.reader(io.StringIO(header_text, newline=""), delimiter=delimiter)
        try:
            fields = next((row for row in rows if row), [])
        except csv.Error:
            continue
        names = {name.strip().removeprefix("\ufeff").strip() for name in fields}
        if all(required in names for required in REQUIRED_COLUMNS):
            return None if delimiter == "," else delimiter
    return None


MRN_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)


def check_mrn(value: str) -> str:
    """Return the trimmed medical record number, or raise ContractViolation."""
    if MRN_PATTERN.fullmatch(value):
        return value
    trimmed = value.strip()
    if not trimmed:
        raise ContractViolation("mrn_missing", "the medical record number is empty", MRN_COLUMN)
    if len(trimmed) > MAX_MRN_LENGTH:
        raise ContractViolation(
            "mrn_too_long",
            f"the medical record number is longer than {MAX_MRN_LENGTH} characters",
            MRN_COLUMN,
        )
    if not MRN_PATTERN.fullmatch(trimmed):
        raise ContractViolation(
            "mrn_invalid_characters",
            "the medical record number may hold only letters A-Z, digits, '.', '_' and '-'",
            MRN_COLUMN,
        )
    return trimmed


def sort_key(mrn: str, date_time_utc: str) -> str:
    """The records table's sort key: one patient's records, in time order."""
    return f"{mrn}{KEY_SEPARATOR}{date_time_utc}"


def values_fit(budget: int, fields: list[str]) -> bool:
    """Whether a row's values fit in `budget` bytes (Header.value_budget) once UTF-8 encoded."""
    chars = sum(map(len, fields))
    if chars * 4 <= budget:  # the common case: no need to encode anything
        return True
    return sum(len(field.encode("utf-8", "surrogatepass")) for field in fields) <= budget


def to_item(
    header: Header,
    fields: list[str],
    mrn: str,
    date_time_utc: str,
    *,
    provider_id: str,
    upload_id: str,
    source_line: int,
    ingested_at: str,
) -> dict[str, dict[str, str]]:
    """The DynamoDB item (low-level attribute values) for one valid row.

    Every value is a string as sent, so no type is guessed and nothing is rounded; the
    key columns are stored normalised, with the date and time as sent kept beside them.
    """
    item = {name: {"S": value} for name, value in zip(header.names, fields, strict=True)}
    item["providerId"] = {"S": provider_id}
    item["sortKey"] = {"S": sort_key(mrn, date_time_utc)}
    item[MRN_COLUMN] = {"S": mrn}
    item[DATE_TIME_COLUMN] = {"S": date_time_utc}
    item["date_time_original"] = {"S": fields[header.date_time_index]}
    item["upload_id"] = {"S": upload_id}
    item["source_line"] = {"N": str(source_line)}
    item["ingested_at"] = {"S": ingested_at}
    return item
