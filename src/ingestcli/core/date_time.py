"""ISO 8601 dates and times, normalised to the UTC string the records' sort key orders by.

Part of the CSV contract (contract.py holds the rest: header, MRN, item size). It is a module
of its own because it is the contract's one large rule, and the hot one: every row's
`date_time` goes through `normalise_date_time`, whose common shapes take a fast path of
table look-ups and caches. It uses the standard library and python-dateutil (for time
zones), which the Lambda runtime ships, and like the rest of the contract its messages
never quote a value from the file.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo

from dateutil import tz as dateutil_tz

from ingestcli.core.contract import DATE_TIME_COLUMN, ContractViolation
from ingestcli.core.messages import AMBIGUOUS_LOCAL_TIME, NO_OFFSET, NONEXISTENT_LOCAL_TIME

MAX_OFFSET = timedelta(hours=14)
# .NET's round-trip format and SQL Server's datetime2(7) write seven fraction digits, Java
# and others nine: all are read, and cut (never rounded) to the microseconds that are stored,
# as Python's and dateutil's ISO 8601 parsers do. Digits past the ninth must be zeros.
MAX_FRACTION_DIGITS = 9
EXAMPLE_DATE_TIME = "2024-03-01T14:30:00-05:00"


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

# The common shape, extended format with a Z or ±hh:mm offset and at most nine fraction
# digits, takes a fast path of table look-ups and string slicing (int() and format specs
# cost more than the CSV parsing); each calendar date is checked, and its neighbours found,
# once and then cached.
_fast_shape = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)", re.ASCII
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
    optional fraction, 10:00:00.5Z would sort before 10:00:00Z. Up to nine digits are read
    and cut to six, not rounded, so two values that differ past the microsecond are one key.
    A value without an offset is read in `zone` when one is given, and refused otherwise.
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
    # The seconds, then the point and six digits: padded, or cut (not rounded) past the sixth.
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
    if len(fraction) > MAX_FRACTION_DIGITS and fraction[MAX_FRACTION_DIGITS:].strip("0"):
        raise violation(
            "date_time_too_precise",
            f"has more than {MAX_FRACTION_DIGITS} fraction digits (finer than a nanosecond): "
            f"cut it to {MAX_FRACTION_DIGITS} or fewer",
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
        raise ContractViolation("date_time_no_offset", NO_OFFSET, DATE_TIME_COLUMN)
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
        raise ContractViolation("date_time_nonexistent", NONEXISTENT_LOCAL_TIME, DATE_TIME_COLUMN)
    if ambiguous:
        raise ContractViolation("date_time_ambiguous", AMBIGUOUS_LOCAL_TIME, DATE_TIME_COLUMN)
    assert offset is not None  # a tzfile always answers for an aware datetime
    return offset
