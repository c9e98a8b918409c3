"""Hostile CSV files: the CLI's verdict on each.

tests/hostile/ holds the small files, byte for byte, and recipes.py, which builds the big
ones at test time; expected.json gives each case's verdict with a one-line note (see
tests/hostile/README.md and tests/support/hostile.py). Every case is checked three ways:

- `ingest validate --format json` (Typer's CliRunner on the real app) gives the expected
  counts and codes at the expected lines; the big files run in a subprocess that also
  measures how much memory it grew by (this module);
- the ingest Lambda (Ingestor on moto) reports the same counts, refuses the same lines with
  the same codes (report and rejects CSV), and writes one item per key of the valid rows,
  each from the last valid row with that key (tests/integration/test_hostile_lambda.py);
- neither crashes, hangs (every test runs under an alarm) nor grows with the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.core.contract import to_item
from ingestcli.core.validate import CsvValidation
from support.hostile import (
    BIG,
    EXPECTED,
    FILES,
    RECIPES,
    SECONDS_PER_TEST,
    body_of,
    deadline,
    expected_for,
    recipes,
)
from support.paths import HOSTILE

# The subprocess that runs `ingest validate` on a big file: the real CLI through CliRunner,
# and the growth of its peak resident memory (VmHWM: per process image, so a fresh count in
# a new process) over what it held before it started.
MEASURE = """
import json, sys
import ingestcli.core.summary
from typer.testing import CliRunner
from ingestcli.cli.app import app

def status(key):
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

before = status("VmRSS")
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({
    "exit_code": result.exit_code,
    "stdout": result.stdout,
    "exception": None if isinstance(result.exception, (SystemExit, type(None)))
    else repr(result.exception),
    "growth": status("VmHWM") - before,
}))
"""


@pytest.fixture(autouse=True)
def alarm() -> Iterator[None]:
    """Fail a test that runs past SECONDS_PER_TEST instead of hanging the suite."""
    with deadline(SECONDS_PER_TEST):
        yield


def cli_verdict(document: dict[str, Any]) -> dict[str, Any]:
    """`ingest validate --format json` output in the shape of expected_for()."""
    errors: dict[int, list[str]] = {}
    for error in document["errors"]:
        errors.setdefault(error["line"], []).append(error["code"])
    header_error = document["header_error"]
    return {
        "header_error": header_error["code"] if header_error else None,
        "rows": document["rows"],
        "valid": document["valid"],
        "invalid": document["invalid"],
        "errors": errors,
    }


def without_duplicates(expected: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in expected.items() if key != "duplicates"}


def exit_code_for(expected: dict[str, Any]) -> int:
    return 0 if expected["header_error"] is None and expected["invalid"] == 0 else 1


# --------------------------------------------------------------------------- the corpus


def test_every_file_has_its_verdict_and_is_byte_for_byte_as_written() -> None:
    assert sorted(path.name for path in HOSTILE.glob("*.csv")) == FILES
    for name in FILES:
        digest = hashlib.sha256((HOSTILE / name).read_bytes()).hexdigest()
        assert digest == EXPECTED[name]["sha256"], f"{name} changed (line endings converted?)"


def test_every_recipe_has_its_verdict_and_every_case_a_note() -> None:
    assert sorted(RECIPES) == BIG
    assert len(EXPECTED) >= 30
    for name, case in EXPECTED.items():
        assert case["note"].strip(), name
        assert case["rows"] == case["valid"] + case["invalid"], name
        assert len(case["errors"]) == case["invalid"], name  # one line per refused record
        if case["header_error"] is not None:
            assert (case["rows"], case["errors"]) == (0, {}), name


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("name", FILES)
def test_validate_gives_the_expected_verdict(name: str) -> None:
    expected = expected_for(name)
    path = str(HOSTILE / name)
    runner = CliRunner()

    result = runner.invoke(app, ["validate", path, "--format", "json", "--max-errors", "100000"])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == exit_code_for(expected)
    document = json.loads(result.stdout)
    assert document["file"] == path
    assert document["errors_truncated"] is False
    assert cli_verdict(document) == without_duplicates(expected)
    # The text report, for people, copes with the same file (names, controls, escapes).
    text = runner.invoke(app, ["validate", path], env={"COLUMNS": "120"})
    assert text.exception is None or isinstance(text.exception, SystemExit), text.exception
    assert text.exit_code == result.exit_code


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("name", BIG)
def test_validate_gives_the_expected_verdict_on_a_big_file_in_bounded_memory(
    name: str, tmp_path: Path
) -> None:
    expected = expected_for(name)
    path = tmp_path / f"{name}.csv"
    path.write_bytes(body_of(name))
    arguments = ["validate", str(path), "--format", "json", "--max-errors", "100000"]

    answer = subprocess.run(
        [sys.executable, "-c", MEASURE, *arguments],
        capture_output=True,
        text=True,
        timeout=SECONDS_PER_TEST - 10,
        check=False,
    )

    assert answer.returncode == 0, answer.stderr[-2000:]
    measured = json.loads(answer.stdout)
    assert measured["exception"] is None
    assert measured["exit_code"] == exit_code_for(expected)
    assert cli_verdict(json.loads(measured["stdout"])) == without_duplicates(expected)
    limit = EXPECTED[name]["max_rss_growth_mb"]
    growth = measured["growth"] / (1 << 20)
    assert growth < limit, f"validate grew by {growth:.0f} MB on a {path.stat().st_size} B file"


def test_an_item_at_the_value_budget_fits_in_dynamodb() -> None:
    """The row_at_item_budget case, as the Lambda would store it with the longest provider
    id, upload id, line number and timestamp it can have, is within DynamoDB's 400 KB.
    (moto caps items at 405,000 bytes, so the Lambda test runs that case 5,000 bytes short.)
    """
    body = recipes.row_at_item_budget()
    validation = CsvValidation(io.BytesIO(body))
    ((_line, fields, mrn, date_time, problems),) = list(validation.rows())
    assert problems == ()
    item = to_item(
        validation.header,
        fields,
        mrn,
        date_time,
        provider_id="p" * 63,
        upload_id="U" * 64,
        source_line=10**20,
        ingested_at="2031-01-02T03:04:05.123456Z",
    )

    def size(name: str, value: dict[str, str]) -> int:
        # DynamoDB: a name's and a string's UTF-8 bytes; a number at most 1 byte a digit + 1.
        ((kind, text),) = value.items()
        return len(name.encode()) + len(text.encode()) + (1 if kind == "N" else 0)

    assert sum(size(name, value) for name, value in item.items()) <= 400 * 1024
    one_byte_more = body[:-1] + b"y\n"
    ((*_row, problems),) = list(CsvValidation(io.BytesIO(one_byte_more)).rows())
    assert [problem.code for problem in problems] == ["item_too_large"]
