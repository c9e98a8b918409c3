"""Streaming validation of whole files: headers, rows, line numbers, bytes, and summaries.

Files whose exact bytes matter (BOM, CRLF, lone CR, latin-1, UTF-16, huge fields) are built
as bytes here; plain UTF-8 files live in tests/corpus with their verdicts in expected.json.
"""

from __future__ import annotations

import ast
import io
import json
import math
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestcli.core import contract, validate
from ingestcli.core.contract import MAX_ITEM_BYTES, ContractViolation
from ingestcli.core.validate import MAX_FIELD_CHARS

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
SRC = Path(contract.__file__).parent

MRN = "medical_record_number"
DT = "date_time"
HEADER = "medical_record_number,date_time,note\n"
OK_TIME = "2024-03-01T10:00:00Z"
BOM = b"\xef\xbb\xbf"


def stream_of(data: bytes | str) -> io.BytesIO | io.StringIO:
    """Bytes become a binary stream; text a text stream opened as the csv module wants."""
    return io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data, newline="")


def rows_of(data: bytes | str, zone=None) -> list[validate.Row]:
    return list(validate.CsvValidation(stream_of(data), zone).rows())


def verdicts(data: bytes | str, zone=None) -> list[tuple[int, list[tuple[str | None, str]]]]:
    """(line, [(column, code), ...]) for every record; an empty list means valid."""
    return [
        (line, [(p.column, p.code) for p in problems])
        for line, _fields, _mrn, _dt, problems in rows_of(data, zone)
    ]


def header_violation(data: bytes | str) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        validate.CsvValidation(stream_of(data))
    return caught.value


def judge(data: bytes | str, zone: str | None = None) -> dict[str, object]:
    """What `ingest validate` reports, without messages, in the shape of expected.json."""
    summary = validate.summarize(
        stream_of(data), contract.resolve_time_zone(zone) if zone else None, max_errors=10_000
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


CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.csv"))


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
        summary = validate.summarize(io.StringIO(data))
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
    for module in ("contract.py", "validate.py"):
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
        pytest.param(b"medical_record_number,date_time,note,note\n", "duplicate_column", "note",
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
    summary = validate.summarize(io.BytesIO(data))
    assert summary.header_error is not None
    assert (summary.header_error.line, summary.header_error.code) == (1, code)
    assert (summary.rows, summary.valid, summary.invalid, summary.ok) == (0, 0, 0, False)


def test_utf16_message_says_so():
    violation = header_violation("medical_record_number,date_time\n".encode("utf-16"))
    assert "UTF-16" in violation.message


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
    summary = validate.summarize(stream_of(data))
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
    new_york = contract.resolve_time_zone("America/New_York")
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


# --------------------------------------------------------------------------- CSV structure


def test_unclosed_quote_at_end_of_file():
    data = f'{HEADER}A1,{OK_TIME},ok\nA2,{OK_TIME},"never\nclosed\n'.encode()
    [first, (line, fields, mrn, dt, problems)] = rows_of(data)
    assert first[4] == ()
    assert (line, fields, mrn, dt) == (3, [], None, None)
    assert [(p.line, p.column, p.code) for p in problems] == [(3, None, "unclosed_quote")]
    assert "3-4" in problems[0].message


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(f'A1,{OK_TIME},"quoted"x', id="text-after-quote"),
        pytest.param(f'A1,{OK_TIME},"quoted" ', id="space-after-quote"),
        pytest.param(f'"A1"2,{OK_TIME},x', id="in-first-column"),
    ],
)
def test_text_after_a_closing_quote(row):
    data = f"{HEADER}{row}\nA2,{OK_TIME},ok\n".encode()
    assert verdicts(data) == [(2, [(None, "malformed_quotes")]), (3, [])]


def test_malformed_quotes_in_a_multi_line_record_keep_later_line_numbers():
    data = f'{HEADER}A1,{OK_TIME},"one\ntwo"x\nA2,{OK_TIME},ok\n'.encode()
    assert verdicts(data) == [(2, [(None, "malformed_quotes")]), (4, [])]


@pytest.mark.parametrize("quoted", [False, True], ids=["unquoted", "quoted"])
@pytest.mark.parametrize(
    ("size", "code"),
    [
        pytest.param(MAX_ITEM_BYTES, "item_too_large", id="at-400kb"),
        pytest.param(MAX_ITEM_BYTES + 1, "item_too_large", id="over-400kb"),
        pytest.param(MAX_FIELD_CHARS, "item_too_large", id="at-parser-limit"),
        pytest.param(MAX_FIELD_CHARS + 1, "field_too_large", id="over-parser-limit"),
    ],
)
def test_oversized_field_is_refused_and_the_next_row_judged(size, code, quoted):
    note = "x" * size
    if quoted:
        note = f'"{note}"'
    data = f"{HEADER}A1,{OK_TIME},{note}\nA2,{OK_TIME},after\n".encode()
    # Past the parser's limit the rest cannot be split into rows safely, so it is refused.
    after = [] if code == "item_too_large" else [(None, "rest_unreadable")]
    assert verdicts(data) == [(2, [(None, code)]), (3, after)]


def test_oversized_multi_line_field_keeps_the_file_in_step():
    note = "x" * (MAX_ITEM_BYTES + 100) + f"\nB9,{OK_TIME},ghost"
    data = f'{HEADER}A1,{OK_TIME},"{note}"\nA2,{OK_TIME},after\n'.encode()
    assert verdicts(data) == [(2, [(None, "item_too_large")]), (4, [])]


def test_rest_of_a_field_over_the_parser_limit_is_not_read_as_rows():
    """Past the parser's limit the file cannot be split into rows safely: the ghost row B9
    (the field's own next line) must not be accepted, so the rest is refused, counted."""
    note = "x" * (MAX_FIELD_CHARS + 100) + f"\nB9,{OK_TIME},ghost"
    data = f'{HEADER}A1,{OK_TIME},"{note}"\nA2,{OK_TIME},after\n'.encode()
    assert verdicts(data) == [(2, [(None, "field_too_large")]), (3, [(None, "rest_unreadable")])]


@pytest.mark.parametrize(
    ("columns", "value"),
    [
        pytest.param(3, "y" * 140_000, id="ascii"),
        pytest.param(2, "\u00e9" * 110_000, id="two-byte-chars-count-as-bytes"),
        pytest.param(2, "\U0001f600" * 55_000, id="four-byte-chars"),
    ],
)
def test_item_over_400kb_though_no_field_is(columns, value):
    assert len(value) < MAX_ITEM_BYTES
    extra = [f"c{i}" for i in range(columns)]
    header = ",".join([MRN, DT, *extra]) + "\n"
    data = f"{header}A1,{OK_TIME},{','.join([value] * columns)}\nA2,{OK_TIME}{',' * columns}\n"
    assert verdicts(data.encode()) == [(2, [(None, "item_too_large")]), (3, [])]


@pytest.mark.parametrize(("extra", "problems"), [(0, []), (1, [(None, "item_too_large")])])
def test_item_size_limit_is_exact_at_the_value_budget(extra, problems):
    budget = validate.CsvValidation(io.StringIO(HEADER)).header.value_budget
    mrn, date_time = "A1", OK_TIME
    note = "\u00e9" * ((budget - len(mrn) - len(date_time)) // 2) + "x" * extra
    if (budget - len(mrn) - len(date_time)) % 2:
        note += "x"
    row = [mrn, date_time, note]
    assert sum(len(v.encode()) for v in row) == budget + extra
    assert verdicts(f"{HEADER}{','.join(row)}\n".encode()) == [(2, problems)]


def _dynamodb_item_size(item: dict[str, dict[str, str]]) -> int:
    """Item size as DynamoDB counts it: names plus values (numbers: 1 byte per 2 digits + 1)."""
    size = 0
    for name, value in item.items():
        ((kind, text),) = value.items()
        size += len(name.encode())
        if kind == "N":
            digits = text.lstrip("-").replace(".", "").strip("0") or "0"
            size += math.ceil(len(digits) / 2) + 1
        else:
            size += len(text.encode())
    return size


def test_an_accepted_row_always_fits_in_one_dynamodb_item():
    """The budget must count the sort key's MRN: a 64-character MRN at the budget's edge."""
    # Longest bookkeeping values the contract allows: provider id 63, upload id 64.
    header = validate.CsvValidation(io.StringIO(HEADER)).header
    mrn = "M" * contract.MAX_MRN_LENGTH
    note = "x" * (header.value_budget - len(mrn) - len(OK_TIME))
    [(line, fields, checked_mrn, date_time, problems)] = rows_of(
        f"{HEADER}{mrn},{OK_TIME},{note}\n"
    )
    assert problems == ()
    item = contract.to_item(
        header,
        fields,
        checked_mrn,
        date_time,
        provider_id="p" * 63,
        upload_id="u" * 64,
        source_line=line,
        ingested_at="2024-03-02T00:00:00.000000Z",
    )
    assert _dynamodb_item_size(item) <= MAX_ITEM_BYTES


# --------------------------------------------------------------------------- line numbers


def _lines(shape: bytes) -> bytes:
    """Expand a compact file shape: H is the header, T a valid date_time."""
    return shape.replace(b"H", b"medical_record_number,date_time,note").replace(
        b",T,", b",2024-03-01T10:00:00Z,"
    )


# Each row's MRN is L<n>, n being the physical line where the record starts.
LINE_CASES = [
    pytest.param(b"H\nL2,T,x\nL3,T,x\nL4,T,x\n", [2, 3, 4], id="lf"),
    pytest.param(b"H\r\nL2,T,x\r\nL3,T,x\r\nL4,T,x\r\n", [2, 3, 4], id="crlf"),
    pytest.param(b"H\rL2,T,x\rL3,T,x\rL4,T,x\r", [2, 3, 4], id="lone-cr"),
    pytest.param(b"H\nL2,T,x\r\nL3,T,x\rL4,T,x\n", [2, 3, 4], id="mixed-endings"),
    pytest.param(b"H\nL2,T,x\nL3,T,x", [2, 3], id="no-final-newline"),
    pytest.param(BOM + b"H\r\nL2,T,x\r\nL3,T,x\r\n", [2, 3], id="bom-crlf"),
    pytest.param(b"H\n\nL3,T,x\n\r\n\rL6,T,x\n\n", [3, 6], id="blank-lines-skipped"),
    pytest.param(b"\n\r\nH\nL4,T,x\n", [4], id="blank-lines-before-header"),
    pytest.param(b'H\nL2,T,"a\nb"\nL4,T,x\n', [2, 4], id="quoted-lf"),
    pytest.param(b'H\r\nL2,T,"a\r\nb"\r\nL4,T,x\r\n', [2, 4], id="quoted-crlf"),
    pytest.param(b'H\rL2,T,"a\rb"\rL4,T,x\r', [2, 4], id="quoted-cr"),
    pytest.param(b'H\nL2,T,"a\n\n\nb"\nL6,T,x\n', [2, 6], id="quoted-blank-lines-count"),
    pytest.param(b'H\nL2,T,"a\r\n\nb\r"\nL6,T,x\n', [2, 6], id="quoted-mixed"),
    pytest.param(b'H\nL2,T,"\n"\nL4,T,"\r\n"\nL6,T,x', [2, 4, 6], id="quoted-only-newline"),
    pytest.param(b'medical_record_number,date_time,"no\nte"\nL3,T,x\n', [3],
                 id="quoted-newline-in-header"),
]  # fmt: skip


@pytest.mark.parametrize(("shape", "lines"), LINE_CASES)
def test_line_numbers_are_physical_lines_where_records_start(shape, lines):
    rows = rows_of(_lines(shape))
    assert [(line, mrn, problems) for line, _fields, mrn, _dt, problems in rows] == [
        (line, f"L{line}", ()) for line in lines
    ]


def test_line_numbers_after_refused_records():
    data = _lines(b'H\nL2,T,"a\nb"x\nL4,T\n\nL6,T,x,y\nL7,T,x\nL8,T,"never\nclosed')
    assert verdicts(data) == [
        (2, [(None, "malformed_quotes")]),
        (4, [(None, "wrong_field_count")]),
        (6, [(None, "wrong_field_count")]),
        (7, []),
        (8, [(None, "unclosed_quote")]),
    ]


def test_quoted_line_endings_are_kept_in_the_value():
    data = b'medical_record_number,date_time,note\r\nA1,2024-03-01T10:00:00Z,"a\r\nb\rc\nd"\r\n'
    [(_line, fields, _mrn, _dt, problems)] = rows_of(data)
    assert (fields[2], problems) == ("a\r\nb\rc\nd", ())


# --------------------------------------------------------------------------- text streams


EQUIVALENCE_CASES = [
    *(pytest.param((CORPUS / name).read_bytes(), id=name) for name in CORPUS_FILES),
    pytest.param(b"medical_record_number,date_time\r\nA1,2024-03-01T10:00:00Z\r\nA2,x\r\n",
                 id="crlf"),
    pytest.param(b"medical_record_number,date_time\rA1,2024-03-01T10:00:00Z\rA2,x\r", id="cr"),
    pytest.param(BOM + b"medical_record_number,date_time\nA1,2024-03-01T10:00:00Z\n", id="bom"),
    pytest.param(b'medical_record_number,date_time,n\r\nA1,2024-03-01T10:00:00Z,"a\r\nb"\r\nA2,x,\r\n',
                 id="quoted-crlf"),
]  # fmt: skip


@pytest.mark.parametrize("data", EQUIVALENCE_CASES)
def test_text_and_binary_streams_give_the_same_verdicts(data):
    try:
        from_bytes = rows_of(data)
    except ContractViolation as violation:
        with pytest.raises(ContractViolation) as caught:
            rows_of(data.decode("utf-8"))
        assert caught.value.code == violation.code
        return
    assert rows_of(data.decode("utf-8")) == from_bytes


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_plain_string_io_works_with_lf_and_crlf(ending):
    text = ending.join([HEADER.strip(), f'A1,{OK_TIME},"a{ending}b"', "A2,x,y", ""])
    assert verdicts(io.StringIO(text).getvalue()) == verdicts(text.encode())
    rows = list(validate.CsvValidation(io.StringIO(text)).rows())
    assert [(row[0], [p.code for p in row[4]]) for row in rows] == [
        (2, []),
        (4, ["date_time_format"]),
    ]


def test_text_stream_with_bom_before_a_quoted_first_name():
    text = '\ufeff"medical_record_number",date_time\nA1,2024-03-01T10:00:00Z\n'
    assert verdicts(text) == verdicts(text.encode())


def test_text_stream_carrying_undecodable_bytes_is_judged_like_the_bytes():
    data = HEADER.encode() + b"A1,2024-03-01T10:00:00Z,caf\xe9\n"
    text = data.decode("utf-8", "surrogateescape")
    assert verdicts(data) == [(2, [("note", "invalid_utf8")])]
    assert verdicts(text) == verdicts(data)


def test_zone_overflow_refuses_the_row_and_goes_on():
    data = b"medical_record_number,date_time\nA1,9999-12-31T23:00:00\nA2,2024-03-01T10:00:00\n"
    new_york = contract.resolve_time_zone("America/New_York")
    assert verdicts(data, new_york) == [(2, [(DT, "date_time_out_of_range")]), (3, [])]


# --------------------------------------------------------------------------- summarize


def _mixed_file(good: int, bad: int) -> bytes:
    rows = [f"G{i},{OK_TIME},ok" for i in range(good)] + [f"B{i},{OK_TIME},x,y" for i in range(bad)]
    return (HEADER + "\n".join(rows) + "\n").encode()


def test_summary_counts_stay_complete_when_errors_are_cut():
    summary = validate.summarize(io.BytesIO(_mixed_file(good=5, bad=10)), max_errors=3)
    assert (summary.rows, summary.valid, summary.invalid) == (15, 5, 10)
    assert summary.rows == summary.valid + summary.invalid
    assert [(p.line, p.code) for p in summary.errors] == [
        (7, "wrong_field_count"),
        (8, "wrong_field_count"),
        (9, "wrong_field_count"),
    ]
    assert summary.errors_truncated is True
    assert summary.ok is False


@pytest.mark.parametrize(
    ("max_errors", "kept", "truncated"), [(0, 0, True), (3, 3, True), (4, 4, False), (9, 4, False)]
)
def test_max_errors_counts_problems_not_rows(max_errors, kept, truncated):
    data = (HEADER + f"A#1,x,1\nA2,{OK_TIME},ok\nA#3,,3\n").encode()  # 2 rows, 4 problems
    summary = validate.summarize(io.BytesIO(data), max_errors=max_errors)
    assert (summary.rows, summary.valid, summary.invalid) == (3, 1, 2)
    assert len(summary.errors) == kept
    assert summary.errors_truncated is truncated


def test_clean_file_summary():
    summary = validate.summarize(io.BytesIO(_mixed_file(good=4, bad=0)), max_errors=0)
    assert (summary.rows, summary.valid, summary.invalid) == (4, 4, 0)
    assert (summary.errors, summary.errors_truncated, summary.ok) == ([], False, True)


def test_summary_as_dict():
    summary = validate.summarize(io.BytesIO((HEADER + "A1,x,y\n").encode()))
    assert summary.as_dict() == {
        "rows": 1,
        "valid": 0,
        "invalid": 1,
        "header_error": None,
        "errors": [
            {
                "line": 2,
                "column": DT,
                "code": "date_time_format",
                "message": summary.errors[0].message,
            }
        ],
        "errors_truncated": False,
    }
    refused = validate.summarize(io.BytesIO(b"")).as_dict()
    assert refused["header_error"]["code"] == "empty_file"
    assert refused["header_error"]["message"]


def test_progress_reports_bytes_read():
    data = _mixed_file(good=20_000, bad=0)
    seen: list[int] = []
    summary = validate.summarize(io.BytesIO(data), on_progress=seen.append)
    assert summary.rows == 20_000
    assert len(seen) == 20_000 // validate.PROGRESS_EVERY_ROWS
    assert seen == sorted(seen)
    assert 0 < seen[0] <= len(data)


# --------------------------------------------------------------------------- memory


class _GeneratedStream:
    """A binary file object whose bytes come from a generator, a chunk at a time."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")
        self.produced = 0

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = memoryview(chunk)
        if size < 0:
            size = len(self._pending)
        taken, self._pending = self._pending[:size], self._pending[size:]
        self.produced += len(taken)
        return bytes(taken)


def _many_rows(count: int, per_block: int = 1_000) -> Iterator[bytes]:
    """A header, then `count` rows in blocks; a few distinct blocks are made and repeated."""
    yield b"medical_record_number,date_time\n"
    blocks = [
        "".join(
            f"MRN{block:02d}{i:05d},2024-03-{block + 1:02d}T{i % 24:02d}:{i % 60:02d}:00"
            + ("-05:00\n" if i % 2 else "Z\n")
            for i in range(per_block)
        ).encode()
        for block in range(8)
    ]
    for index in range(count // per_block):
        yield blocks[index % len(blocks)]


def test_memory_stays_flat_on_a_large_stream():
    rows = 200_000
    stream = _GeneratedStream(_many_rows(rows))
    limit = 2 * 1024 * 1024
    tracemalloc.start()
    try:
        summary = validate.summarize(stream)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (summary.rows, summary.valid) == (rows, rows)
    assert stream.produced > 3 * limit  # reading the file whole could not stay under the limit
    assert peak < limit, f"peak traced memory {peak} bytes"
