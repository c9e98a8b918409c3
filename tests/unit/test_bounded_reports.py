"""Reports, rejects files and `ingest validate` output stay bounded whatever the file.

A hostile header (a 20,000-character column name, one name given twice, a row of values
where the header should be, terminal escape sequences) once made a 57 KB file give a 20 MB
report, quoted an MRN into a report, or cleared the screen of whoever ran `ingest validate`.
These tests hold the limits at the validator's level and in the pieces the Lambda builds its
report and rejects file from (Progress, build_report, RejectsBuffer), without AWS;
tests/integration/test_bounded_reports_lambda.py runs the Lambda itself on moto.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.cli.render import query
from ingestcli.core import spreadsheet
from ingestcli.core.bounded import MESSAGE_CHARS, NAME_CHARS, column_label, cut_name
from ingestcli.core.contract import MAX_COLUMN_NAME_BYTES, ContractViolation, parse_header
from ingestcli.core.layout import UploadRef
from ingestcli.core.reports import MAX_REPORTED_ERRORS, Progress, build_report
from ingestcli.core.summary import summarize
from ingestcli.core.validate import CsvValidation
from ingestcli.lambdas.ingest.rejects import RejectsBuffer

KEYS = ["medical_record_number", "date_time"]
TIME = "2024-03-01T10:00:00Z"
ONE_MB = 1_000_000
PER_ROW = 400  # the rejects file's own cells per row: line, positions, codes, message


def bad_byte_file(name: str, rows: int) -> bytes:
    """A header with `name` as its third column, then `rows` rows with a latin-1 byte in it."""
    body = ",".join([*KEYS, name]).encode() + b"\n"
    return body + b"".join(b"MRN%05d,%s,caf\xe9\n" % (n, TIME.encode()) for n in range(rows))


def ingest_like_the_lambda(data: bytes) -> tuple[dict, bytes]:
    """The report and rejects file the ingest Lambda builds from these bytes' verdicts."""
    validation = CsvValidation(io.BytesIO(data))
    progress, rejects = Progress(started_at="t0"), RejectsBuffer(validation.header.names)
    for line, fields, _mrn, _date_time, problems in validation.rows():
        progress.rows += 1
        if problems:
            rejects.reject(progress, line, [problem.as_dict() for problem in problems], fields)
        else:
            progress.written += 1
    ref = UploadRef("bucket", "acme/uploads/2024/03/01/u1.csv", "acme", "u1", None)
    report = build_report(ref, progress, "t1")
    return report, rejects.header_row().encode() + rejects.rewound().read()


def report_bytes(report: dict) -> int:
    return len(json.dumps(report, indent=2).encode())  # as ingestor._put_report writes it


# --------------------------------------------------------------------------- the header


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        pytest.param("n" * MAX_COLUMN_NAME_BYTES, False, id="255-ascii"),
        pytest.param("n" * (MAX_COLUMN_NAME_BYTES + 1), True, id="256-ascii"),
        pytest.param("€" * 85, False, id="255-bytes-of-euro-signs"),
        pytest.param("€" * 86, True, id="258-bytes-of-euro-signs"),
        pytest.param("x" * 20_000, True, id="20000-chars"),
    ],
)
def test_a_column_name_over_255_utf8_bytes_refuses_the_file(name: str, refused: bool) -> None:
    if not refused:
        assert parse_header([*KEYS, name]).names[2] == name
        return
    with pytest.raises(ContractViolation) as raised:
        parse_header([*KEYS, name])
    violation = raised.value
    assert (violation.code, violation.column) == ("column_name_too_long", None)
    assert "column 3" in violation.message and name[:10] not in violation.message


def test_the_20000_character_name_with_20000_bad_rows_is_refused_at_the_header() -> None:
    summary = summarize(io.BytesIO(bad_byte_file("x" * 20_000, 20_000)))
    assert summary.header_error is not None
    assert summary.header_error.code == "column_name_too_long"
    assert summary.error_counts == {"column_name_too_long": 1}
    assert (summary.rows, summary.errors) == (0, [])
    assert len(json.dumps(summary.as_dict())) < 1000


def test_a_duplicate_name_is_told_by_position_never_quoted() -> None:
    # A file without a header row: its first row, a patient's values, is read as the header.
    data = f"MRN55501,{TIME},MRN55501\nMRN55502,{TIME},x\n".encode()
    summary = summarize(io.BytesIO(data))
    assert summary.header_error is not None
    assert summary.header_error.code == "duplicate_column"
    assert summary.header_error.column is None
    assert "columns 1 and 3" in summary.header_error.message
    assert "MRN55501" not in json.dumps(summary.as_dict())
    huge = "y" * 200  # a long name given twice is not quoted either
    with pytest.raises(ContractViolation) as raised:
        parse_header([*KEYS, huge, huge])
    assert huge[:20] not in raised.value.message


# --------------------------------------------------------------------------- row errors


def test_invalid_utf8_names_its_column_by_position_and_a_cut_name() -> None:
    name = "medical_record_notes_" + "z" * 229  # 250 bytes: under the limit
    summary = summarize(io.BytesIO(bad_byte_file(name, 3)))
    problem = summary.errors[0]
    assert problem.code == "invalid_utf8"
    assert problem.column == name[: NAME_CHARS - 1] + "…" == cut_name(name)
    assert column_label(3, name) in problem.message
    assert name not in problem.message and len(problem.message) < 200
    assert cut_name("note") == "note"
    assert cut_name("medical_record_number") == "medical_record_number"


def test_a_summary_counts_every_error_by_code_and_lists_the_first() -> None:
    data = bad_byte_file("n" * 250, 20_000) + f"BAD#1,{TIME},x\nOK1,{TIME},x\n".encode()
    summary = summarize(io.BytesIO(data), max_errors=100)
    assert (summary.rows, summary.invalid, len(summary.errors)) == (20_002, 20_001, 100)
    assert summary.error_counts == {"invalid_utf8": 20_000, "mrn_invalid_characters": 1}
    assert summary.as_dict()["error_counts"] == summary.error_counts
    assert len(json.dumps(summary.as_dict())) < 100 * 500


# --------------------------------------------------------------------------- what the Lambda builds


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("n" * 250, id="250-ascii"),
        pytest.param("😀" * 63, id="252-bytes-of-emoji"),  # 12 bytes each as JSON escapes
        pytest.param("\x01" * 255, id="255-control-chars"),  # 6 bytes each as JSON escapes
    ],
)
def test_20000_bad_rows_give_a_report_under_1mb_and_rejects_near_the_file_size(
    name: str,
) -> None:
    data = bad_byte_file(name, 20_000)
    report, rejects = ingest_like_the_lambda(data)
    assert (report["rows"], report["rejected"], len(report["errors"])) == (20_000, 20_000, 1000)
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    assert report["error_counts"] == {"invalid_utf8": 20_000}
    assert report_bytes(report) < ONE_MB
    assert len(rejects) <= len(data) + PER_ROW * 20_000
    assert rejects.count(name.encode()) == 1  # in the header row only
    rows = list(csv.reader(io.StringIO(rejects.decode("utf-8", "surrogateescape"), newline="")))
    assert rows[1][:3] == ["2", "3", "invalid_utf8"]


def test_progress_counts_every_error_keeps_the_first_thousand_and_survives_a_checkpoint() -> None:
    progress = Progress(started_at="t0")
    long = {"line": 2, "column": "c" * 5000, "code": "invalid_utf8", "message": "m" * 50_000}
    for _ in range(3000):
        progress.add_errors([long, {**long, "code": "mrn_missing", "column": None}])
    assert len(progress.errors) == MAX_REPORTED_ERRORS
    assert progress.error_counts == {"invalid_utf8": 3000, "mrn_missing": 3000}
    assert all(len(error["column"] or "") <= NAME_CHARS for error in progress.errors)
    assert all(len(error["message"]) <= MESSAGE_CHARS for error in progress.errors)
    again = Progress.from_json(progress.to_json())
    assert again.error_counts == progress.error_counts
    ref = UploadRef("bucket", "acme/uploads/2024/03/01/u1.csv", "acme", "u1", None)
    failure = {"line": None, "column": None, "code": "processing_failed", "message": "m"}
    report = build_report(ref, again, "t1", failure)
    assert report["error_counts"]["processing_failed"] == 1
    assert report_bytes(report) < ONE_MB
    refused = build_report(ref, Progress(started_at="t0"), "t1", failure)
    assert refused["error_counts"] == {"processing_failed": 1}


def test_rejects_name_columns_by_position_and_neutralise_formulas() -> None:
    header = ("medical_record_number", "date_time", '=HYPERLINK("x")', "@note")
    data = (
        'medical_record_number,date_time,"=HYPERLINK(""x"")",@note\n'
        "B#1,2024-02-30T10:00:00Z,=cmd|' /C calc'!A0,-1\n"
        f"A#2,{TIME},+SUM(A1),\tx\n"
        f'A#3,{TIME},-2.5,"\r=1"\n'
    ).encode()
    _report, rejects = ingest_like_the_lambda(data)
    rows = list(csv.reader(io.StringIO(rejects.decode(), newline="")))
    assert rows[0] == ["line", "column", "code", "message", *KEYS, "'" + header[2], "'@note"]
    assert rows[1][:3] == ["2", "1; 2", "mrn_invalid_characters; date_time_impossible"]
    assert rows[1][4:] == ["B#1", "2024-02-30T10:00:00Z", "'=cmd|' /C calc'!A0", "-1"]
    assert rows[2][6:] == ["'+SUM(A1)", "'\tx"]
    assert rows[3][6:] == ["-2.5", "'\r=1"]  # a plain number stays as it is


def test_one_neutralising_function_serves_the_query_csv_and_the_rejects() -> None:
    assert query.spreadsheet_safe is spreadsheet.spreadsheet_safe
    assert spreadsheet.spreadsheet_safe("=1+1") == "'=1+1"
    assert spreadsheet.spreadsheet_safe("-12") == "-12"


# --------------------------------------------------------------------------- terminals

ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07"  # clear, title, clipboard write


def test_validate_escapes_control_characters_from_header_names(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_bytes(bad_byte_file(ESCAPES + "note", 2))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[2J" in result.stdout


def test_validate_escapes_a_file_name_and_lists_codes_when_truncated(tmp_path: Path) -> None:
    path = tmp_path / "visits\x1b[2J.csv"
    path.write_bytes(bad_byte_file("note", 30))
    result = CliRunner().invoke(app, ["validate", str(path), "--max-errors", "5"])
    assert "\x1b" not in result.stdout
    assert "invalid_utf8 \N{MULTIPLICATION SIGN}30 — lines 2, 3, 4, … (first 3)" in result.stdout


def test_the_check_before_upload_escapes_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_bytes(bad_byte_file(ESCAPES + "note", 2))
    # an operator's URL: the check runs before any call (with a token, the API is asked
    # for the provider's time zone first)
    url = "http://127.0.0.1:9/acme/uploads/x.csv"
    result = CliRunner().invoke(app, ["upload", str(path), "--url", url])
    assert result.exit_code == 1
    assert "invalid_utf8" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
