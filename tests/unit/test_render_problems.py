"""Problems grouped by code (issue 14, item 5), in `validate`'s output and a report's: each
code once, with its count, its first lines and one message, instead of one line per problem;
the code never wrapped or cut. JSON output still lists them one by one (tests/unit/test_cli.py).
Renderers and widths in general: tests/unit/test_render_widths.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from ingestcli.cli.render import upload
from ingestcli.cli.render.problems import TIMES
from ingestcli.cli.render.validate import render_summary
from ingestcli.core.summary import summarize
from support.console import lines_of, recording_console

WIDTH = 80
UPLOAD_A = "20240301T141500123Z-abcdefghij"


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> Console:
    """render/upload.py prints on an 80-column console whose output the test reads."""
    made = recording_console()
    monkeypatch.setattr(upload, "stdout", made)
    return made


def test_a_hundred_identical_problems_are_one_line_with_their_count(tmp_path: Path) -> None:
    rows = "".join(f"MRN-{n},2024-03-01T09:00:00,x\n" for n in range(100))
    path = tmp_path / "visits.csv"
    path.write_text("medical_record_number,date_time,note\n" + rows + "bad mrn!,2024-03-01Z,y\n")
    with path.open("rb") as stream:
        summary = summarize(stream)
    made = recording_console()
    render_summary(summary, "visits.csv", console=made)
    lines = lines_of(made)
    assert len(lines) == 8
    assert lines[:2] == [
        "✘ invalid: visits.csv: 101 rows of 101 cannot be accepted",
        f"date_time_no_offset {TIMES}100 — lines 2, 3, 4, … (first 3)",
    ]
    assert lines[2].startswith("  date_time: has no UTC offset")
    # The last row's two problems came after the first 100 the summary keeps: counted only.
    assert lines[-3:] == [
        f"date_time_format {TIMES}1 — past the first 100 problems",
        f"mrn_invalid_characters {TIMES}1 — past the first 100 problems",
        "101 rows: 0 valid, 101 invalid",
    ]
    assert all(cell_len(line) <= WIDTH for line in lines)


def test_a_report_groups_its_problems_by_code(console: Console) -> None:
    message = "has no UTC offset: add one (such as -05:00 or Z), or ask your operator"
    errors = [
        {"line": line, "column": "date_time", "code": "date_time_no_offset", "message": message}
        for line in range(2, 1001)
    ]
    errors.insert(
        3, {"line": 5, "column": None, "code": "item_refused_by_database", "message": "m"}
    )
    counts = {"date_time_no_offset": 1490, "item_refused_by_database": 1, "invalid_utf8": 9}
    report = {
        "upload_id": UPLOAD_A,
        "status": "partial",
        "rows": 2000,
        "written": 500,
        "rejected": 1500,
        "duplicates": 2,
        "errors": errors,
        "error_counts": counts,
    }
    upload.render_report(report)
    assert lines_of(console) == [
        f"Upload {UPLOAD_A}: ⚠ partial",
        "2,000 rows: 500 written, 1,500 rejected, 2 replaced by a later row with the same key",
        f"date_time_no_offset {TIMES}1,490 — lines 2, 3, 4, … (first 3)",
        "  date_time: has no UTC offset: add one (such as -05:00 or Z), or ask your",
        "  operator",
        f"item_refused_by_database {TIMES}1 — line 5",
        "  m",
        f"invalid_utf8 {TIMES}9 — past the first 1,000 problems",
        "The rejected rows were not written: fix them and upload those rows again.",
    ]


def test_a_report_without_counts_counts_its_list_and_bounds_its_codes(console: Console) -> None:
    errors = [
        {"line": 7, "column": f"c{n}", "code": f"code_{n}", "message": "m"} for n in range(4)
    ] + [{"line": 7, "column": "c9", "code": "code_0", "message": "other"}]
    upload.render_report({"upload_id": "up1", "status": "failed", "errors": errors}, max_errors=2)
    assert lines_of(console) == [
        "Upload up1: ✘ failed",
        "0 rows: 0 written, 0 rejected",
        f"code_0 {TIMES}2 — line 7",  # one line, twice: its distinct lines are all shown
        "  c0, c9: m",
        f"code_1 {TIMES}1 — line 7",
        "  c1: m",
        "and 2 more codes: --format json lists them",
        "Nothing was written: fix the file and upload it again.",
    ]


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("abandoned", "It was abandoned before its file was sent: nothing was ingested."),
        ("expired", "Its URL expired before a file arrived: nothing was ingested."),
    ],
)
def test_an_upload_whose_file_never_arrived_says_so(
    console: Console, status: str, said: str
) -> None:
    upload.render_report({"upload_id": UPLOAD_A, "status": status})
    assert lines_of(console) == [
        f"Upload {UPLOAD_A}: ✘ {status}",
        f"{said} Upload the file again.",
    ]


def test_a_header_refusal_keeps_its_code_whole_on_a_narrow_console() -> None:
    path_name = "exports/2024/march/clinic-visits-semicolon.csv"
    made = recording_console(40)
    summary = summarize(io.BytesIO(b"medical_record_number;date_time\nA;2024-03-01T09:00:00Z\n"))
    assert summary.header_error is not None
    render_summary(summary, path_name, console=made)
    lines = lines_of(made)
    assert f"({summary.header_error.code})" in " ".join(lines).split()
    assert all(cell_len(line) <= 40 for line in lines)
