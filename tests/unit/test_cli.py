"""`ingest` as a user runs it: exit codes, stdout, stderr, for each command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingestcli import __version__
from ingestcli.cli.app import app
from support.paths import EXAMPLE

HEADER = "medical_record_number,date_time,note\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def write_csv(tmp_path: Path):
    def write(text: str | bytes, name: str = "visits.csv") -> str:
        path = tmp_path / name
        if isinstance(text, str):
            path.write_text(text, encoding="utf-8", newline="")
        else:
            path.write_bytes(text)
        return str(path)

    return write


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"ingest {__version__}\n"


def test_help_lists_every_command_with_one_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in app.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        summary = command.callback.__doc__.splitlines()[0]
        assert name in result.stdout
        assert summary.split()[0] in result.stdout


def test_valid_file(runner: CliRunner, write_csv) -> None:
    path = write_csv(HEADER + "A1,2024-03-01T14:30:00-05:00,ok\nA2,2024-03-01T15:00:00Z,\n")
    result = runner.invoke(app, ["validate", path])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"✔ valid: {path}: every row is valid",
        "2 rows: 2 valid, 0 invalid",
    ]
    assert result.stderr == ""


@pytest.mark.usefixtures("wide_console")  # the table as a 200-column terminal shows it
def test_invalid_rows_are_listed_with_line_column_and_code(runner: CliRunner, write_csv) -> None:
    path = write_csv(HEADER + "A1,2024-03-01T14:30:00-05:00,ok\nB#2,2024-02-30T10:00:00Z,x\n")
    result = runner.invoke(app, ["validate", path])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"✘ invalid: {path}: 1 row of 2 cannot be accepted"
    assert lines[-1] == "2 rows: 1 valid, 1 invalid"
    table = "\n".join(lines[1:-1])
    assert "mrn_invalid_characters" in table
    assert "date_time_impossible" in table
    assert "mrn_invalid_characters \N{MULTIPLICATION SIGN}1 — line 3" in table
    assert "  medical_record_number: the medical record number" in table


def test_json_is_one_document_with_complete_counts(runner: CliRunner, write_csv) -> None:
    rows = "".join(f"A{n},2024-03-01T14:30:00,x\n" for n in range(5))
    path = write_csv(HEADER + rows + "B1,2024-03-01T14:30:00Z,y\n")
    result = runner.invoke(app, ["validate", path, "--format", "json", "--max-errors", "2"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document == {
        "file": path,
        "rows": 6,
        "valid": 1,
        "invalid": 5,
        "header_error": None,
        "errors": [
            {
                "line": line,
                "column": "date_time",
                "code": "date_time_no_offset",
                "message": document["errors"][0]["message"],
            }
            for line in (2, 3)
        ],
        "errors_truncated": True,
        "error_counts": {"date_time_no_offset": 5},
    }


def test_assume_tz_reads_times_without_offset(runner: CliRunner, write_csv) -> None:
    path = write_csv(HEADER + "A1,2024-07-01T12:00:00,x\n")
    result = runner.invoke(
        app, ["validate", path, "--assume-tz", "America/New_York", "--format", "json"]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["valid"] == 1


@pytest.mark.usefixtures("wide_console")  # a long temporary path would wrap at 80
def test_header_error_refuses_the_file(runner: CliRunner, write_csv) -> None:
    path = write_csv("medical_record_number,when\nA1,2024-03-01T14:30:00Z\n")
    result = runner.invoke(app, ["validate", path, "--format", "json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["header_error"]["code"] == "missing_column"
    assert document["rows"] == 0
    text = runner.invoke(app, ["validate", path])
    assert text.exit_code == 1
    assert text.stdout.startswith(f"✘ refused: {path}: the header has no 'date_time' column")


@pytest.mark.usefixtures("wide_console")  # the table as a 200-column terminal shows it
def test_names_with_brackets_are_printed_as_written(runner: CliRunner, write_csv) -> None:
    path = write_csv("medical_record_number,date_time,[b]\nA1,2024-03-01,x\n", name="[red]v.csv")
    result = runner.invoke(app, ["validate", path])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"✘ invalid: {path}: 1 row of 1 cannot be accepted")
    missing = runner.invoke(app, ["validate", path + "[/x]"])
    assert missing.exit_code == 2
    assert f"{path}[/x] does not exist" in missing.stderr


def test_empty_file(runner: CliRunner, write_csv) -> None:
    result = runner.invoke(app, ["validate", write_csv(""), "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["header_error"]["code"] == "empty_file"


def test_header_only_file_is_valid(runner: CliRunner, write_csv) -> None:
    path = write_csv(HEADER)
    result = runner.invoke(app, ["validate", path])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"✔ valid: {path}: a header and no data rows"


def test_standard_input(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["validate", "-", "--format", "json"], input=HEADER + "A1,2024-03-01T14:30:00Z,x\n"
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["file"] == "<stdin>"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["validate", "/no/such/file.csv"], "error: /no/such/file.csv does not exist"),
        (["validate", "."], "error: . is a folder"),
    ],
    ids=["missing-file", "folder"],
)
def test_unreadable_input_is_one_line_and_exit_2(
    runner: CliRunner, arguments: list[str], expected: str
) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "options",
    [
        ["--assume-tz", "Mars/Olympus"],
        ["--assume-tz", ""],
        ["--max-errors", "-1"],
        ["--format", "xml"],
    ],
    ids=["unknown-zone", "empty-zone", "negative-max-errors", "unknown-format"],
)
def test_wrong_options_exit_2(runner: CliRunner, write_csv, options: list[str]) -> None:
    result = runner.invoke(app, ["validate", write_csv(HEADER), *options])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_bundled_example_is_valid(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.stdout


def _run_installed(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real console script, as a user's shell runs it."""
    script = Path(sys.executable).parent / "ingest"
    return subprocess.run(
        [str(script), *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )


def test_console_script_end_to_end(write_csv) -> None:
    path = write_csv(HEADER + "A1,2024-03-01T14:30:00Z,x\nA2,yesterday,y\n")
    result = _run_installed("validate", path, "--format", "json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["invalid"] == 1
    missing = _run_installed("validate", path + ".missing")
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr


def test_no_color_is_honoured(write_csv) -> None:
    path = write_csv(HEADER + "B#2,2024-03-01T14:30:00Z,x\n")
    coloured = _run_installed("validate", path, FORCE_COLOR="1")
    assert "\x1b[31m" in coloured.stdout or "\x1b[1;31m" in coloured.stdout
    plain = _run_installed("validate", path, FORCE_COLOR="1", NO_COLOR="1")
    assert "31m" not in plain.stdout


def test_progress_goes_to_stderr_only_on_a_terminal(write_csv) -> None:
    rows = "".join(f"MRN{n:07d},2024-03-01T14:30:00Z,{'x' * 80}\n" for n in range(100_000))
    path = write_csv(HEADER + rows)
    piped = _run_installed("validate", path, "--format", "json")
    assert piped.returncode == 0
    assert piped.stderr == ""
    on_terminal = _run_installed("validate", path, "--format", "json", FORCE_COLOR="1")
    assert on_terminal.returncode == 0
    assert "Checking" in on_terminal.stderr
    assert json.loads(on_terminal.stdout)["rows"] == 100_000
