"""Streaming validation of whole files: the corpus, headers, rows and bytes. (CSV structure,
line numbers, text streams, summaries and memory: test_validate_structure.py.)

Files whose exact bytes matter (BOM, CRLF, lone CR, latin-1, UTF-16, huge fields) are built
as bytes here; plain UTF-8 files live in tests/corpus with their verdicts in expected.json.
"""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import pytest

from ingestcli.core import contract, validate
from ingestcli.core import date_time as dates
from ingestcli.core import summary as summaries
from ingestcli.core.contract import MAX_ITEM_BYTES, ContractViolation
from ingestcli.core.lines import MAX_FIELD_CHARS
from support.paths import CORPUS
from support.validation import (
    BOM,
    CORPUS_FILES,
    DT,
    HEADER,
    MRN,
    OK_TIME,
    rows_of,
    stream_of,
    verdicts,
)

EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
SRC = Path(contract.__file__).parent


def header_violation(data: bytes | str) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        validate.CsvValidation(stream_of(data))
    return caught.value


def judge(data: bytes | str, zone: str | None = None) -> dict[str, object]:
    """What `ingest validate` reports, without messages, in the shape of expected.json."""
    summary = summaries.summarize(
        stream_of(data), dates.resolve_time_zone(zone) if zone else None, max_errors=10_000
    )
    return {
        "header_error": summary.header_error.code if summary.header_error else None,
        "rows": summary.rows,
        "valid": summary.valid,
        "errors": [[p.line, p.column, p.code] for p in summary.errors],
    }


def expect(rows: int, errors: list, header_error: str | None = None) -> dict[str, object]:
    return {
        "header_error": header_error,
        "rows": rows,
        "valid": rows - len({line for line, _column, _code in errors}),
        "errors": [list(error) for error in errors],
    }


# --------------------------------------------------------------------------- the corpus


def test_corpus_files_and_expectations_match():
    assert sorted(EXPECTED) == CORPUS_FILES


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_file_gets_its_expected_verdict(name):
    expected = dict(EXPECTED[name])
    zone = expected.pop("zone", None)
    data = (CORPUS / name).read_bytes()
    assert judge(data, zone) == expected
    if expected["header_error"] is None:  # the same file read as text gets the same verdict
        assert judge(data.decode("utf-8"), zone) == expected


# Files where the bytes themselves are the point: judged exactly like the corpus files.
BYTE_CASES = [
    pytest.param(b"", expect(0, [], "empty_file"), id="empty"),
    pytest.param(BOM, expect(0, [], "empty_file"), id="bom-only"),
    pytest.param(b"\n\r\n\r\n", expect(0, [], "empty_file"), id="blank-lines-only"),
    pytest.param(BOM + b"\r\n\r\n", expect(0, [], "empty_file"), id="bom-and-blank-lines"),
    pytest.param(
        b"\xff\xfe" + "medical_record_number,date_time\n".encode("utf-16-le"),
        expect(0, [], "header_not_utf8"),
        id="utf-16-le-with-bom",
    ),
    pytest.param(
        b"\xfe\xff" + "medical_record_number,date_time\n".encode("utf-16-be"),
        expect(0, [], "header_not_utf8"),
        id="utf-16-be-with-bom",
    ),
    pytest.param(
        "medical_record_number,date_time,pr\xe9nom\nA1,2024-03-01T10:00:00Z,x\n".encode("latin-1"),
        expect(0, [], "header_not_utf8"),
        id="latin-1-header",
    ),
    pytest.param(
        b"medical_record_number,date_time,\x93note\x94\n",
        expect(0, [], "header_not_utf8"),
        id="cp1252-quotes-in-header",
    ),
    pytest.param(
        b'"medical_record_number,date_time\r\nA1,2024-03-01T10:00:00Z\r\n',
        expect(0, [], "header_malformed"),
        id="header-unclosed-quote",
    ),
    pytest.param(
        b'"medical_record_number"x,date_time\nA1,2024-03-01T10:00:00Z\n',
        expect(0, [], "header_malformed"),
        id="header-text-after-quote",
    ),
    pytest.param(
        BOM + b"medical_record_number,date_time\r\nA1,2024-03-01T10:00:00Z\r\nA2,bad\r\n",
        expect(2, [(3, DT, "date_time_format")]),
        id="bom-crlf",
    ),
    pytest.param(
        BOM + b'"medical_record_number",date_time\nA1,2024-03-01T10:00:00Z\n',
        expect(1, []),
        id="bom-then-quoted-name",
    ),
    pytest.param(
        b"medical_record_number,date_time\rA1,2024-03-01T10:00:00Z\rA#2,2024-03-01T10:00:00Z\r",
        expect(2, [(3, MRN, "mrn_invalid_characters")]),
        id="lone-cr",
    ),
    pytest.param(
        "medical_record_number,date_time,note\r\n"
        "A1,2024-03-01T10:00:00Z,ok\r\n"
        "A2,2024-03-01T10:00:00Z,caf\xe9\r\n"
        "A3,2024-03-01T10:00:00Z,ok\r\n"
        "A\xc94,2024-03-01T10:00:00Z,ok\r\n"
        "A5,2024-03-01T10:00:00,ok\r\n".encode("latin-1"),
        expect(
            5,
            [
                (3, "note", "invalid_utf8"),
                (5, MRN, "invalid_utf8"),
                (6, DT, "date_time_no_offset"),
            ],
        ),
        id="latin-1-rows",
    ),
    pytest.param(
        (HEADER + "A1,2024-03-01T10:00:00Z," + "x" * (MAX_ITEM_BYTES + 1) + "\n"
         + "A2,2024-03-01T10:00:00Z,after\n").encode(),
        expect(2, [(2, None, "item_too_large")]),
        id="field-over-400kb",
    ),
    pytest.param(
        lambda: (HEADER + "A1,2024-03-01T10:00:00Z," + "x" * (MAX_FIELD_CHARS + 1) + "\n"
                 + "A2,2024-03-01T10:00:00Z,after\n").encode(),
        expect(2, [(2, None, "field_too_large"), (3, None, "rest_unreadable")]),
        id="field-over-the-parser-limit",
    ),
    pytest.param(
        ("medical_record_number,date_time,a,b,c\n"
         "A1,2024-03-01T10:00:00Z," + ",".join(["y" * 150_000] * 3) + "\n"
         "A2,2024-03-01T10:00:00Z,,,\n").encode(),
        expect(2, [(2, None, "item_too_large")]),
        id="item-over-400kb",
    ),
    pytest.param(
        BOM + b"medical_record_number;date_time;note\r\nA1;2024-03-01T10:00:00Z;x\r\n",
        expect(0, [], "header_wrong_delimiter"),
        id="semicolons-bom-crlf",
    ),
    pytest.param(
        b'"";"medical_record_number";"date_time"\n"1";"A1";"2024-03-01T10:00:00Z"\n',
        expect(0, [], "header_wrong_delimiter"),
        id="semicolons-all-quoted-r-write.csv2",
    ),
    pytest.param(
        b"medical_record_number\tdate_time\t" + b"\t".join(b"column_%d" % n for n in range(40))
        + b"\nA1\t2024-03-01T10:00:00Z" + b"\tx" * 40 + b"\n",
        expect(0, [], "header_wrong_delimiter"),
        id="tabs-header-past-255-bytes",
    ),
    pytest.param(
        (HEADER + "A1,2024-03-01T10:00:00Z,ok\n"
         + "A2,2024-03-01T10:00:00Z,x\rA3,2024-03-01T10:00:00Z,y\n"),
        expect(2, [(3, None, "malformed_row")]),
        id="text-stream-not-opened-with-newline-empty",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("data", "expected"), BYTE_CASES)
def test_byte_case_gets_its_expected_verdict(data, expected):
    if callable(data):  # built only when needed: it is large
        data = data()
    if isinstance(data, str):  # the one case about a text stream opened the wrong way
        summary = summaries.summarize(io.StringIO(data))
        got = [[p.line, p.column, p.code] for p in summary.errors]
        assert (summary.rows, summary.valid, got) == (
            expected["rows"],
            expected["valid"],
            expected["errors"],
        )
    else:
        assert judge(data) == expected


def _codes_defined_in_source() -> set[str]:
    """Every literal error code passed to ContractViolation, violation() or Problem()."""
    codes = set()
    for module in ("contract.py", "date_time.py", "messages.py", "validate.py"):
        tree = ast.parse((SRC / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {
                "ContractViolation",
                "violation",
                "Problem",
            }:
                literal = [
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                ]
                if literal:
                    codes.add(literal[0])
    return codes


def test_corpus_and_byte_cases_cover_every_error_code():
    covered = set()
    for verdict in [*EXPECTED.values(), *(case.values[1] for case in BYTE_CASES)]:
        covered.add(verdict["header_error"])
        covered.update(code for _line, _column, code in verdict["errors"])
    defined = _codes_defined_in_source()
    assert {"empty_file", "mrn_missing", "date_time_format", "unclosed_quote"} <= defined
    assert defined - covered == set()


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(BOM + b"medical_record_number,date_time\nA1,2024-03-01T10:00:00Z\n", id="bom"),
        pytest.param(BOM + b'"medical_record_number",date_time\nA1,2024-03-01T10:00:00Z\n',
                     id="bom-quoted-name"),
        pytest.param(BOM + b" medical_record_number ,date_time\nA1,2024-03-01T10:00:00Z\n",
                     id="bom-padded-name"),
        pytest.param("\ufeffmedical_record_number,date_time\nA1,2024-03-01T10:00:00Z\n",
                     id="bom-in-text-stream"),
        pytest.param(b"\n\nmedical_record_number,date_time\n\nA1,2024-03-01T10:00:00Z\n",
                     id="blank-lines-before-header"),
    ],
)  # fmt: skip
def test_header_is_read_after_bom_and_blank_lines(data):
    validation = validate.CsvValidation(stream_of(data))
    assert validation.header.names == (MRN, DT)
    rows = list(validation.rows())
    assert [(r[2], r[3], r[4]) for r in rows] == [("A1", "2024-03-01T10:00:00.000000Z", ())]


def test_header_line_is_the_physical_line_of_the_header():
    validation = validate.CsvValidation(io.BytesIO(b"\n\r\nmedical_record_number,date_time\n"))
    assert validation.header_line == 3


@pytest.mark.parametrize(
    ("data", "code", "column"),
    [
        pytest.param(b"", "empty_file", None, id="empty"),
        pytest.param(b"\n\n", "empty_file", None, id="blank-lines"),
        pytest.param(b"medical_record_number,date_time,note,note\n", "duplicate_column", None,
                     id="duplicate"),
        pytest.param(b"medical_record_number,,date_time\n", "empty_column_name", None,
                     id="empty-name"),
        pytest.param(b"medical_record_number,date_time,Upload_Id\n", "reserved_column",
                     "Upload_Id", id="reserved"),
        pytest.param(b"MEDICAL_RECORD_NUMBER,date_time\n", "missing_column", MRN,
                     id="missing-mrn-case"),
        pytest.param(b"medical_record_number,Date_Time\n", "missing_column", DT,
                     id="missing-date_time-case"),
        pytest.param(b"\xff\xfem\x00r\x00n\x00\n\x00", "header_not_utf8", None, id="utf-16"),
        pytest.param(b"medical_record_number,date_time,n\xf6te\n", "header_not_utf8", None,
                     id="latin-1"),
        pytest.param(b'medical_record_number,"date_time\n', "header_malformed", None,
                     id="unclosed-quote"),
    ],
)  # fmt: skip
def test_unfit_header_refuses_the_whole_file(data, code, column):
    violation = header_violation(data)
    assert (violation.code, violation.column) == (code, column)
    summary = summaries.summarize(io.BytesIO(data))
    assert summary.header_error is not None
    assert (summary.header_error.line, summary.header_error.code) == (1, code)
    assert (summary.rows, summary.valid, summary.invalid, summary.ok) == (0, 0, 0, False)


def test_utf16_message_says_so():
    violation = header_violation("medical_record_number,date_time\n".encode("utf-16"))
    assert violation.message == "the file is UTF-16: save it as UTF-8"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        pytest.param(b"medical_record_number;date_time\n", "semicolons (;)", id="semicolons"),
        pytest.param(b"medical_record_number\tdate_time\n", "tabs", id="tabs"),
        pytest.param(b"medical_record_number|date_time\n", "vertical bars (|)", id="bars"),
    ],
)
def test_a_header_separated_otherwise_says_by_what_and_what_to_do(data, words):
    summary = summaries.summarize(io.BytesIO(data + b"PATIENT-7;2024-03-01T10:00:00Z\n"))
    assert summary.header_error == (
        1,
        None,
        "header_wrong_delimiter",
        f"the file is separated by {words}, not commas: export it again as comma-separated CSV",
    )
    assert summary.error_counts == {"header_wrong_delimiter": 1}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(b"mrn;when\n", "missing_column", id="no-required-column-either-way"),
        pytest.param(b"medical_record_number;date_time;x,medical_record_number,date_time,"
                     b"date_time\n", "duplicate_column", id="commas-hold-both-columns-too"),
        pytest.param(b"medical_record_number,date_time,dose;route,dose;route\n",
                     "duplicate_column", id="comma-header-with-semicolons-in-names"),
        pytest.param(b"medical_record_number;date_time;n\xf6te\n", "header_not_utf8",
                     id="not-utf8-first"),
    ],
)  # fmt: skip
def test_other_header_errors_are_kept_when_no_delimiter_explains_them(data, code):
    assert header_violation(data).code == code


def test_the_header_text_kept_to_find_a_delimiter_is_bounded():
    """Only the first _HEADER_TEXT_CHARS of a header are kept: required columns past them
    leave the header's own error, and the rows are never read into it."""
    long_name = "x" * validate._HEADER_TEXT_CHARS
    late = f"{long_name};medical_record_number;date_time\n".encode()
    assert header_violation(late).code == "column_name_too_long"
    early = f"medical_record_number;date_time;{long_name}\n".encode()
    assert header_violation(early).code == "header_wrong_delimiter"
    after_rows = b"note\nmedical_record_number;date_time\n"  # a row is not the header
    assert header_violation(after_rows).code == "missing_column"


def test_rows_after_a_header_of_several_physical_lines_keep_their_line_numbers():
    data = b'\n"medical_record_number",date_time,"two\nlines"\nA1,2024-03-01T10:00:00Z,x\nA#2,x,y\n'
    validation = validate.CsvValidation(io.BytesIO(data))
    assert validation.header_line == 3
    assert verdicts(data) == [
        (4, []),
        (5, [(MRN, "mrn_invalid_characters"), (DT, "date_time_format")]),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b'medical_record_number,"date_time\n', "the header row opens a quote that "
                     "is never closed", id="unclosed-quote"),
        pytest.param(b'"medical_record_number"x,date_time\n', "text follows a closing quote in "
                     'the header row: inside a quoted name, write a quote as ""',
                     id="text-after-quote"),
    ],
)  # fmt: skip
def test_a_malformed_header_is_told_in_words_not_the_parser_s(data, message):
    violation = header_violation(data)
    assert (violation.code, violation.message) == ("header_malformed", message)


def test_a_malformed_header_that_semicolons_explain_names_them():
    violation = header_violation(b'"medical_record_number";"date_time"\n')
    assert violation.code == "header_wrong_delimiter"


def test_rows_differing_only_past_the_microsecond_share_a_key():
    """.NET's round-trip format and SQL Server's datetime2(7) write 100 ns ticks: such rows
    are valid, cut to microseconds, and two that differ only in the 7th digit share a key,
    so the pipeline keeps the later and counts the earlier a duplicate (the hostile case
    fraction_digits_past_microseconds.csv checks that count through the Lambda)."""
    data = (
        HEADER
        + "A1,2024-03-01T10:00:00.1234567Z,first\n"
        + "A1,2024-03-01T05:00:00.1234568-05:00,second\n"
        + "A1,2024-03-01T10:00:00.1234579Z,a microsecond later\n"
    ).encode()
    rows = rows_of(data)
    assert [(line, date_time, problems) for line, _f, _m, date_time, problems in rows] == [
        (2, "2024-03-01T10:00:00.123456Z", ()),
        (3, "2024-03-01T10:00:00.123456Z", ()),
        (4, "2024-03-01T10:00:00.123457Z", ()),
    ]
    keys = [contract.sort_key(mrn, date_time) for _l, _f, mrn, date_time, _p in rows]
    assert keys[0] == keys[1] != keys[2]
    summary = summaries.summarize(io.BytesIO(data))
    assert (summary.rows, summary.valid, summary.invalid, summary.error_counts) == (3, 3, 0, {})


def test_missing_column_message_names_the_near_miss():
    violation = header_violation(b"Medical_Record_Number,date_time\n")
    assert "Medical_Record_Number" in violation.message


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"medical_record_number,date_time,note\n", id="lf"),
        pytest.param(b"medical_record_number,date_time,note", id="no-final-newline"),
        pytest.param(b"medical_record_number,date_time,note\r\n\r\n\n", id="crlf-blank-lines"),
        pytest.param(BOM + b"date_time,medical_record_number\r", id="bom-reordered-cr"),
        pytest.param("medical_record_number,date_time\n", id="text-stream"),
    ],
)
def test_header_only_file_is_valid_with_no_rows(data):
    assert rows_of(data) == []
    summary = summaries.summarize(stream_of(data))
    assert (summary.rows, summary.valid, summary.invalid, summary.ok) == (0, 0, 0, True)


@pytest.mark.parametrize(
    "header",
    [
        "medical_record_number,date_time,note",
        "note,medical_record_number,date_time",
        "date_time,note,medical_record_number",
        "note,date_time,medical_record_number",
    ],
)
def test_key_columns_may_be_anywhere(header):
    names = header.split(",")
    good = {"medical_record_number": " A1 ", "date_time": "2024-03-01T10:00:00+01:00", "note": "n"}
    bad = {"medical_record_number": "A#2", "date_time": "2024-03-01", "note": "n"}
    data = "\n".join([header, ",".join(good[n] for n in names), ",".join(bad[n] for n in names)])
    rows = rows_of(data.encode())
    assert (rows[0][2], rows[0][3], rows[0][4]) == ("A1", "2024-03-01T09:00:00.000000Z", ())
    assert [(p.line, p.column, p.code) for p in rows[1][4]] == [
        (3, MRN, "mrn_invalid_characters"),
        (3, DT, "date_time_no_time"),
    ]


# --------------------------------------------------------------------------- rows


def test_valid_row_yields_trimmed_mrn_normalised_time_and_fields_as_sent():
    data = HEADER + '  MRN-1 ,2024-03-01 14:30-05:00,"a, ""b""\nc"\n'
    [(line, fields, mrn, date_time, problems)] = rows_of(data.encode())
    assert line == 2
    assert fields == ["  MRN-1 ", "2024-03-01 14:30-05:00", 'a, "b"\nc']
    assert (mrn, date_time, problems) == ("MRN-1", "2024-03-01T19:30:00.000000Z", ())


@pytest.mark.parametrize(
    ("row", "found"),
    [
        pytest.param("A1,2024-03-01T10:00:00Z,note,extra", 4, id="too-many"),
        pytest.param("A1,2024-03-01T10:00:00Z", 2, id="too-few"),
        pytest.param("A1", 1, id="one-field"),
        pytest.param('""', 1, id="one-empty-quoted-field"),
        pytest.param("A1,2024-03-01T10:00:00Z,,,,", 6, id="trailing-commas"),
    ],
)
def test_wrong_field_count(row, found):
    data = f"{HEADER}{row}\nA2,{OK_TIME},fine\n"
    [(_line, _fields, mrn, dt, problems), after] = rows_of(data.encode())
    assert (mrn, dt) == (None, None)
    assert [(p.line, p.column, p.code) for p in problems] == [(2, None, "wrong_field_count")]
    assert str(found) in problems[0].message and "3" in problems[0].message
    assert after[0] == 3 and after[4] == ()


def test_row_of_empty_fields_is_not_a_blank_line():
    assert verdicts((HEADER + ",,\n").encode()) == [
        (2, [(MRN, "mrn_missing"), (DT, "date_time_missing")])
    ]


def test_row_with_bad_mrn_and_bad_date_reports_both():
    [(_line, _fields, mrn, dt, problems)] = rows_of(
        (HEADER + "A#1,2023-02-30T10:00:00Z,x\n").encode()
    )
    assert (mrn, dt) == (None, None)
    assert [(p.line, p.column, p.code) for p in problems] == [
        (2, MRN, "mrn_invalid_characters"),
        (2, DT, "date_time_impossible"),
    ]


@pytest.mark.parametrize(
    ("mrn", "date_time", "expected"),
    [
        pytest.param("A1", "2024-03-01T10:00:00Z", [], id="valid"),
        pytest.param("", "2024-03-01T10:00:00Z", [(MRN, "mrn_missing")], id="mrn-only"),
        pytest.param("A1", "", [(DT, "date_time_missing")], id="date-only"),
        pytest.param("M" * 65, "10:00", [(MRN, "mrn_too_long"), (DT, "date_time_format")],
                     id="both"),
    ],
)  # fmt: skip
def test_key_column_problems_in_a_file(mrn, date_time, expected):
    assert verdicts(f"{HEADER}{mrn},{date_time},x\n".encode()) == [(2, expected)]


def test_zone_applies_to_rows():
    data = (
        b"medical_record_number,date_time\n"
        b"A1,2023-07-01T12:00:00\n"
        b"A2,2023-03-12T02:30:00\n"
        b"A3,2023-11-05T01:30:00\n"
        b"A4,2023-11-05T01:30:00-05:00\n"
    )
    new_york = dates.resolve_time_zone("America/New_York")
    rows = rows_of(data, new_york)
    assert [row[3] for row in rows] == [
        "2023-07-01T16:00:00.000000Z",
        None,
        None,
        "2023-11-05T06:30:00.000000Z",
    ]
    assert verdicts(data, new_york)[1:3] == [
        (3, [(DT, "date_time_nonexistent")]),
        (4, [(DT, "date_time_ambiguous")]),
    ]
    assert [codes for _line, codes in verdicts(data)] == [
        [(DT, "date_time_no_offset")],
        [(DT, "date_time_no_offset")],
        [(DT, "date_time_no_offset")],
        [],
    ]


# --------------------------------------------------------------------------- bytes


def test_latin_1_file_names_the_column_and_byte_and_judges_other_rows_normally():
    data = (
        "medical_record_number,date_time,note\n"
        "A1,2024-03-01T10:00:00Z,ok\n"
        "A2,2024-03-01T10:00:00Z,caf\xe9\n"
        "A3,2024-03-01T10:00:00Z,ok\n"
        "\xc94,2024-03-01T10:00:00Z,ok\n"
        "A5,2024-13-01T10:00:00Z,ok\n"
        "A6,2024-03-01T10:00:00Z,na\xefve\n"
    ).encode("latin-1")
    rows = rows_of(data)
    assert [(p.line, p.column, p.code) for row in rows for p in row[4]] == [
        (3, "note", "invalid_utf8"),
        (5, MRN, "invalid_utf8"),
        (6, DT, "date_time_impossible"),
        (7, "note", "invalid_utf8"),
    ]
    assert [row[2] for row in rows] == ["A1", None, "A3", None, None, None]
    assert "0xE9" in rows[1][4][0].message
    assert "0xC9" in rows[3][4][0].message
    assert "0xEF" in rows[5][4][0].message


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"\xe9", id="latin-1"),
        pytest.param(b"\x80", id="lone-continuation"),
        pytest.param(b"\xc0\xaf", id="overlong"),
        pytest.param(b"\xe2\x82", id="truncated-sequence"),
        pytest.param(b"\xed\xa0\x80", id="encoded-surrogate"),
        pytest.param(b"\xf4\x90\x80\x80", id="beyond-unicode"),
        pytest.param(b"\xff", id="ff"),
    ],
)
def test_bytes_that_are_not_utf8_are_refused(bad):
    data = HEADER.encode() + b"A1,2024-03-01T10:00:00Z,x" + bad + b"y\n"
    assert verdicts(data) == [(2, [("note", "invalid_utf8")])]


@pytest.mark.parametrize(
    "text", ["caf\u00e9", "\u20ac 12", "\U0001f600", "\u0661\u0662", "\u00a0nbsp\u00a0"]
)
def test_utf8_text_in_other_columns_is_fine(text):
    data = f"{HEADER}A1,{OK_TIME},{text}\n".encode()
    assert verdicts(data) == [(2, [])]


@pytest.mark.parametrize("shift", range(4))
@pytest.mark.parametrize("char", ["\u00e9", "\u20ac", "\U0001f600"])
def test_multibyte_characters_across_read_buffers_are_not_bad_bytes(char, shift):
    note = "x" * shift + char * (90_000 // len(char.encode()))  # crosses 8 KB and 64 KB
    data = f"{HEADER}A1,{OK_TIME},{note}\nA2,{OK_TIME},ok\n".encode()
    assert verdicts(data) == [(2, []), (3, [])]


def test_bad_byte_far_into_the_file_is_found():
    good = [f"A{i},{OK_TIME},{'x' * 50}" for i in range(2_000)]  # about 150 KB
    data = (HEADER + "\n".join(good) + "\n").encode() + b"B,2024-03-01T10:00:00Z,\xe9\nC,x,y\n"
    result = verdicts(data)
    assert len(result) == 2_002
    assert all(not codes for _line, codes in result[:2_000])
    assert result[2_000:] == [
        (2_002, [("note", "invalid_utf8")]),
        (2_003, [(DT, "date_time_format")]),
    ]


def test_bad_bytes_in_one_file_do_not_leak_into_another_read_at_the_same_time():
    clean = validate.CsvValidation(io.BytesIO(f"{HEADER}A1,{OK_TIME},café\n".encode()))
    dirty = validate.CsvValidation(io.BytesIO(HEADER.encode() + b"A1,2024-03-01T10:00:00Z,\xe9\n"))
    assert [row[4][0].code for row in dirty.rows()] == ["invalid_utf8"]
    assert [row[4] for row in clean.rows()] == [()]
    later = validate.CsvValidation(io.BytesIO(f"{HEADER}A1,{OK_TIME},naïve\n".encode()))
    assert [row[4] for row in later.rows()] == [()]
