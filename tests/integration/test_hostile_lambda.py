"""Hostile CSV files through the ingest Lambda (Ingestor on moto): it reports the counts the
CLI finds, refuses the same lines with the same codes (report and rejects CSV), and writes
one item per key of the valid rows, each from the last valid row with that key, without
crashing or hanging (every test runs under an alarm). The cases: tests/hostile and
tests/support/hostile.py; the CLI's verdicts: tests/unit/test_hostile.py.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from ingestcli.core.contract import sort_key
from ingestcli.core.validate import CsvValidation
from support.harness import Harness, ingest_once, make_harness
from support.hostile import BIG, FILES, SECONDS_PER_TEST, body_of, deadline, expected_for
from support.ingest_results import assert_counts_add_up, flat


@pytest.fixture(autouse=True)
def alarm() -> Iterator[None]:
    """Fail a test that runs past SECONDS_PER_TEST instead of hanging the suite."""
    with deadline(SECONDS_PER_TEST):
        yield


@pytest.fixture
def env(clients: Any) -> Harness:
    return make_harness(clients)


def winning_lines(body: bytes) -> dict[str, int]:
    """Sort key -> line of the last valid row with that key: the row its item must hold."""
    winners: dict[str, int] = {}
    for line, _fields, mrn, date_time, problems in CsvValidation(io.BytesIO(body)).rows():
        if not problems:
            winners[sort_key(mrn, date_time)] = line
    return winners


def rows_by_line(body: bytes) -> dict[int, list[str]]:
    return {line: fields for line, fields, *_ in CsvValidation(io.BytesIO(body)).rows()}


@pytest.mark.parametrize("name", FILES + BIG)
def test_the_lambda_gives_the_same_verdict_line_by_line(env: Harness, name: str) -> None:
    expected = expected_for(name, for_lambda=True)
    body = body_of(name, for_lambda=True)
    env.upload(body)

    assert ingest_once(env) == {"batchItemFailures": []}

    report = env.report()
    assert report is not None
    assert_counts_add_up(report)
    if expected["header_error"] is not None:
        assert report["status"] == "failed"
        assert [(e["line"], e["code"]) for e in report["errors"]] == [(1, expected["header_error"])]
        assert (report["rows"], env.count(), env.rejects()) == (0, 0, None)
        return
    assert report["rows"] == expected["rows"]
    assert report["rejected"] == expected["invalid"]
    assert report["duplicates"] == expected["duplicates"]
    assert report["written"] + report["duplicates"] == expected["valid"]
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (line, code) for line, codes in sorted(expected["errors"].items()) for code in codes
    ]
    rejects = env.rejects()
    if expected["invalid"] == 0:
        assert rejects is None
    else:
        assert rejects is not None
        assert {int(row[0]): row[2].split("; ") for row in rejects[1:]} == expected["errors"]
        assert len(rejects) == 1 + expected["invalid"]

    # Every valid row is written: one item per key, from the last row with that key, its
    # values as sent (a formula, a NUL, an escape sequence stay strings, unchanged).
    winners = winning_lines(body)
    assert env.count() == report["written"] == len(winners)
    items = {item["sortKey"]["S"]: flat(item) for item in env.items()}
    assert {key: int(item["source_line"]) for key, item in items.items()} == winners
    fields_at = rows_by_line(body)
    header = CsvValidation(io.BytesIO(body)).header
    for key, line in winners.items():
        for column, value in zip(header.names, fields_at[line], strict=True):
            if column not in ("medical_record_number", "date_time"):
                assert items[key][column] == value, (line, column)
        assert items[key]["date_time_original"] == fields_at[line][header.date_time_index]
