"""Fuzzing the ingest Lambda on moto (hypothesis): for valid files mutated the ways files get
broken, and random bytes, no message fails for a readable upload, the report reconciles
(rows == written + rejected + duplicates), agrees with the validator line by line, and the
table holds one item per key written. (The validator alone: tests/unit/test_fuzz.py; the
inputs: tests/support/fuzz_inputs.py.)
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestcli.core.summary import summarize
from support.fuzz_inputs import any_bytes, mutated_files
from support.harness import Harness, ingest_once, make_harness
from support.names import RECORDS, UPLOAD_ID

ON_MOTO = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


_providers = itertools.count(1)


@pytest.fixture
def env(clients: Any) -> Harness:
    return make_harness(clients)


@ON_MOTO
@given(st.one_of(mutated_files(), any_bytes))
def test_the_lambda_never_fails_a_readable_upload_and_agrees_with_the_validator(
    env: Harness, data: bytes
) -> None:
    provider = f"fuzz{next(_providers):04d}"  # a partition and keys of its own per example
    env.add_provider(provider)
    key = env.upload(data, key=f"{provider}/uploads/2024/03/01/{UPLOAD_ID}.csv")

    assert ingest_once(env, key) == {"batchItemFailures": []}

    report = env.report(f"{provider}/reports/{UPLOAD_ID}.json")
    assert report is not None
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    summary = summarize(io.BytesIO(data), max_errors=10_000)
    if summary.header_error is not None:
        assert report["status"] == "failed"
        assert [e["code"] for e in report["errors"]] == [summary.header_error.code]
        assert report["rows"] == 0
    assert report["rows"] == summary.rows
    assert report["rejected"] == summary.invalid
    assert report["written"] + report["duplicates"] == summary.valid
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == (
        [(1, summary.header_error.column, summary.header_error.code)]
        if summary.header_error
        else [(p.line, p.column, p.code) for p in summary.errors]
    )
    rejects = env.rejects(f"{provider}/rejects/{UPLOAD_ID}.csv") or [[]]
    by_line: dict[int, list[str]] = {}
    for problem in summary.errors:
        by_line.setdefault(problem.line, []).append(problem.code)
    assert {int(row[0]): row[2].split("; ") for row in rejects[1:]} == by_line
    stored = env.dynamodb.query(
        TableName=RECORDS,
        KeyConditionExpression="providerId = :p",
        ExpressionAttributeValues={":p": {"S": provider}},
        Select="COUNT",
    )["Count"]
    assert stored == report["written"]
