"""The provider's upload client, the parts that need no server: the file's checksum, the
check before an upload, URLs refused before any request, and what is printed of a report and
of the uploads list. (Over real HTTP on loopback: tests/e2e/test_upload.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingestcli.cli.render.upload import render_report, render_uploads
from ingestcli.errors import UsageError
from ingestcli.services.api_client import ApiClient
from ingestcli.services.upload import check_before_upload, put_file, sha256_of
from support.uploads import REPORT, TOKEN, write_big_csv


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    return write_big_csv(tmp_path)


def test_sha256_of_streams_a_file(csv_file: Path) -> None:
    with csv_file.open("rb") as stream:
        assert sha256_of(stream) == (
            hashlib.sha256(csv_file.read_bytes()).hexdigest(),
            csv_file.stat().st_size,
        )


@pytest.mark.parametrize(
    "url", ["http://api.example.com/", "ftp://127.0.0.1/", "https://user:pw@api.example.com/"]
)
def test_urls_that_would_leak_are_refused(url: str, csv_file: Path) -> None:
    with pytest.raises(UsageError):
        ApiClient(url, TOKEN)
    with pytest.raises(UsageError):
        put_file(url, {}, str(csv_file), csv_file.stat().st_size)


def test_the_check_before_upload_is_the_validator(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("medical_record_number,date_time\nA-1,2024-05-01T10:00:00Z\nA-2,soon\n")
    summary = check_before_upload(str(path))
    assert (summary.rows, summary.valid, summary.invalid) == (2, 1, 1)
    assert summary.errors[0].line == 3


def test_a_report_is_shown_with_its_problems_and_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    problem = {"line": 3, "column": "[bold]x\x1b[2J", "code": "no_offset", "message": "no offset"}
    render_report(dict(REPORT, errors=[problem]))
    shown = capsys.readouterr().out
    assert "Upload up1: ⚠ partial" in shown
    assert "3 rows: 2 written, 1 rejected" in shown
    assert "[bold]x\\x1b[2J" in shown and "\x1b" not in shown
    assert "fix them and upload those rows again" in shown


def test_the_upload_list_shows_counts_nested_or_flat(capsys: pytest.CaptureFixture[str]) -> None:
    nested = {"upload_id": "up2", "status": "partial", "counts": {"rows": 7, "rejected": 2}}
    flat = {"upload_id": "up1", "status": "succeeded", "filename": "a.csv", "rows": 5}
    pending = {"upload_id": "up0", "status": "pending", "filename": "b.csv", "counts": None}
    render_uploads([nested, flat, pending])
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert lines[1:] == [
        ["up2", "⚠", "partial", "7", "2"],
        ["up1", "✔", "succeeded", "5", "a.csv"],
        ["up0", "…", "pending", "b.csv"],
        ["3", "uploads"],
    ]


def test_an_upload_with_no_file_name_shows_none_rather_than_the_word_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An operator's URL (`ingest presign` without --filename) names no file."""
    render_uploads([{"upload_id": "up3", "status": "pending", "filename": None, "counts": None}])
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert lines[1:] == [["up3", "…", "pending"], ["1", "upload"]]
