"""Properties of the contract over generated input (hypothesis).

- any valid generated row passes, at the right line, and to_item keeps every column as sent;
- any spelling of an instant normalises to it, a fraction of 7 to 9 digits cut (not rounded);
- a normalised date_time sorts as a string exactly as the instants sort in time;
- normalising is idempotent on its own output;
- the fast path and the general slow path of normalise_date_time always agree.
"""

from __future__ import annotations

import csv
import io
import re
import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingestcli.core import contract, validate
from ingestcli.core import date_time as dates
from ingestcli.core import lines as line_reader
from ingestcli.core.contract import ContractViolation

SETTINGS = settings(max_examples=200, deadline=None)

MRN_ALPHABET = string.ascii_letters + string.digits + "._-"
NORMALISED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Offsets in minutes, with the usual ones (and the extremes) drawn often.
offsets = st.one_of(
    st.sampled_from([0, 60, -300, -240, 330, 345, -570, 570, 840, -840, 765]),
    st.integers(-14 * 60, 14 * 60),
)
# Local times whose UTC instant stays inside years 1-9999 whatever the offset.
local_times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30, 23, 59))
aware_times = st.builds(
    lambda local, minutes: local.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    local_times,
    offsets,
)


def utc_text(moment: datetime) -> str:
    """What normalising must give: UTC, always six fraction digits."""
    utc = (moment - moment.utcoffset()).replace(tzinfo=None)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond:06d}Z"
    )


@st.composite
def iso_texts(draw, moments=aware_times) -> tuple[datetime, str]:
    """An aware datetime and one of the ISO 8601 spellings the contract accepts for it."""
    moment = draw(moments)
    basic = draw(st.booleans())
    date_sep, time_sep = ("", "") if basic else ("-", ":")
    text = f"{moment.year:04d}{date_sep}{moment.month:02d}{date_sep}{moment.day:02d}"
    text += draw(st.sampled_from(["T", "T", " ", "t"]))
    text += f"{moment.hour:02d}{time_sep}{moment.minute:02d}"
    if moment.second or moment.microsecond or draw(st.booleans()):
        text += f"{time_sep}{moment.second:02d}"
        digits = f"{moment.microsecond:06d}".rstrip("0")
        if digits or draw(st.booleans()):
            if draw(st.booleans()):  # 7 to 9 digits (.NET, SQL Server, Java): cut, not rounded
                digits = f"{moment.microsecond:06d}" + draw(st.text("0123456789", max_size=3))
            else:
                digits = (digits or "0") + "0" * draw(st.integers(0, 3))
            text += draw(st.sampled_from([".", ".", ","])) + digits
    minutes = int(moment.utcoffset().total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    spellings = [f"{sign}{hours:02d}:{rest:02d}", f"{sign}{hours:02d}{rest:02d}"]
    if not rest:
        spellings.append(f"{sign}{hours:02d}")
    if not minutes:
        spellings += ["Z", "z", "-00:00"]
    text += draw(st.sampled_from(spellings))
    return moment, text


# --------------------------------------------------------------------------- date_time


def _at(*fields: int, minutes: int) -> datetime:
    return datetime(*fields, tzinfo=timezone(timedelta(minutes=minutes)))


@SETTINGS
@given(iso_texts())
@example((_at(2024, 3, 1, 14, 30, minutes=330), "2024-03-01T14:30:00+05:30"))
@example((_at(2024, 3, 1, 0, 0, minutes=-570), "2024-03-01T00:00-09:30"))
@example((_at(2024, 2, 29, 23, 0, minutes=-60), "20240229T2300-01"))
@example((_at(9999, 12, 30, 23, 59, minutes=-840), "9999-12-30T23:59:00-14:00"))
@example((_at(1, 1, 2, 0, 0, minutes=840), "0001-01-02T00:00:00+14:00"))
@example((_at(9999, 12, 31, 23, 59, 59, 999999, minutes=0), "9999-12-31T23:59:59.999999999Z"))
@example((_at(2024, 3, 1, 14, 30, 0, 123456, minutes=-300), "2024-03-01T14:30:00.1234569-05:00"))
def test_any_valid_spelling_normalises_to_its_utc_instant(case):
    moment, text = case
    expected = utc_text(moment)
    assert dates.normalise_date_time(text) == expected
    assert dates._normalise_slowly(text, None) == expected


@SETTINGS
@given(iso_texts(), iso_texts())
def test_normalised_strings_sort_in_time_order(first, second):
    (moment_a, text_a), (moment_b, text_b) = first, second
    a, b = dates.normalise_date_time(text_a), dates.normalise_date_time(text_b)
    assert (a < b) == (moment_a < moment_b)
    assert (a == b) == (moment_a == moment_b)


@st.composite
def close_pairs(draw):
    """Two instants at most a day apart, each written with its own offset."""
    local = draw(st.datetimes(min_value=datetime(1, 1, 4), max_value=datetime(9999, 12, 28)))
    first = local.replace(tzinfo=timezone(timedelta(minutes=draw(offsets))))
    delta = draw(
        st.one_of(
            st.integers(-2_000_000, 2_000_000).map(lambda us: timedelta(microseconds=us)),
            st.integers(-24 * 60, 24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
        )
    )
    zone = timezone(timedelta(minutes=draw(offsets)))
    second = (first + delta).astimezone(zone)
    return draw(iso_texts(st.just(first))), draw(iso_texts(st.just(second)))


@SETTINGS
@given(close_pairs())
def test_close_instants_in_different_offsets_sort_in_time_order(pair):
    (moment_a, text_a), (moment_b, text_b) = pair
    a, b = dates.normalise_date_time(text_a), dates.normalise_date_time(text_b)
    assert (a < b) == (moment_a < moment_b)
    assert (a == b) == (moment_a == moment_b)


@st.composite
def same_second_pairs(draw):
    """Two spellings of instants in one second, one of them whole and one with a fraction."""
    moment = draw(aware_times).replace(microsecond=0)
    later = moment.replace(microsecond=draw(st.integers(1, 999_999)))
    return draw(iso_texts(st.just(moment))), draw(iso_texts(st.just(later)))


@SETTINGS
@given(same_second_pairs())
def test_a_fraction_sorts_after_the_whole_second(pair):
    (_whole, whole_text), (_later, later_text) = pair
    assert dates.normalise_date_time(whole_text) < dates.normalise_date_time(later_text)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00.5Z"),
        ("2024-03-01T10:00Z", "2024-03-01T10:00:00.000001Z"),
        ("2024-03-01T10:00:00.5Z", "2024-03-01T10:00:01Z"),
        ("2024-03-01T10:00:00.09Z", "2024-03-01T10:00:00.1Z"),
        ("2024-03-01T15:00:00+05:00", "2024-03-01T10:00:00.1Z"),
        ("2024-03-01T10:00:00.9-00:01", "2024-03-01T10:01:00.95Z"),
    ],
)
def test_sub_second_examples_sort_in_time_order(earlier, later):
    assert dates.normalise_date_time(earlier) < dates.normalise_date_time(later)


@SETTINGS
@given(iso_texts())
def test_normalising_is_idempotent(case):
    _moment, text = case
    once = dates.normalise_date_time(text)
    assert NORMALISED.fullmatch(once)
    assert dates.normalise_date_time(once) == once
    assert dates._normalise_slowly(once, None) == once


def _outcome(normalise, value: str) -> tuple[str, str]:
    try:
        return "ok", normalise(value)
    except ContractViolation as violation:
        return "refused", violation.code


def _two_digits(low: int, high: int):
    return st.integers(low, high).map("{:02d}".format)


@st.composite
def date_time_like(draw) -> str:
    """Strings near the accepted shapes, valid or not: every field may be out of range."""
    year = draw(
        st.sampled_from(["0000", "0001", "1999", "2024", "9999"])
        | st.integers(0, 9999).map("{:04d}".format)
    )
    extended_date = draw(st.booleans())
    extended_time = draw(st.sampled_from([extended_date] * 4 + [not extended_date]))
    date_sep, time_sep = ("-" if extended_date else ""), (":" if extended_time else "")
    text = f"{year}{date_sep}{draw(_two_digits(0, 13))}{date_sep}{draw(_two_digits(0, 32))}"
    if draw(st.integers(0, 9)) == 0:
        return text  # date only
    text += draw(st.sampled_from(["T", " ", "t"]))
    text += f"{draw(_two_digits(0, 25))}{time_sep}{draw(_two_digits(0, 61))}"
    if draw(st.booleans()):
        text += f"{time_sep}{draw(_two_digits(0, 61))}"
        if draw(st.booleans()):
            text += draw(st.sampled_from(".,")) + draw(
                st.text("0123456789", min_size=1, max_size=12)
            )
    text += draw(
        st.sampled_from(["Z", "z", ""])
        | st.builds(
            lambda sign, hours, minutes, colon: f"{sign}{hours}{colon}{minutes}",
            st.sampled_from("+-"),
            _two_digits(0, 15),
            _two_digits(0, 61),
            st.sampled_from([":", ":", ""]),
        )
        | st.builds(lambda sign, hours: sign + hours, st.sampled_from("+-"), _two_digits(0, 15))
    )
    return text


@settings(max_examples=300, deadline=None)
@given(date_time_like())
@example("2024-02-29T23:59:59.999999-14:00")
@example("0001-01-01T00:00:00+00:01")
@example("9999-12-31T23:59:59-00:01")
@example("2023-02-29T10:00:00Z")
@example("2024-03-01T24:00:00Z")
@example("2024-03-01T10:00:00+14:01")
@example("2024-03-01T10:00:00+05:60")
def test_fast_path_and_slow_path_agree_on_any_value(value):
    assert _outcome(dates.normalise_date_time, value) == _outcome(
        lambda text: dates._normalise_slowly(text, None), value
    )


@SETTINGS
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30, 23, 59)),
    offsets,
    st.sampled_from(["T", " "]),
    st.integers(0, 6),
)
def test_fast_path_and_slow_path_agree_on_the_common_shape(local, minutes, separator, digits):
    """Extended format with Z or ±hh:mm, the shape the fast path takes, with fractions."""
    sign = "-" if minutes < 0 else "+"
    offset = "Z" if minutes == 0 else f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    fraction = f".{local.microsecond:06d}"[: digits + 1] if digits else ""
    value = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}{separator}"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}{fraction}{offset}"
    )
    assert dates._fast_shape(value)
    slow = dates._normalise_slowly(value, None)
    assert dates.normalise_date_time(value) == slow


# --------------------------------------------------------------------------- whole rows


def _mrns():
    padding = st.sampled_from(["", "", " ", "  ", "\t"])
    return st.builds(
        lambda before, mrn, after: before + mrn + after,
        padding,
        st.text(MRN_ALPHABET, min_size=1, max_size=64),
        padding,
    )


_RESERVED_OR_KEY = {name.lower() for name in contract.RESERVED_COLUMNS} | {
    contract.MRN_COLUMN,
    contract.DATE_TIME_COLUMN,
}
column_names = st.text(min_size=1, max_size=12).filter(
    lambda name: (
        name.strip() == name
        and name
        and not name.startswith("\ufeff")
        and name.lower() not in _RESERVED_OR_KEY
    )
)
cell_text = st.text(
    st.characters(codec="utf-8") | st.sampled_from([",", '"', "\n", "\r", " "]),
    max_size=30,
)


@st.composite
def csv_files(draw):
    """A valid file: header, rows of (raw mrn, moment, date_time text, extra values)."""
    extras = draw(st.lists(column_names, max_size=4, unique=True))
    names = draw(st.permutations([contract.MRN_COLUMN, contract.DATE_TIME_COLUMN, *extras]))
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        moment, text = draw(iso_texts())
        values = {name: draw(cell_text) for name in extras}
        values[contract.MRN_COLUMN] = draw(_mrns())
        values[contract.DATE_TIME_COLUMN] = text
        rows.append((moment, [values[name] for name in names]))
    # csv.writer quotes a lone CR only when it is part of the line terminator, so LF-only
    # files quote every field.
    dialect = draw(
        st.sampled_from(
            [("\r\n", csv.QUOTE_MINIMAL), ("\r\n", csv.QUOTE_ALL), ("\n", csv.QUOTE_ALL)]
        )
    )
    bom = draw(st.booleans())
    return names, rows, dialect, bom


def _record(fields: list[str], dialect: tuple[str, int]) -> str:
    terminator, quoting = dialect
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator=terminator, quoting=quoting).writerow(fields)
    return buffer.getvalue()


@settings(max_examples=150, deadline=None)
@given(csv_files(), st.booleans())
def test_any_valid_generated_row_passes_and_round_trips(file, as_text):
    names, rows, dialect, bom = file
    header = _record(names, dialect)
    records = [_record(fields, dialect) for _moment, fields in rows]
    text = header + "".join(records)
    stream = (
        io.StringIO(("\ufeff" if bom else "") + text, newline="")
        if as_text
        else io.BytesIO((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    )
    validation = validate.CsvValidation(stream)
    assert validation.header.names == tuple(names)
    verdicts = list(validation.rows())
    assert len(verdicts) == len(rows)

    line = 1 + len(LINE_BREAK.findall(header))
    for (moment, fields), record, verdict in zip(rows, records, verdicts, strict=True):
        got_line, got_fields, mrn, date_time, problems = verdict
        assert problems == ()
        assert (got_line, got_fields) == (line, fields)
        mrn_sent = fields[names.index(contract.MRN_COLUMN)]
        date_time_sent = fields[names.index(contract.DATE_TIME_COLUMN)]
        assert (mrn, date_time) == (mrn_sent.strip(), utc_text(moment))

        item = contract.to_item(
            validation.header,
            got_fields,
            mrn,
            date_time,
            provider_id="clinic-1",
            upload_id="upload-1",
            source_line=got_line,
            ingested_at="2024-01-01T00:00:00.000000Z",
        )
        for name, value in zip(names, fields, strict=True):
            if name not in (contract.MRN_COLUMN, contract.DATE_TIME_COLUMN):
                assert item[name] == {"S": value}
        assert item[contract.MRN_COLUMN] == {"S": mrn_sent.strip()}
        assert item[contract.DATE_TIME_COLUMN] == {"S": utc_text(moment)}
        assert item["date_time_original"] == {"S": date_time_sent}
        assert item["sortKey"] == {"S": f"{mrn_sent.strip()}#{utc_text(moment)}"}
        assert item["source_line"] == {"N": str(line)}
        assert len(item) == len(names) + 6
        line += len(LINE_BREAK.findall(record))


@SETTINGS
@given(st.lists(iso_texts(), min_size=1, max_size=20))
def test_rows_sort_by_sort_key_in_time_order(cases):
    """One patient's items, ordered by sortKey, come out in time order."""
    keys = [contract.sort_key("MRN-1", dates.normalise_date_time(text)) for _m, text in cases]
    by_key = [moment for _key, moment in sorted(zip(keys, (m for m, _t in cases), strict=True))]
    assert by_key == sorted(moment for moment, _text in cases)


# Pieces of hostile CSV: line endings of every kind, quotes, bad UTF-8, multi-byte text.
csv_pieces = st.sampled_from(
    [
        b"M1,2024-03-01T10:00:00Z,a",
        b"M2,2024-03-01T10:00:00+01:00,\xc3\xa9t\xc3\xa9",
        b'M3,2024-03-01T10:00:00Z,"quoted\r\nvalue"',
        b"M4,2024-02-30T10:00:00Z,bad date",
        b"M#5,2024-03-01T10:00:00Z,bad mrn",
        b"M6,2024-03-01T10:00:00Z,\xff\xfe",
        b"M7,only two",
        b'M8,2024-03-01T10:00:00Z,"unclosed',
        b"\r\n",
        b"\n",
        b"\r",
        b",",
        b'"',
        b"",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(csv_pieces, max_size=30), st.booleans(), st.sampled_from([5, 64, 1 << 16]), st.data()
)
def test_resuming_at_any_record_boundary_gives_the_same_verdicts(pieces, bom, block, data):
    """What a continuation run relies on: reading on from `position()` with `Resume` (a
    Range read of the file from that byte) yields exactly the verdicts a whole read does,
    whatever the size of the blocks the file is read in."""
    saved, line_reader._BUFFER_BYTES = line_reader._BUFFER_BYTES, block
    try:
        _check_resuming(pieces, bom, data)
    finally:
        line_reader._BUFFER_BYTES = saved


def _check_resuming(pieces, bom, data):
    header = b"medical_record_number,date_time,note\r\n"
    body = (b"\xef\xbb\xbf" if bom else b"") + header + b"".join(pieces)
    whole = validate.CsvValidation(io.BytesIO(body))
    verdicts = []
    positions = [whole.position()]
    for verdict in whole.rows():
        verdicts.append(verdict)
        positions.append(whole.position())
    stop = data.draw(st.integers(0, len(verdicts)))
    offset, line = positions[stop]
    resumed = validate.CsvValidation(
        io.BytesIO(body[offset:]), resume=validate.Resume(whole.header, offset, line)
    )
    assert list(resumed.rows()) == verdicts[stop:]
    assert whole.header_end == positions[0][0]
