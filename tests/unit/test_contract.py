"""The CSV contract, rule by rule: header names, medical record numbers, date_time values.

Each table row names the input and the stable code it must produce, so deleting a rule
from contract.py makes at least one row here fail. Messages are checked only loosely:
they are for people and may be reworded.
"""

from __future__ import annotations

import re

import pytest

from ingestcli.core import contract
from ingestcli.core import date_time as dates
from ingestcli.core.contract import ContractViolation

NEW_YORK = dates.resolve_time_zone("America/New_York")
MRN = contract.MRN_COLUMN
DT = contract.DATE_TIME_COLUMN
NORMALISED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def violation_of(check, *args) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        check(*args)
    return caught.value


# --------------------------------------------------------------------------- header


@pytest.mark.parametrize(
    ("fields", "names", "mrn_index", "date_time_index"),
    [
        pytest.param(
            ["medical_record_number", "date_time"],
            ("medical_record_number", "date_time"),
            0,
            1,
            id="minimal",
        ),
        pytest.param(
            ["  medical_record_number ", "\tdate_time", " note  "],
            ("medical_record_number", "date_time", "note"),
            0,
            1,
            id="names-trimmed",
        ),
        pytest.param(
            ["note", "date_time", "ward", "medical_record_number"],
            ("note", "date_time", "ward", "medical_record_number"),
            3,
            1,
            id="reordered-columns",
        ),
        pytest.param(
            ["\ufeffmedical_record_number", "date_time"],
            ("medical_record_number", "date_time"),
            0,
            1,
            id="bom-in-text-dropped",
        ),
        pytest.param(
            ["\ufeff  date_time ", "medical_record_number"],
            ("date_time", "medical_record_number"),
            1,
            0,
            id="bom-then-spaces-dropped",
        ),
        pytest.param(
            ["medical_record_number", "date_time", "Note", "note"],
            ("medical_record_number", "date_time", "Note", "note"),
            0,
            1,
            id="names-differing-in-case-are-distinct",
        ),
    ],
)
def test_parse_header_accepts(fields, names, mrn_index, date_time_index):
    header = contract.parse_header(fields)
    assert header.names == names
    assert header.mrn_index == mrn_index
    assert header.date_time_index == date_time_index
    assert header.width == len(names)


@pytest.mark.parametrize(
    ("fields", "code", "column"),
    [
        pytest.param(["medical_record_number", "date_time", "note", "note"],
                     "duplicate_column", None, id="duplicate"),
        pytest.param(["medical_record_number", "date_time", "note", " note "],
                     "duplicate_column", None, id="duplicate-after-trimming"),
        pytest.param(["date_time", "medical_record_number", "date_time"],
                     "duplicate_column", None, id="duplicate-key-column"),
        pytest.param(["medical_record_number", "", "date_time"],
                     "empty_column_name", None, id="empty-name"),
        pytest.param(["medical_record_number", "date_time", "   "],
                     "empty_column_name", None, id="blank-name"),
        pytest.param(["medical_record_number", "date_time", ""],
                     "empty_column_name", None, id="trailing-comma"),
        pytest.param(["medical_record_number", "date_time", "providerId"],
                     "reserved_column", "providerId", id="reserved-providerId"),
        pytest.param(["medical_record_number", "date_time", "sortKey"],
                     "reserved_column", "sortKey", id="reserved-sortKey"),
        pytest.param(["medical_record_number", "date_time", "date_time_original"],
                     "reserved_column", "date_time_original", id="reserved-date_time_original"),
        pytest.param(["medical_record_number", "date_time", "upload_id"],
                     "reserved_column", "upload_id", id="reserved-upload_id"),
        pytest.param(["medical_record_number", "date_time", "source_line"],
                     "reserved_column", "source_line", id="reserved-source_line"),
        pytest.param(["medical_record_number", "date_time", "ingested_at"],
                     "reserved_column", "ingested_at", id="reserved-ingested_at"),
        pytest.param(["medical_record_number", "date_time", "PROVIDERID"],
                     "reserved_column", "PROVIDERID", id="reserved-upper-case"),
        pytest.param(["medical_record_number", "date_time", " SortKey "],
                     "reserved_column", "SortKey", id="reserved-mixed-case-trimmed"),
        pytest.param(["date_time", "note"],
                     "missing_column", "medical_record_number", id="missing-mrn"),
        pytest.param(["medical_record_number", "note"],
                     "missing_column", "date_time", id="missing-date_time"),
        pytest.param(["mrn", "datetime"],
                     "missing_column", "medical_record_number", id="missing-both"),
        pytest.param(["medical_record_number"],
                     "missing_column", "date_time", id="single-column"),
    ],
)  # fmt: skip
def test_parse_header_refuses(fields, code, column):
    violation = violation_of(contract.parse_header, fields)
    assert violation.code == code
    assert violation.column == column
    assert violation.message


def test_missing_column_hints_at_a_name_that_differs_only_in_case():
    violation = violation_of(contract.parse_header, ["Medical_Record_Number", "date_time"])
    assert violation.code == "missing_column"
    assert violation.column == MRN
    assert "Medical_Record_Number" in violation.message


def test_missing_column_without_a_near_name_gives_no_hint():
    violation = violation_of(contract.parse_header, ["mrn", "date_time"])
    assert violation.code == "missing_column"
    assert "found" not in violation.message


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        pytest.param("medical_record_number;date_time;note\n", ";", id="semicolons"),
        pytest.param("medical_record_number\tdate_time\r\n", "\t", id="tabs"),
        pytest.param("medical_record_number|date_time", "|", id="bars-no-newline"),
        pytest.param('"medical_record_number";"date_time";"a;b"\n', ";", id="quoted-r-write.csv2"),
        pytest.param(" medical_record_number ; date_time ;note, with comma\n", ";", id="padded"),
        pytest.param("\ufeffmedical_record_number;date_time\n", ";", id="bom"),
        pytest.param("\n\r\nmedical_record_number;date_time\n", ";", id="after-blank-lines"),
        pytest.param("note;date_time\tmedical_record_number\n", None, id="no-one-delimiter"),
        pytest.param("medical_record_number;datetime\n", None, id="a-column-still-missing"),
        pytest.param("Medical_Record_Number;date_time\n", None, id="wrong-case"),
        pytest.param("medical_record_number,date_time;x,date_time\n", None, id="commas-hold-both"),
        pytest.param("mrn,when\n", None, id="plain-missing-column"),
        pytest.param("", None, id="nothing"),
        pytest.param('medical_record_number;"date_time\n', ";", id="unclosed-quote"),
    ],
)  # fmt: skip
def test_other_delimiter_is_the_one_that_gives_both_required_columns(text, delimiter):
    assert contract.other_delimiter(text) == delimiter


def test_reserved_names_are_exactly_the_key_and_bookkeeping_attributes():
    expected = {
        "providerId",
        "sortKey",
        "date_time_original",
        "upload_id",
        "source_line",
        "ingested_at",
    }
    assert expected == contract.RESERVED_COLUMNS


def test_value_budget_counts_the_header_names():
    short = contract.parse_header(["medical_record_number", "date_time"])
    longer = contract.parse_header(["medical_record_number", "date_time", "é" * 10])
    assert short.value_budget == (
        contract.MAX_ITEM_BYTES
        - contract.ITEM_OVERHEAD_BYTES
        - len("medical_record_number")
        - len("date_time")
    )
    assert short.value_budget - longer.value_budget == 20  # UTF-8 bytes, not characters


# --------------------------------------------------------------------------- MRN


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("A", "A", id="one-char"),
        pytest.param("MRN-0001_a.9", "MRN-0001_a.9", id="all-allowed-kinds"),
        pytest.param("M" * 64, "M" * 64, id="64-chars"),
        pytest.param("  A1  ", "A1", id="trimmed-spaces"),
        pytest.param("\tA1\r", "A1", id="trimmed-tab"),
        pytest.param(" " + "M" * 64 + " ", "M" * 64, id="64-after-trimming"),
        pytest.param("...", "...", id="only-dots"),
    ],
)
def test_check_mrn_accepts(value, expected):
    assert contract.check_mrn(value) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param("", "mrn_missing", id="empty"),
        pytest.param("    ", "mrn_missing", id="spaces-only"),
        pytest.param("M" * 65, "mrn_too_long", id="65-chars"),
        pytest.param(" " + "M" * 65, "mrn_too_long", id="65-after-trimming"),
        pytest.param("MRN#1", "mrn_invalid_characters", id="hash-key-separator"),
        pytest.param("A 1", "mrn_invalid_characters", id="space-inside"),
        pytest.param("A/1", "mrn_invalid_characters", id="slash"),
        pytest.param("A+1", "mrn_invalid_characters", id="plus"),
        pytest.param("Zoë", "mrn_invalid_characters", id="unicode-letter"),
        pytest.param("\uff211", "mrn_invalid_characters", id="fullwidth-letter"),
        pytest.param("MRN\u0661\u0662\u0663", "mrn_invalid_characters", id="arabic-indic-digits"),
        pytest.param("\uff11\uff12\uff13", "mrn_invalid_characters", id="fullwidth-digits"),
        pytest.param("A\u200b1", "mrn_invalid_characters", id="zero-width-space"),
        pytest.param("A\x001", "mrn_invalid_characters", id="nul"),
        pytest.param("A\n1", "mrn_invalid_characters", id="newline-inside"),
    ],
)
def test_check_mrn_refuses(value, code):
    violation = violation_of(contract.check_mrn, value)
    assert violation.code == code
    assert violation.column == MRN
    if value.strip():
        assert value.strip() not in violation.message  # a message never quotes patient data


# --------------------------------------------------------------------------- date_time


def _slowly(value: str, zone=None) -> str:
    return dates._normalise_slowly(value.strip(), zone)


# Both the public entry point (fast path first) and the general slow path must hold each
# rule: the fast path only handles the common shapes and defers everything else.
NORMALISERS = [
    pytest.param(dates.normalise_date_time, id="normalise"),
    pytest.param(_slowly, id="slow-path"),
]


ACCEPTED = [
    # extended format, offsets of every accepted spelling
    ("2024-03-01T14:30:00Z", "2024-03-01T14:30:00.000000Z"),
    ("2024-03-01T14:30:00z", "2024-03-01T14:30:00.000000Z"),
    ("2024-03-01t14:30:00Z", "2024-03-01T14:30:00.000000Z"),
    ("2024-03-01T14:30:00+00:00", "2024-03-01T14:30:00.000000Z"),
    ("2024-03-01T14:30:00-00:00", "2024-03-01T14:30:00.000000Z"),
    ("2024-03-01T14:30:00-05:00", "2024-03-01T19:30:00.000000Z"),
    ("2024-03-01T14:30:00+05:30", "2024-03-01T09:00:00.000000Z"),
    ("2024-03-01T14:30:00-09:30", "2024-03-02T00:00:00.000000Z"),
    ("2024-03-01T14:30:00+0530", "2024-03-01T09:00:00.000000Z"),
    ("2024-03-01T14:30:00-05", "2024-03-01T19:30:00.000000Z"),
    ("2024-03-01T14:30:00+14:00", "2024-03-01T00:30:00.000000Z"),
    ("2024-03-01T14:30:00-14:00", "2024-03-02T04:30:00.000000Z"),
    ("2024-03-01T14:30:00+14", "2024-03-01T00:30:00.000000Z"),
    # separator, optional seconds, trimming
    ("2024-03-01 14:30:00Z", "2024-03-01T14:30:00.000000Z"),
    ("2024-03-01T14:30Z", "2024-03-01T14:30:00.000000Z"),
    ("2024-03-01 14:30-05:00", "2024-03-01T19:30:00.000000Z"),
    ("  2024-03-01T14:30:00Z\t", "2024-03-01T14:30:00.000000Z"),
    # fractions: '.' or ',', 1 to 9 digits, or more when the extra ones are zeros; digits
    # past the sixth are cut, never rounded (.NET's "o" and SQL Server write seven)
    ("2024-03-01T14:30:00.5Z", "2024-03-01T14:30:00.500000Z"),
    ("2024-03-01T14:30:00,25Z", "2024-03-01T14:30:00.250000Z"),
    ("2024-03-01T14:30:00.123456Z", "2024-03-01T14:30:00.123456Z"),
    ("2024-03-01T14:30:00.000001-05:00", "2024-03-01T19:30:00.000001Z"),
    ("2024-03-01T14:30:00.123456000Z", "2024-03-01T14:30:00.123456Z"),
    ("2024-03-01T14:30:00.100000000000Z", "2024-03-01T14:30:00.100000Z"),
    ("2024-03-01T14:30:00.999999+05:30", "2024-03-01T09:00:00.999999Z"),
    ("2024-03-01T14:30:00.1234567Z", "2024-03-01T14:30:00.123456Z"),
    ("2024-03-01T14:30:00.1234569Z", "2024-03-01T14:30:00.123456Z"),
    ("2024-03-01T14:30:00.12345678-05:00", "2024-03-01T19:30:00.123456Z"),
    ("2024-03-01T14:30:00.123456789+05:30", "2024-03-01T09:00:00.123456Z"),
    ("2024-03-01T14:30:00,9999999Z", "2024-03-01T14:30:00.999999Z"),
    ("2024-03-01 14:30:00.0000009Z", "2024-03-01T14:30:00.000000Z"),
    ("2024-03-01T14:30:00.1234567890Z", "2024-03-01T14:30:00.123456Z"),
    ("20240301T143000,0000001Z", "2024-03-01T14:30:00.000000Z"),
    # basic format
    ("20240301T143000Z", "2024-03-01T14:30:00.000000Z"),
    ("20240301T1430Z", "2024-03-01T14:30:00.000000Z"),
    ("20240301T143000-0500", "2024-03-01T19:30:00.000000Z"),
    ("20240301T143000,5+0530", "2024-03-01T09:00:00.500000Z"),
    ("20240301 143000.123+01", "2024-03-01T13:30:00.123000Z"),
    # rollover across midnight, month, year, leap day
    ("2024-03-01T23:30:00-01:00", "2024-03-02T00:30:00.000000Z"),
    ("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.000000Z"),
    ("2024-03-01T05:00:00+05:30", "2024-02-29T23:30:00.000000Z"),
    ("2024-02-28T23:30:00-01:00", "2024-02-29T00:30:00.000000Z"),
    ("2023-02-28T23:30:00-01:00", "2023-03-01T00:30:00.000000Z"),
    ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000000Z"),
    ("2024-01-31T23:00:00-02:00", "2024-02-01T01:00:00.000000Z"),
    ("2023-12-31T23:00:00-02:00", "2024-01-01T01:00:00.000000Z"),
    ("2024-01-01T01:00:00+02:00", "2023-12-31T23:00:00.000000Z"),
    ("2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000000Z"),
    # the calendar's ends, reachable without leaving it
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
    ("0001-01-01T23:00:00+14:00", "0001-01-01T09:00:00.000000Z"),
    ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
    ("9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999999Z"),  # rounding would overflow
    ("9999-12-31T00:00:00-14:00", "9999-12-31T14:00:00.000000Z"),
]


@pytest.mark.parametrize("normalise", NORMALISERS)
@pytest.mark.parametrize(
    ("value", "expected"), [pytest.param(value, expected, id=value) for value, expected in ACCEPTED]
)
def test_normalise_accepts(normalise, value, expected):
    assert normalise(value) == expected


@pytest.mark.parametrize("normalise", NORMALISERS)
@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "date_time_missing"),
        ("   ", "date_time_missing"),
        ("2024/03/01 14:30:00Z", "date_time_format"),
        ("03/01/2024 14:30", "date_time_format"),
        ("1 March 2024 14:30", "date_time_format"),
        ("1709303400", "date_time_format"),
        ("2024-W09-5T14:30:00Z", "date_time_format"),
        ("2024-061T14:30:00Z", "date_time_format"),
        ("\uff12\uff10\uff12\uff14-03-01T14:30:00Z", "date_time_format"),
        ("2024-03-01T\uff11\uff14:30:00Z", "date_time_format"),
        ("\u0662\u0660\u0662\u0664-03-01T14:30:00Z", "date_time_format"),
        ("2024-03-01T14Z", "date_time_format"),
        ("2024-03-01T14:30:00.Z", "date_time_format"),
        ("2024-03-01T14:30.5Z", "date_time_format"),
        ("2024-03-01T14:30:00 Z", "date_time_format"),
        ("2024-03-01T14:30:00+5:00", "date_time_format"),
        ("2024-03-02T", "date_time_format"),
        ("2024-3-1T14:30:00Z", "date_time_format"),
        ("2024-0301T14:30:00Z", "date_time_format"),
        ("+2024-03-01T14:30:00Z", "date_time_format"),
        ("20240301T14:30:00Z", "date_time_format"),
        ("2024-03-01T143000Z", "date_time_format"),
        ("2024-03-01T1430Z", "date_time_format"),
        ("2024-03-01", "date_time_no_time"),
        ("20240301", "date_time_no_time"),
        ("2024-03-01T14:30:00", "date_time_no_offset"),
        ("2024-03-01 14:30", "date_time_no_offset"),
        ("20240301T143000.5", "date_time_no_offset"),
        ("2023-02-30T10:00:00Z", "date_time_impossible"),
        ("2023-02-29T10:00:00Z", "date_time_impossible"),
        ("1900-02-29T10:00:00Z", "date_time_impossible"),
        ("2024-04-31T10:00:00Z", "date_time_impossible"),
        ("2024-13-01T10:00:00Z", "date_time_impossible"),
        ("2024-00-10T10:00:00Z", "date_time_impossible"),
        ("2024-01-00T10:00:00Z", "date_time_impossible"),
        ("0000-01-01T10:00:00Z", "date_time_impossible"),
        ("2024-03-01T24:00:00Z", "date_time_impossible"),
        ("2024-03-01T25:00Z", "date_time_impossible"),
        ("2024-03-01T12:60:00Z", "date_time_impossible"),
        ("2024-03-01T12:00:60Z", "date_time_impossible"),
        ("2016-12-31T23:59:60Z", "date_time_impossible"),
        ("2024-03-01T12:00:61+01:00", "date_time_impossible"),
        ("2023-02-29T10:00:00", "date_time_impossible"),
        ("2024-03-01T14:30:00+14:01", "date_time_offset_range"),
        ("2024-03-01T14:30:00-14:30", "date_time_offset_range"),
        ("2024-03-01T14:30:00+15:00", "date_time_offset_range"),
        ("2024-03-01T14:30:00+15", "date_time_offset_range"),
        ("2024-03-01T14:30:00-1500", "date_time_offset_range"),
        ("2024-03-01T14:30:00+05:60", "date_time_offset_range"),
        ("2024-03-01T14:30:00+99:99", "date_time_offset_range"),
        ("2024-03-01T14:30:00.1234567891Z", "date_time_too_precise"),
        ("2024-03-01T14:30:00.123456789001Z", "date_time_too_precise"),
        ("2024-03-01T14:30:00.1234567891-05:00", "date_time_too_precise"),
        ("20240301T143000,0000000001Z", "date_time_too_precise"),
        ("0001-01-01T00:00:00+00:01", "date_time_out_of_range"),
        ("0001-01-01T13:59:59+14:00", "date_time_out_of_range"),
        ("9999-12-31T23:59:59-00:01", "date_time_out_of_range"),
        ("9999-12-31T10:00:00-14:00", "date_time_out_of_range"),
    ],
    ids=lambda value: repr(value) if not value.strip() else value,
)
def test_normalise_refuses(normalise, value, code):
    violation = violation_of(normalise, value)
    assert violation.code == code
    assert violation.column == DT
    assert violation.message
    if value.strip():
        assert value.strip() not in violation.message  # never quotes the value


def test_second_60_is_named_a_leap_second():
    violation = violation_of(dates.normalise_date_time, "2016-12-31T23:59:60Z")
    assert violation.code == "date_time_impossible"
    assert "leap second" in violation.message


@pytest.mark.parametrize("normalise", NORMALISERS)
def test_too_precise_is_checked_before_truncating(normalise):
    # A tenth digit is finer than any clock writes: refused, not cut with the others.
    violation = violation_of(normalise, "2024-03-01T14:30:00.0000000001Z")
    assert violation.code == "date_time_too_precise"
    assert (
        violation.message
        == "has more than 9 fraction digits (finer than a nanosecond): cut it to 9 or fewer"
    )


@pytest.mark.parametrize("normalise", NORMALISERS)
def test_values_differing_only_past_the_microsecond_are_one_instant(normalise):
    # .NET and SQL Server write 100 ns ticks: both are stored as 14:30:00.123456Z, one key.
    assert {
        normalise("2024-03-01T14:30:00.1234561Z"),
        normalise("2024-03-01T14:30:00.1234569Z"),
        normalise("2024-03-01T09:30:00.123456999-05:00"),
    } == {"2024-03-01T14:30:00.123456Z"}
    assert normalise("2024-03-01T14:30:00.1234570Z") == "2024-03-01T14:30:00.123457Z"


@pytest.mark.parametrize("normalise", NORMALISERS)
def test_no_offset_tells_the_provider_what_to_do(normalise):
    violation = violation_of(normalise, "2024-03-01T14:30:00")
    assert violation.message == (
        "has no UTC offset: add one (such as -05:00 or Z), or ask your operator to register "
        "your time zone; `ingest upload` then checks with it, and `ingest validate --assume-tz "
        "ZONE` checks as the server would"
    )


# --------------------------------------------------------------------------- time zones


@pytest.mark.parametrize("normalise", NORMALISERS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2023-01-15T12:00:00", "2023-01-15T17:00:00.000000Z", id="winter-EST"),
        pytest.param("2023-07-01T12:00:00", "2023-07-01T16:00:00.000000Z", id="summer-EDT"),
        pytest.param("2023-07-01 12:00", "2023-07-01T16:00:00.000000Z", id="summer-no-seconds"),
        pytest.param("20230701T120000.5", "2023-07-01T16:00:00.500000Z", id="basic-fraction"),
        pytest.param("2023-03-12T01:59:59", "2023-03-12T06:59:59.000000Z", id="before-gap"),
        pytest.param("2023-03-12T03:00:00", "2023-03-12T07:00:00.000000Z", id="after-gap"),
        pytest.param("2023-11-05T00:59:59", "2023-11-05T04:59:59.000000Z", id="before-overlap"),
        pytest.param("2023-11-05T02:00:00", "2023-11-05T07:00:00.000000Z", id="after-overlap"),
        pytest.param("2023-12-31T20:00:00", "2024-01-01T01:00:00.000000Z", id="year-rollover"),
        # an explicit offset wins over the zone, even inside the gap or the overlap
        pytest.param("2023-03-12T02:30:00-05:00", "2023-03-12T07:30:00.000000Z", id="offset-gap"),
        pytest.param("2023-11-05T01:30:00-04:00", "2023-11-05T05:30:00.000000Z", id="offset-EDT"),
        pytest.param("2023-11-05T01:30:00-05:00", "2023-11-05T06:30:00.000000Z", id="offset-EST"),
        pytest.param("2023-07-01T12:00:00Z", "2023-07-01T12:00:00.000000Z", id="z-in-zone"),
    ],
)  # fmt: skip
def test_zone_reads_values_without_offset(normalise, value, expected):
    assert normalise(value, NEW_YORK) == expected


@pytest.mark.parametrize("normalise", NORMALISERS)
@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param("2023-03-12T02:30", "date_time_nonexistent", id="spring-forward-gap"),
        pytest.param("2023-03-12T02:00:00", "date_time_nonexistent", id="gap-start"),
        pytest.param("2023-03-12T02:59:59.999999", "date_time_nonexistent", id="gap-end"),
        pytest.param("2023-11-05T01:30", "date_time_ambiguous", id="fall-back-hour"),
        pytest.param("2023-11-05T01:00:00", "date_time_ambiguous", id="overlap-start"),
        pytest.param("2023-11-05T01:59:59", "date_time_ambiguous", id="overlap-end"),
        pytest.param("2023-02-29T10:00", "date_time_impossible", id="impossible-first"),
    ],
)
def test_zone_refuses_skipped_and_repeated_times(normalise, value, code):
    violation = violation_of(normalise, value, NEW_YORK)
    assert violation.code == code
    assert violation.column == DT
    if code != "date_time_impossible":  # read in the zone the provider has or assumed
        assert "in your time zone" in violation.message
        assert "provider" not in violation.message


def test_utc_zone_reads_values_without_offset_as_utc():
    utc = dates.resolve_time_zone("UTC")
    assert dates.normalise_date_time("2024-01-01T00:00", utc) == "2024-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    "name",
    ["Not/AZone", "America/Nowhere", "../etc/passwd", "/usr/share/zoneinfo/UTC", "", " UTC"],
)
def test_resolve_time_zone_refuses_unknown_names(name):
    with pytest.raises(ValueError, match="unknown time zone"):
        dates.resolve_time_zone(name)


@pytest.mark.parametrize("normalise", NORMALISERS)
@pytest.mark.parametrize(
    ("value", "zone_name", "code"),
    [
        pytest.param("9999-12-31T23:00:00", "America/New_York", "date_time_out_of_range",
                     id="past-9999"),
        pytest.param("0001-01-01T00:00:00", "Asia/Tokyo", "date_time_out_of_range",
                     id="before-0001"),
        pytest.param("0001-01-01T00:00:00", "UTC", None, id="first-instant-in-utc"),
        pytest.param("9999-12-31T23:59:59.999999", "UTC", None, id="last-instant-in-utc"),
        pytest.param("0001-01-02T00:00:00", "Asia/Tokyo", None, id="day-two-in-tokyo"),
    ],
)  # fmt: skip
def test_zone_conversion_leaving_the_calendar_is_out_of_range(normalise, value, zone_name, code):
    zone = dates.resolve_time_zone(zone_name)
    if code is None:
        assert NORMALISED.fullmatch(normalise(value, zone))
    else:
        violation = violation_of(normalise, value, zone)
        assert (violation.code, violation.column) == (code, DT)


# --------------------------------------------------------------------------- items


def test_sort_key_joins_mrn_and_utc_time_with_the_separator():
    assert contract.sort_key("MRN1", "2024-03-01T19:30:00.000000Z") == (
        "MRN1#2024-03-01T19:30:00.000000Z"
    )


def test_to_item_builds_the_low_level_dynamodb_item():
    header = contract.parse_header(
        ["note", " medical_record_number ", "systolic_bp", "date_time", "empty"]
    )
    fields = [
        'dose 1,5 mg; "as needed"\nrecheck',
        "  MRN-1  ",
        "0142.50",
        "2024-03-01 14:30-05",
        "",
    ]
    mrn = contract.check_mrn(fields[header.mrn_index])
    date_time = dates.normalise_date_time(fields[header.date_time_index])
    item = contract.to_item(
        header,
        fields,
        mrn,
        date_time,
        provider_id="clinic-7",
        upload_id="u-123",
        source_line=42,
        ingested_at="2024-03-02T00:00:00.000000Z",
    )
    assert item == {
        "providerId": {"S": "clinic-7"},
        "sortKey": {"S": "MRN-1#2024-03-01T19:30:00.000000Z"},
        "medical_record_number": {"S": "MRN-1"},
        "date_time": {"S": "2024-03-01T19:30:00.000000Z"},
        "date_time_original": {"S": "2024-03-01 14:30-05"},
        "note": {"S": 'dose 1,5 mg; "as needed"\nrecheck'},
        "systolic_bp": {"S": "0142.50"},  # a string as sent: never a number, never rounded
        "empty": {"S": ""},
        "upload_id": {"S": "u-123"},
        "source_line": {"N": "42"},
        "ingested_at": {"S": "2024-03-02T00:00:00.000000Z"},
    }


def test_to_item_keeps_a_fraction_past_microseconds_as_sent_beside_the_cut_instant():
    header = contract.parse_header(["medical_record_number", "date_time"])
    fields = ["MRN-1", "2024-03-01T09:30:00.1234567-05:00"]  # .NET's round-trip format
    date_time = dates.normalise_date_time(fields[1])
    item = contract.to_item(
        header,
        fields,
        "MRN-1",
        date_time,
        provider_id="clinic-7",
        upload_id="u-123",
        source_line=2,
        ingested_at="2024-03-02T00:00:00.000000Z",
    )
    assert item["sortKey"] == {"S": "MRN-1#2024-03-01T14:30:00.123456Z"}
    assert item["date_time"] == {"S": "2024-03-01T14:30:00.123456Z"}
    assert item["date_time_original"] == {"S": "2024-03-01T09:30:00.1234567-05:00"}


@pytest.mark.parametrize(
    ("fields", "budget", "fits"),
    [
        pytest.param(["a" * 10], 10, True, id="ascii-at-budget"),
        pytest.param(["a" * 11], 10, False, id="ascii-over-budget"),
        pytest.param(["é" * 5], 10, True, id="two-byte-at-budget"),
        pytest.param(["é" * 5, "a"], 10, False, id="bytes-not-chars"),
        pytest.param(["€" * 3, "😀"], 13, True, id="three-and-four-byte"),
        pytest.param(["€" * 3, "😀"], 12, False, id="three-and-four-byte-over"),
    ],
)
def test_values_fit_counts_utf8_bytes(fields, budget, fits):
    assert contract.values_fit(budget, fields) is fits
