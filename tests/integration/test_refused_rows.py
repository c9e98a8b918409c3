"""A row the table refuses is that row's rejection, never the file's failure, and the report
still matches the table: the items carrying the upload's id number `written`.

moto refuses items over 405,000 bytes; the contract's limit is no larger, so the validator
refuses such a row first. To make the table refuse a row the validator passes, moto's client
is wrapped so that BatchWriteItem answers ValidationException, as DynamoDB does, for any call
holding an item whose note is POISON (DynamoDB names no item: the whole call is refused).
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from ingestcli.core.contract import MAX_ITEM_BYTES, MOTO_ITEM_BYTES, parse_header
from ingestcli.core.summary import summarize
from support.faults import Passthrough, client_error
from support.harness import Harness, ingest_once, make_harness
from support.ingest_events import FakeContext, csv_bytes, s3_event_body
from support.names import CHECKPOINTS, KEY, UPLOAD_ID

POISON = "POISON"
TIME = "2024-03-01T10:00:00Z"


class RefusingDynamoDB(Passthrough):
    """moto's client, with BatchWriteItem refused whole for a call holding a POISON note."""

    def batch_write_item(self, RequestItems: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        ((_table, requests),) = RequestItems.items()
        if any(r["PutRequest"]["Item"].get("note", {}).get("S") == POISON for r in requests):
            raise client_error("ValidationException")
        return self._real.batch_write_item(RequestItems=RequestItems, **kwargs)


@pytest.fixture
def env(clients: Any) -> Harness:
    return make_harness(clients)


def mine(env: Harness) -> list[dict[str, Any]]:
    return [item for item in env.items() if item["upload_id"]["S"] == UPLOAD_ID]


def assert_reconciles(env: Harness, report: dict[str, Any]) -> None:
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    assert report["written"] == len(mine(env))


def codes_by_line(report: dict[str, Any]) -> dict[int, str]:
    return {error["line"]: error["code"] for error in report["errors"]}


def row(n: int, note: str = "ok", mrn: str | None = None) -> list[str]:
    return [mrn or f"M{n:04d}", f"2024-03-01T{n // 60 % 24:02d}:{n % 60:02d}:00Z", note]


# --------------------------------------------------------------------------- the limit


def test_a_401_row_file_with_a_row_just_over_motos_limit_is_refused_by_validate(
    env: Harness,
) -> None:
    """The issue's file: under the old 409,600-byte budget, over moto's 405,000. Now the
    validator refuses that row, and the Lambda writes the other 400."""
    header = parse_header(["medical_record_number", "date_time", "note"])
    assert MAX_ITEM_BYTES == MOTO_ITEM_BYTES == 405_000
    mrn = "M0200"
    note = "y" * (header.value_budget - len(mrn) - len(TIME) + 100)  # 100 bytes too many
    assert len(note) + 4_000 < header.value_budget + (409_600 - 405_000)  # the old limit
    rows = [row(n) for n in range(401)]
    rows[200] = [mrn, TIME, note]
    body = csv_bytes(rows)

    summary = summarize(io.BytesIO(body))
    assert (summary.rows, summary.valid, summary.invalid) == (401, 400, 1)
    assert [(problem.line, problem.code) for problem in summary.errors] == [(202, "item_too_large")]

    env.upload(body)
    assert ingest_once(env) == {"batchItemFailures": []}
    report = env.report()
    assert (report["status"], report["written"], report["rejected"]) == ("partial", 400, 1)
    assert codes_by_line(report) == {202: "item_too_large"}
    assert_reconciles(env, report)
    assert env.queued(env.dlq_url) == []


def test_a_row_that_fills_the_budget_exactly_is_stored_by_moto(env: Harness) -> None:
    header = parse_header(["medical_record_number", "date_time", "note"])
    mrn = "M" * 64
    note = "y" * (header.value_budget - len(mrn) - len(TIME))
    body = csv_bytes([[mrn, TIME, note]])
    assert summarize(io.BytesIO(body)).ok
    env.upload(body)
    assert ingest_once(env) == {"batchItemFailures": []}
    report = env.report()
    assert (report["status"], report["written"]) == ("succeeded", 1)
    assert_reconciles(env, report)


# --------------------------------------------------------------------------- refusals


def test_a_row_the_table_refuses_is_rejected_with_its_own_code_and_the_rest_is_written(
    env: Harness,
) -> None:
    rows = [row(n) for n in range(401)]
    rows[150] = row(150, POISON)
    body = csv_bytes(rows)
    assert summarize(io.BytesIO(body)).ok  # the validator passes every row
    env.upload(body)

    answer = ingest_once(env, dynamodb=RefusingDynamoDB(env.dynamodb))

    assert answer == {"batchItemFailures": []}
    report = env.report()
    assert (report["status"], report["rows"], report["written"]) == ("partial", 401, 400)
    assert (report["rejected"], report["duplicates"]) == (1, 0)
    ((error),) = report["errors"]
    assert (error["line"], error["column"], error["code"]) == (
        152,
        None,
        "item_refused_by_database",
    )
    assert POISON not in error["message"] and "M0150" not in error["message"]
    assert_reconciles(env, report)
    header, rejected = env.rejects()
    assert header[:4] == ["line", "column", "code", "message"]
    assert rejected[0] == "152" and rejected[2] == "item_refused_by_database"
    assert rejected[4:] == rows[150]  # the row as sent
    assert env.queued(env.dlq_url) == [] and env.keys(CHECKPOINTS) == []


@pytest.mark.parametrize(
    ("gap", "written", "duplicates", "kept"),
    [
        pytest.param(0, 3, 1, None, id="earlier-row-in-the-same-batch"),
        pytest.param(40, 44, 0, "first", id="earlier-row-already-written"),
    ],
)
def test_a_refused_row_whose_key_appears_earlier_in_the_file(
    env: Harness, gap: int, written: int, duplicates: int, kept: str | None
) -> None:
    """Same batch: the writer replaced the earlier item by the refused one, so no row of the
    key is stored (written -1). Earlier batch: the earlier row is stored (duplicates -1)."""
    rows = [row(1000, "first", "K1")]
    rows += [row(n) for n in range(gap)]
    rows += [row(n) for n in range(gap, gap + 3)]
    rows.append(row(1000, POISON, "K1"))
    env.upload(csv_bytes(rows))

    ingest_once(env, dynamodb=RefusingDynamoDB(env.dynamodb), writers=1)

    report = env.report()
    assert (report["written"], report["rejected"], report["duplicates"]) == (
        written,
        1,
        duplicates,
    )
    assert codes_by_line(report) == {len(rows) + 1: "item_refused_by_database"}
    assert_reconciles(env, report)
    notes = {item["medical_record_number"]["S"]: item["note"]["S"] for item in mine(env)}
    assert notes.get("K1") == kept


def test_a_later_row_of_a_refused_key_is_written_and_counted(env: Harness) -> None:
    rows = [row(1000, POISON, "K1")] + [row(n) for n in range(30)] + [row(1000, "later", "K1")]
    env.upload(csv_bytes(rows))
    ingest_once(env, dynamodb=RefusingDynamoDB(env.dynamodb), writers=1)
    report = env.report()
    assert (report["written"], report["rejected"], report["duplicates"]) == (31, 1, 0)
    assert_reconciles(env, report)


def test_refused_rows_found_before_a_checkpoint_are_settled_before_it_is_saved(
    env: Harness,
) -> None:
    """Runs of six rows: K1 refused in the first run (no row of it stored), written by a
    later run; K2 written in the first run, refused later (its earlier row kept); K3 refused
    in two runs. Each checkpoint saves settled counts; the end matches the table."""
    env.defaults["time_check_every_rows"] = 3
    rows = [row(n) for n in range(30)]
    rows[1] = row(1001, POISON, "K1")
    rows[2] = row(1002, "kept", "K2")
    rows[4] = row(1003, POISON, "K3")
    rows[14] = row(1001, "later", "K1")
    rows[20] = row(1002, POISON, "K2")
    rows[25] = row(1003, POISON, "K3")
    env.upload(csv_bytes(rows))
    ingestor = env.ingestor(dynamodb=RefusingDynamoDB(env.dynamodb))
    env.send(s3_event_body(KEY))

    answers = env.drain(ingestor, lambda: FakeContext(answers_before_low=2))

    assert len(answers) > 3  # continued through the queue
    report = env.report()
    assert report["status"] == "partial"
    assert (report["rows"], report["rejected"]) == (30, 4)
    assert sorted(codes_by_line(report)) == [3, 6, 22, 27]
    assert set(codes_by_line(report).values()) == {"item_refused_by_database"}
    assert_reconciles(env, report)
    assert (report["written"], report["duplicates"]) == (26, 0)  # 24 others, K1 and K2
    notes = {item["medical_record_number"]["S"]: item["note"]["S"] for item in mine(env)}
    assert (notes["K1"], notes["K2"], notes.get("K3")) == ("later", "kept", None)
    assert len(env.rejects()) == 5
    assert env.keys(CHECKPOINTS) == []
