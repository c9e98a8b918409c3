"""The CSV contract's edges as a provider meets them in `ingest validate` and in `ingest
upload`'s local check: a file separated by semicolons or tabs, .NET's and SQL Server's seven
fraction digits, and a date and time without an offset. (The same verdicts through the
ingest Lambda: tests/hostile, checked by tests/integration/test_hostile_lambda.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.services.upload import check_before_upload

NO_OFFSET = (
    "has no UTC offset: add one (such as -05:00 or Z), or ask your operator to register your "
    "time zone; `ingest upload` then checks with it, and `ingest validate --assume-tz ZONE` "
    "checks as the server would"
)


@pytest.fixture
def write_csv(tmp_path: Path):
    def write(data: bytes) -> str:
        path = tmp_path / "visits.csv"
        path.write_bytes(data)
        return str(path)

    return write


def validate_json(path: str, *options: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["validate", path, "--format", "json", *options])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        pytest.param(b"medical_record_number;date_time;note\r\nA1;2024-03-01T10:00:00Z;x\r\n",
                     "semicolons (;)", id="semicolons"),
        pytest.param(b"medical_record_number\tdate_time\nA1\t2024-03-01T10:00:00Z\n", "tabs",
                     id="tabs"),
    ],
)  # fmt: skip
def test_a_file_not_separated_by_commas_is_refused_saying_what_to_do(write_csv, data, words):
    path = write_csv(data)
    message = (
        f"the file is separated by {words}, not commas: export it again as comma-separated CSV"
    )

    exit_code, document = validate_json(path)

    assert exit_code == 1
    assert document == {
        "file": path,
        "rows": 0,
        "valid": 0,
        "invalid": 0,
        "header_error": {"code": "header_wrong_delimiter", "message": message},
        "errors": [],
        "errors_truncated": False,
        "error_counts": {"header_wrong_delimiter": 1},
    }
    checked = check_before_upload(path)  # `ingest upload` refuses it before sending, alike
    assert checked.header_error is not None
    assert (checked.header_error.code, checked.header_error.message) == (
        "header_wrong_delimiter",
        message,
    )


def test_seven_fraction_digits_from_dotnet_and_sql_server_pass(write_csv):
    path = write_csv(
        b"medical_record_number,date_time\n"
        b"A1,2024-03-01T10:00:00.1234567Z\n"  # .NET DateTime.ToString("o"), UTC
        b"A2,2024-03-01T05:00:00.1234567-05:00\n"  # datetimeoffset(7)
        b"A3,2024-03-01 10:00:00.123456789Z\n"  # nine digits
        b"A4,2024-03-01T10:00:00.1234567891Z\n"  # ten: refused
    )

    exit_code, document = validate_json(path)

    assert exit_code == 1
    assert (document["rows"], document["valid"], document["invalid"]) == (4, 3, 1)
    assert document["errors"] == [
        {
            "line": 5,
            "column": "date_time",
            "code": "date_time_too_precise",
            "message": "has more than 9 fraction digits (finer than a nanosecond): cut it to 9 "
            "or fewer",
        }
    ]


def test_no_offset_tells_the_provider_what_to_do_and_assume_tz_checks_as_the_server(write_csv):
    path = write_csv(b"medical_record_number,date_time\nA1,2024-07-01T12:00:00\n")

    exit_code, document = validate_json(path)

    assert exit_code == 1
    assert document["errors"] == [
        {"line": 2, "column": "date_time", "code": "date_time_no_offset", "message": NO_OFFSET}
    ]
    assert check_before_upload(path).errors == [(2, "date_time", "date_time_no_offset", NO_OFFSET)]
    exit_code, document = validate_json(path, "--assume-tz", "America/Chicago")
    assert (exit_code, document["valid"], document["errors"]) == (0, 1, [])
