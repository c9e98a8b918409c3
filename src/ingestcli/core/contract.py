"""The CSV contract: what a patient-records file must hold, and how a row becomes an item.

`ingest validate` and the ingest Lambda both judge rows with this module, so a file
gets the same verdicts on a laptop and in AWS. It uses only the standard library and
python-dateutil, which the Lambda runtime already ships.

Error messages never quote a value from the file: they may end up next to other
tenants' logs, and a medical record number is patient data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from dateutil import tz as dateutil_tz

MRN_COLUMN = "medical_record_number"
DATE_TIME_COLUMN = "date_time"
REQUIRED_COLUMNS = (MRN_COLUMN, DATE_TIME_COLUMN)
KEY_ATTRIBUTES = ("providerId", "sortKey")
BOOKKEEPING_ATTRIBUTES = ("date_time_original", "upload_id", "source_line", "ingested_at")
RESERVED_COLUMNS = frozenset(KEY_ATTRIBUTES + BOOKKEEPING_ATTRIBUTES)
_RESERVED_FOLDED = frozenset(name.lower() for name in RESERVED_COLUMNS)
KEY_SEPARATOR = "#"
MAX_MRN_LENGTH = 64
MAX_ITEM_BYTES = 400 * 1024
MAX_OFFSET = timedelta(hours=14)
EXAMPLE_DATE_TIME = "2024-03-01T14:30:00-05:00"

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
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            raise ContractViolation(
                "empty_column_name", f"column {position} of the header has no name"
            )
        if name in seen:
            raise ContractViolation(
                "duplicate_column", f"the header names column '{name}' twice", name
            )
        seen.add(name)
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


def resolve_time_zone(name: str) -> tzinfo:
    """Look up an IANA time zone such as America/New_York; raise ValueError if unknown."""
    zone = None
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", name, re.ASCII):
        zone = dateutil_tz.gettz(name)
    if not isinstance(zone, dateutil_tz.tzfile | dateutil_tz.tzutc):
        raise ValueError(f"unknown time zone '{name}': give an IANA name such as America/New_York")
    return zone


# ISO 8601, extended (2024-03-01T14:30:00.5-05:00) or basic (20240301T143000-0500) format.
_ISO_DATE_TIME = re.compile(
    r"""(?P<year>\d{4})(?P<date_sep>-?)(?P<month>\d{2})(?P=date_sep)(?P<day>\d{2})
    (?:[Tt\ ](?P<hour>\d{2})(?P<time_sep>:?)(?P<minute>\d{2})
        (?:(?P=time_sep)(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
        (?P<offset>[Zz]|(?P<sign>[+-])(?P<off_hour>\d{2})(?::?(?P<off_minute>\d{2}))?)?
    )?""",
    re.ASCII | re.VERBOSE,
)

# The common shape, extended format with a Z or ±hh:mm offset, takes a fast path of table
# look-ups and string slicing (int() and format specs cost more than the CSV parsing);
# each calendar date is checked, and its neighbours found, once and then cached.
_fast_shape = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)", re.ASCII
).fullmatch
_MINUTES_PER_DAY = 24 * 60
_CLOCK = [f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(_MINUTES_PER_DAY)]
_MINUTE_OF_DAY = {clock: minute for minute, clock in enumerate(_CLOCK)}
_OFFSET_MINUTES = {
    f"{sign}{clock}": minute if sign == "-" else -minute  # what to add to reach UTC
    for sign in "+-"
    for minute, clock in enumerate(_CLOCK[: 14 * 60 + 1])
}
_OFFSET_MINUTES["Z"] = 0
_NO_NEIGHBOUR = ""
_date_neighbours: dict[str, tuple[str, str]] = {}
_DATE_CACHE_LIMIT = 50_000


def _neighbours(day: str) -> tuple[str, str] | None:
    """The days before and after a valid ISO date ('' past the calendar's ends), else None."""
    known = _date_neighbours.get(day)
    if known is not None:
        return known
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return None
    before = parsed.toordinal() - 1
    after = parsed.toordinal() + 1
    known = (
        date.fromordinal(before).isoformat() if before >= 1 else _NO_NEIGHBOUR,
        date.fromordinal(after).isoformat() if after <= date.max.toordinal() else _NO_NEIGHBOUR,
    )
    if len(_date_neighbours) >= _DATE_CACHE_LIMIT:
        _date_neighbours.clear()
    _date_neighbours[day] = known
    return known


def normalise_date_time(value: str, zone: tzinfo | None = None) -> str:
    """Return `value` in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ, or raise ContractViolation.

    The fraction is always six digits so that the strings sort in time order: with an
    optional fraction, 10:00:00.5Z would sort before 10:00:00Z. A value without an
    offset is read in `zone` when one is given, and refused otherwise.
    """
    if not _fast_shape(value):
        return _normalise_slowly(value.strip(), zone)
    day = value[:10]
    neighbours = _date_neighbours.get(day) or _neighbours(day)
    minute = _MINUTE_OF_DAY.get(value[11:16])
    offset_at = len(value) - 1 if value[-1] == "Z" else len(value) - 6
    to_utc = _OFFSET_MINUTES.get(value[offset_at:])
    if neighbours is None or minute is None or to_utc is None:
        return _normalise_slowly(value, zone)  # to say exactly what is wrong
    seconds = value[16:19] + (
        ".000000Z" if offset_at == 19 else (value[19:offset_at] + "00000")[:7] + "Z"
    )
    if to_utc:
        shift, minute = divmod(minute + to_utc, _MINUTES_PER_DAY)
        if shift:
            day = neighbours[shift > 0]
            if not day:
                return _normalise_slowly(value, zone)
    return day + "T" + _CLOCK[minute] + seconds


def _normalise_slowly(value: str, zone: tzinfo | None) -> str:
    def violation(code: str, message: str) -> ContractViolation:
        return ContractViolation(code, message, DATE_TIME_COLUMN)

    if not value:
        raise violation("date_time_missing", "the date and time are empty")
    match = _ISO_DATE_TIME.fullmatch(value)
    if match is None:
        raise violation(
            "date_time_format", f"not an ISO 8601 date and time (such as {EXAMPLE_DATE_TIME})"
        )
    parts = match.groupdict()
    if parts["hour"] is None:
        raise violation("date_time_no_time", "has a date but no time of day")
    if (parts["date_sep"] == "-") != (parts["time_sep"] == ":"):
        raise violation(
            "date_time_format",
            "mixes the basic (20240301T1430) and extended (2024-03-01T14:30) ISO 8601 formats",
        )
    fraction = parts["fraction"] or ""
    if len(fraction) > 6 and fraction[6:].strip("0"):
        raise violation(
            "date_time_too_precise", "is more precise than a microsecond, which cannot be stored"
        )
    second = int(parts["second"] or 0)
    if second == 60:
        raise violation(
            "date_time_impossible", "has second 60 (a leap second), which cannot be stored"
        )
    try:
        moment = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            second,
            int(fraction[:6].ljust(6, "0")),
        )
    except ValueError as exc:
        raise violation("date_time_impossible", f"is not a real date and time: {exc}") from None
    if parts["offset"] is None:
        offset = _offset_in_zone(moment, zone)
    elif parts["offset"] in "Zz":
        offset = timedelta(0)
    else:
        offset_minute = int(parts["off_minute"] or 0)
        offset = timedelta(hours=int(parts["off_hour"]), minutes=offset_minute)
        if offset_minute > 59 or offset > MAX_OFFSET:
            raise violation("date_time_offset_range", "has a UTC offset beyond ±14:00")
        if parts["sign"] == "-":
            offset = -offset
    try:
        utc = moment - offset
    except OverflowError:
        raise violation(
            "date_time_out_of_range", "falls outside the years 0001-9999 once converted to UTC"
        ) from None
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def _offset_in_zone(moment: datetime, zone: tzinfo | None) -> timedelta:
    """The UTC offset of a local time, refusing times that a DST change skips or repeats."""
    if zone is None:
        raise ContractViolation(
            "date_time_no_offset",
            "has no UTC offset: add one (such as -05:00 or Z), or give the provider a time zone",
            DATE_TIME_COLUMN,
        )
    local = moment.replace(tzinfo=zone)
    try:
        exists = dateutil_tz.datetime_exists(local)
        ambiguous = dateutil_tz.datetime_ambiguous(local)
        offset = local.utcoffset()
    except OverflowError:  # the zone's rules were looked up past year 1 or 9999
        raise ContractViolation(
            "date_time_out_of_range",
            "falls outside the years 0001-9999 once converted to UTC",
            DATE_TIME_COLUMN,
        ) from None
    if not exists:
        raise ContractViolation(
            "date_time_nonexistent",
            "does not exist in the provider's time zone (clocks skip it); add a UTC offset",
            DATE_TIME_COLUMN,
        )
    if ambiguous:
        raise ContractViolation(
            "date_time_ambiguous",
            "happens twice in the provider's time zone (clocks go back); add a UTC offset",
            DATE_TIME_COLUMN,
        )
    assert offset is not None  # a tzfile always answers for an aware datetime
    return offset


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
