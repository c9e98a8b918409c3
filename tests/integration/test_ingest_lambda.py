"""The ingest Lambda end to end on moto: SQS messages carrying S3 events in, table and reports out.

Everything runs against moto's S3, DynamoDB and SQS (the `clients` fixture), with the tables
keyed as infra/cloudformation/ingest.yaml keys them. Messages reach the handler either built
by hand (the shape the SQS event source mapping gives a Lambda) or received from a real moto
queue, which is how continuation messages travel. What is compared is what a user sees: the
table's items, the report object's bytes and the rejects CSV.

Files that need several runs (checkpoints and continuation messages), faults (throttling,
broken streams, crashes, the last attempt before the dead-letter queue) and the logging rules
live in test_ingest_faults.py. Both use the harness of tests/support/harness.py.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from typing import Any

import pytest

from ingestcli.core.ledger import UploadLedger
from ingestcli.lambdas.ingest import handler as ingest_handler
from support.harness import Harness, ingest_once, make_harness
from support.ingest_events import (
    HEADER,
    S3_TEST_EVENT,
    FakeContext,
    csv_bytes,
    lambda_event,
    s3_event_body,
    sqs_record,
)
from support.ingest_results import REJECTS_HEADER, assert_counts_add_up, ticking_clock
from support.names import (
    BUCKET,
    CHECKPOINTS,
    KEY,
    PROVIDER,
    PROVIDERS,
    RECORDS,
    REJECTS_KEY,
    REPORT_KEY,
    UPLOAD_ID,
    UPLOADS,
)


@pytest.fixture
def env(clients: Any) -> Harness:
    return make_harness(clients)


# --------------------------------------------------------------------------- the happy path


def test_an_s3_event_from_the_queue_writes_every_valid_row_as_an_item(env: Harness) -> None:
    body = csv_bytes(
        [
            ["A-100", "2024-03-01T14:30:00-05:00", "first visit"],
            ["  B.200 ", "2024-03-01T19:30:00.25Z", "0070.50"],
        ],
        header=("medical_record_number", "date_time", "weight"),
    )
    env.upload(body)
    env.send(s3_event_body(KEY))

    answers = env.drain(env.ingestor())

    assert answers == [{"batchItemFailures": []}]
    report = env.report()
    assert report is not None
    assert_counts_add_up(report)
    ingested_at = report["started_at"]
    assert env.items() == [
        {
            "providerId": {"S": PROVIDER},
            "sortKey": {"S": "A-100#2024-03-01T19:30:00.000000Z"},
            "medical_record_number": {"S": "A-100"},
            "date_time": {"S": "2024-03-01T19:30:00.000000Z"},
            "date_time_original": {"S": "2024-03-01T14:30:00-05:00"},
            "weight": {"S": "first visit"},
            "upload_id": {"S": UPLOAD_ID},
            "source_line": {"N": "2"},
            "ingested_at": {"S": ingested_at},
        },
        {
            "providerId": {"S": PROVIDER},
            "sortKey": {"S": "B.200#2024-03-01T19:30:00.250000Z"},
            "medical_record_number": {"S": "B.200"},
            "date_time": {"S": "2024-03-01T19:30:00.250000Z"},
            "date_time_original": {"S": "2024-03-01T19:30:00.25Z"},
            "weight": {"S": "0070.50"},  # a string as sent: never a number, never rounded
            "upload_id": {"S": UPLOAD_ID},
            "source_line": {"N": "3"},
            "ingested_at": {"S": ingested_at},
        },
    ]
    assert {k: report[k] for k in ("upload_id", "provider", "key", "status")} == {
        "upload_id": UPLOAD_ID,
        "provider": PROVIDER,
        "key": KEY,
        "status": "succeeded",
    }
    assert (report["rows"], report["written"], report["rejected"], report["duplicates"]) == (
        2,
        2,
        0,
        0,
    )
    assert report["errors"] == []
    assert report["started_at"] <= report["finished_at"]
    assert env.object(REJECTS_KEY) is None  # nothing refused, no rejects file
    assert env.keys(CHECKPOINTS) == []


def test_the_lambda_entry_point_reads_its_settings_from_the_environment(
    env: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "UPLOADS_BUCKET": BUCKET,
        "RECORDS_TABLE": RECORDS,
        "PROVIDERS_TABLE": PROVIDERS,
        "UPLOADS_TABLE": UPLOADS,
        "QUEUE_URL": env.queue_url,
    }.items():
        monkeypatch.setenv(name, value)
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]))

    ingest_handler.ingestor.cache_clear()  # a fresh execution environment, before and after
    try:
        answer = ingest_handler.handler(lambda_event(sqs_record(s3_event_body(KEY))), FakeContext())
    finally:
        ingest_handler.ingestor.cache_clear()

    assert answer == {"batchItemFailures": []}
    assert list(env.values()) == ["A1#2024-03-01T10:00:00.000000Z"]
    assert env.report()["status"] == "succeeded"


# --------------------------------------------------------------------------- events and keys


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(S3_TEST_EVENT, id="s3-test-event"),
        pytest.param(s3_event_body(KEY, event_name="ObjectRemoved:Delete"), id="object-removed"),
        pytest.param(json.dumps({"Records": []}), id="no-records"),
    ],
)
def test_messages_that_name_no_new_object_are_acknowledged_and_change_nothing(
    env: Harness, body: str
) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]))

    answer = env.ingestor().handle_batch(lambda_event(sqs_record(body)), FakeContext())

    assert answer == {"batchItemFailures": []}
    assert env.items() == []
    assert env.keys() == [KEY]


def test_a_url_encoded_key_is_decoded_before_it_is_read(env: Harness) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]))
    encoded = urllib.parse.quote(KEY, safe="")  # every '/' sent as %2F
    assert "%2F" in encoded
    event = lambda_event(sqs_record(s3_event_body(KEY, encoded_key=encoded)))

    answer = env.ingestor().handle_batch(event, FakeContext())

    assert answer == {"batchItemFailures": []}
    assert list(env.values()) == ["A1#2024-03-01T10:00:00.000000Z"]
    assert env.report()["key"] == KEY


@pytest.mark.parametrize(
    ("stored_key", "encoded_key"),
    [
        # Our keys never hold a space, '+' or a slash in the id: such keys were not made by
        # the API. Each is stored as an object, so ingesting it would show in the table.
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/01J A.csv", None, id="space-as-plus"),
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/01J+A.csv", None, id="literal-plus"),
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/01J/A.csv", None, id="slash-in-id"),
        pytest.param(
            f"{PROVIDER}/uploads/2024/03/01/01J/A.csv",
            f"{PROVIDER}/uploads/2024/03/01/01J%2FA.csv",
            id="encoded-slash-in-id",
        ),
        pytest.param(
            f"{PROVIDER}/uploads/2024/03/01/01J%2FA.csv",
            f"{PROVIDER}/uploads/2024/03/01/01J%252FA.csv",
            id="literal-percent",
        ),
    ],
)
def test_keys_the_api_cannot_have_made_are_skipped_cleanly(
    env: Harness, stored_key: str, encoded_key: str | None
) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]), key=stored_key)
    event = lambda_event(sqs_record(s3_event_body(stored_key, encoded_key=encoded_key)))

    answer = env.ingestor().handle_batch(event, FakeContext())

    assert answer == {"batchItemFailures": []}  # not retried: it would never succeed
    assert env.items() == []
    assert env.keys() == [stored_key]  # no report, no rejects, no checkpoint


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(f"{PROVIDER}/rejects/x.csv", id="own-rejects"),
        pytest.param(f"{PROVIDER}/reports/x.json", id="own-report"),
        pytest.param(f"{PROVIDER}/checkpoints/x.json", id="own-checkpoint"),
        pytest.param("stray.csv", id="top-level"),
        pytest.param(f"{PROVIDER}/uploads/x.csv", id="no-date"),
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/x.txt", id="not-csv"),
        pytest.param(f"{PROVIDER}/uploads/2024/03/01/deeper/x.csv", id="too-deep"),
        pytest.param(f"{PROVIDER}/uploads/24/3/1/x.csv", id="short-date"),
        pytest.param(f"x/{PROVIDER}/uploads/2024/03/01/x.csv", id="nested-prefix"),
        pytest.param("ACME/uploads/2024/03/01/x.csv", id="not-a-provider-id"),
        pytest.param(f"{PROVIDER}/uploads/2024/13/45/x.csv", id="no-such-date"),
        pytest.param(
            f"{PROVIDER}/uploads/\u0662\u0660\u0662\u0664/03/01/x.csv", id="arabic-digits"
        ),
    ],
)
def test_objects_outside_the_uploads_layout_are_not_ingested(env: Harness, key: str) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]), key=key)

    answer = env.ingestor().handle_batch(
        lambda_event(sqs_record(s3_event_body(key))), FakeContext()
    )

    assert answer == {"batchItemFailures": []}
    assert env.items() == []
    assert env.keys() == [key]


def test_an_object_in_another_bucket_is_not_ingested(env: Harness) -> None:
    env.s3.create_bucket(Bucket="someone-elses-bucket")
    env.s3.put_object(
        Bucket="someone-elses-bucket", Key=KEY, Body=csv_bytes([["A1", "2024-03-01T10:00Z", "x"]])
    )
    event = lambda_event(sqs_record(s3_event_body(KEY, bucket="someone-elses-bucket")))

    assert env.ingestor().handle_batch(event, FakeContext()) == {"batchItemFailures": []}
    assert env.items() == []
    assert env.keys() == []


def test_a_batch_lists_only_the_messages_that_failed(env: Harness) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]))
    missing = f"{PROVIDER}/uploads/2024/03/01/01J9ZQ4D3M7T2V8X6Y5W1K0MISS.csv"  # never stored
    UploadLedger(env.dynamodb, UPLOADS).register(PROVIDER, "01J9ZQ4D3M7T2V8X6Y5W1K0MISS")
    event = lambda_event(
        sqs_record(S3_TEST_EVENT, "m-test"),
        sqs_record(s3_event_body(missing), "m-missing"),
        sqs_record(s3_event_body(KEY), "m-good"),
        sqs_record("this is not json", "m-garbage"),
    )

    answer = env.ingestor().handle_batch(event, FakeContext())

    assert answer == {
        "batchItemFailures": [{"itemIdentifier": "m-missing"}, {"itemIdentifier": "m-garbage"}]
    }
    assert list(env.values()) == ["A1#2024-03-01T10:00:00.000000Z"]
    assert env.report()["status"] == "succeeded"


# --------------------------------------------------------------------------- providers


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(None, "unknown_provider", id="unknown"),
        pytest.param("revoked", "provider_inactive", id="revoked"),
    ],
)
def test_an_unknown_or_revoked_provider_gets_a_failed_report_and_nothing_written(
    env: Harness, status: str | None, code: str
) -> None:
    provider = "clinic-b"
    if status:
        env.add_provider(provider, status=status)
    key = f"{provider}/uploads/2024/03/01/{UPLOAD_ID}.csv"
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]), key=key)

    answer = ingest_once(env, key)

    assert answer == {"batchItemFailures": []}  # reported to the provider, not retried
    assert env.items() == []
    report = env.report(f"{provider}/reports/{UPLOAD_ID}.json")
    assert report is not None
    assert_counts_add_up(report)
    assert (report["status"], report["provider"], report["written"]) == ("failed", provider, 0)
    assert [error["code"] for error in report["errors"]] == [code]
    assert env.keys(f"{provider}/") == [f"{provider}/reports/{UPLOAD_ID}.json", key]


@pytest.mark.parametrize("column", ["providerId", "ProviderID", "sortKey", "ingested_at"])
def test_a_file_naming_a_reserved_column_is_refused_whole(env: Harness, column: str) -> None:
    env.add_provider("victim-clinic")
    env.upload(
        csv_bytes(
            [["A1", "2024-03-01T10:00:00Z", "victim-clinic"]],
            header=("medical_record_number", "date_time", column),
        )
    )

    assert ingest_once(env) == {"batchItemFailures": []}

    assert env.items() == []  # not in our partition, nor in the one the file names
    report = env.report()
    assert_counts_add_up(report)
    assert report["status"] == "failed"
    assert [(error["code"], error["column"]) for error in report["errors"]] == [
        ("reserved_column", column)
    ]
    assert env.keys(CHECKPOINTS) == []


def test_the_partition_is_the_provider_of_the_key_whatever_the_file_holds(env: Harness) -> None:
    env.add_provider("other-clinic")
    body = csv_bytes(
        [["A1", "2024-03-01T10:00:00Z", "other-clinic"]],
        header=("medical_record_number", "date_time", "provider"),
    )
    env.upload(body)

    ingest_once(env)

    assert [(item["providerId"]["S"], item["provider"]["S"]) for item in env.items()] == [
        (PROVIDER, "other-clinic")
    ]


def test_the_provider_time_zone_reads_times_without_an_offset(env: Harness) -> None:
    env.add_provider("ny-clinic", time_zone="America/New_York")
    env.add_provider("utc-less-clinic")
    rows = [
        ["W1", "2024-01-15T09:00:00", "winter: EST"],
        ["S1", "2024-07-15 09:00", "summer: EDT"],
        ["Z1", "2024-07-15T09:00:00Z", "explicit offset wins"],
        ["G1", "2024-03-10T02:30:00", "skipped by the clocks"],
    ]
    for provider in ("ny-clinic", "utc-less-clinic"):
        key = f"{provider}/uploads/2024/03/01/{UPLOAD_ID}.csv"
        env.upload(csv_bytes(rows), key=key)
        ingest_once(env, key)

    by_provider: dict[str, dict[str, str]] = {}
    for item in env.items():
        by_provider.setdefault(item["providerId"]["S"], {})[item["medical_record_number"]["S"]] = (
            item["date_time"]["S"]
        )
    assert by_provider == {
        "ny-clinic": {
            "W1": "2024-01-15T14:00:00.000000Z",
            "S1": "2024-07-15T13:00:00.000000Z",
            "Z1": "2024-07-15T09:00:00.000000Z",
        },
        "utc-less-clinic": {"Z1": "2024-07-15T09:00:00.000000Z"},
    }
    ny = env.report(f"ny-clinic/reports/{UPLOAD_ID}.json")
    assert [(e["line"], e["code"]) for e in ny["errors"]] == [(5, "date_time_nonexistent")]
    utc_less = env.report(f"utc-less-clinic/reports/{UPLOAD_ID}.json")
    assert [(e["line"], e["code"]) for e in utc_less["errors"]] == [
        (2, "date_time_no_offset"),
        (3, "date_time_no_offset"),
        (5, "date_time_no_offset"),
    ]


# --------------------------------------------------------------------------- rows


def test_the_later_of_two_rows_with_one_key_wins_and_the_earlier_counts_as_a_duplicate(
    env: Harness,
) -> None:
    env.upload(
        csv_bytes(
            [
                ["P1", "2024-03-01T10:00:00Z", "first"],
                ["P2", "2024-03-01T10:00:00Z", "other patient"],
                ["P1", "2024-03-01T05:00:00-05:00", "second"],
                ["P1", "2024-03-01T10:00:00.000+00:00", "bad#", "extra field"],
                ["P1", "2024-03-01T11:00:00+01:00", "third"],
                ["P1", "2024-03-01T10:00:01Z", "a second later: another key"],
            ]
        )
    )

    ingest_once(env)

    values = env.values()
    assert sorted(values) == [
        "P1#2024-03-01T10:00:00.000000Z",
        "P1#2024-03-01T10:00:01.000000Z",
        "P2#2024-03-01T10:00:00.000000Z",
    ]
    kept = values["P1#2024-03-01T10:00:00.000000Z"]
    assert (kept["note"], kept["source_line"], kept["date_time_original"]) == (
        "third",
        "6",
        "2024-03-01T11:00:00+01:00",
    )
    report = env.report()
    assert_counts_add_up(report)
    assert (report["rows"], report["written"], report["rejected"], report["duplicates"]) == (
        6,
        3,
        1,
        2,
    )
    assert report["status"] == "partial"


@pytest.mark.parametrize("deliveries", [2, 3])
def test_processing_an_upload_again_changes_neither_table_nor_report(
    env: Harness, monkeypatch: pytest.MonkeyPatch, deliveries: int
) -> None:
    env.clock = ticking_clock()  # a rerun would show
    env.upload(
        csv_bytes(
            [
                ["A1", "2024-03-01T10:00:00Z", "x"],
                ["A1", "2024-03-01T11:00:00+01:00", "dup"],
                ["B#2", "2024-03-01T10:00:00Z", "bad"],
                ["C3", "2024-03-01T10:00:00Z", "ok"],
            ]
        )
    )
    event = lambda_event(sqs_record(s3_event_body(KEY), "m-same"))
    ingestor = env.ingestor()
    assert ingestor.handle_batch(event, FakeContext()) == {"batchItemFailures": []}
    first = env.snapshot()
    assert first.report is not None and first.rejects is not None

    for delivery in range(2, deliveries + 1):
        again = lambda_event(sqs_record(s3_event_body(KEY), "m-same", receives=delivery))
        assert env.ingestor().handle_batch(again, FakeContext()) == {"batchItemFailures": []}
        assert env.snapshot() == first  # every item, ingested_at included; report bytes

    assert env.keys() == sorted([KEY, REPORT_KEY, REJECTS_KEY])


@pytest.mark.parametrize(
    ("declared", "accepted"),
    [
        pytest.param("matching-upper-case", True, id="upper-case-hex"),
        pytest.param("0" * 64, False, id="other-digest"),
        pytest.param("body-of-another-file", False, id="another-file"),
    ],
)
def test_a_body_that_does_not_match_its_declared_sha256_is_never_ingested(
    env: Harness, declared: str, accepted: bool
) -> None:
    body = csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"], ["B#", "2024-03-01T10:00:00Z", "y"]])
    if declared == "matching-upper-case":
        declared = hashlib.sha256(body).hexdigest().upper()
    elif declared == "body-of-another-file":
        declared = hashlib.sha256(body.replace(b"A1", b"A2")).hexdigest()
    env.upload(body, sha256=declared)

    assert ingest_once(env) == {"batchItemFailures": []}

    report = env.report()
    assert_counts_add_up(report)
    if accepted:
        assert (report["status"], report["written"]) == ("partial", 1)
        return
    assert env.items() == []
    assert report["status"] == "failed"
    assert (report["rows"], report["written"], report["rejected"]) == (0, 0, 0)
    assert [error["code"] for error in report["errors"]] == ["checksum_mismatch"]
    assert env.keys() == sorted([KEY, REPORT_KEY])  # no rejects, no checkpoint


def test_an_object_no_upload_url_was_issued_for_is_reported_and_never_ingested(
    env: Harness,
) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"]]), register=False)

    assert ingest_once(env) == {"batchItemFailures": []}
    assert ingest_once(env) == {"batchItemFailures": []}  # again: the same single report

    assert env.items() == []
    report = env.report()
    assert_counts_add_up(report)
    assert report["status"] == "failed"
    assert [error["code"] for error in report["errors"]] == ["unknown_upload"]
    assert env.keys() == sorted([KEY, REPORT_KEY])


def test_the_uploads_table_ends_with_the_report_status_and_counts_and_no_lease(
    env: Harness,
) -> None:
    env.upload(csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"], ["B#", "2024-03-01", "y"]]))
    assert env.ledger()["status"] == "pending"

    ingest_once(env)

    upload = env.ledger()
    report = env.report()
    assert upload["status"] == report["status"] == "partial"
    assert upload["finished_at"] == report["finished_at"]
    assert [upload[name] for name in ("rows", "written", "rejected", "duplicates")] == [2, 1, 1, 0]
    assert "lease_owner" not in upload and "lease_until" not in upload


# --------------------------------------------------------------------------- report, rejects


def test_rejected_rows_are_reported_and_kept_as_sent(env: Harness) -> None:
    body = (
        b"medical_record_number,date_time,note\r\n"
        b"A1,2024-03-01T10:00:00Z,fine\r\n"
        b'B#1,2024-02-30T10:00:00Z,"two problems, one row"\r\n'
        b'C3,2024-03-01T10:00:00Z,"multi\r\nline note"\r\n'
        b"D4,2024-03-01T10:00:00Z,Andr\xe9 (latin-1)\r\n"
        b"E5,2024-03-01T10:00:00Z\r\n"
        b"F6,2024-03-01T10:00:00,no offset\r\n"
        b"G7,2024-03-01T10:00:00Z,fine again\r\n"
    )
    env.upload(body)

    ingest_once(env)

    assert sorted(env.values()) == [
        "A1#2024-03-01T10:00:00.000000Z",
        "C3#2024-03-01T10:00:00.000000Z",
        "G7#2024-03-01T10:00:00.000000Z",
    ]
    assert env.values()["G7#2024-03-01T10:00:00.000000Z"]["source_line"] == "9"
    report = env.report()
    assert_counts_add_up(report)
    assert (report["status"], report["rows"], report["written"], report["rejected"]) == (
        "partial",
        7,
        3,
        4,
    )
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "medical_record_number", "mrn_invalid_characters"),
        (3, "date_time", "date_time_impossible"),
        (6, "note", "invalid_utf8"),
        (7, None, "wrong_field_count"),
        (8, "date_time", "date_time_no_offset"),
    ]
    assert all(error["message"] for error in report["errors"])

    rows = env.rejects()
    assert rows[0] == [*REJECTS_HEADER, *HEADER]
    assert [row[:3] for row in rows[1:]] == [
        ["3", "1; 2", "mrn_invalid_characters; date_time_impossible"],
        ["6", "3", "invalid_utf8"],
        ["7", "", "wrong_field_count"],
        ["8", "2", "date_time_no_offset"],
    ]
    assert [row[4:] for row in rows[1:]] == [
        ["B#1", "2024-02-30T10:00:00Z", "two problems, one row"],
        ["D4", "2024-03-01T10:00:00Z", "Andr\udce9 (latin-1)"],
        ["E5", "2024-03-01T10:00:00Z"],
        ["F6", "2024-03-01T10:00:00", "no offset"],
    ]
    assert rows[2][6].encode("utf-8", "surrogateescape") == b"Andr\xe9 (latin-1)"
    assert b"Andr\xe9 (latin-1)" in env.object(REJECTS_KEY)  # the original byte, not U+FFFD


def test_a_latin1_file_has_its_non_ascii_rows_rejected_and_the_others_written(
    env: Harness,
) -> None:
    text = "medical_record_number,date_time,note\nA1,2024-03-01T10:00:00Z,plain\n"
    text += "B2,2024-03-01T10:00:00Z,Müller\nC3,2024-03-01T10:00:00Z,Zoë\nD4,2024-03-01T10:00Z,ok\n"
    body = text.encode("latin-1")
    env.upload(body)

    assert ingest_once(env) == {"batchItemFailures": []}

    assert sorted(item["medical_record_number"] for item in env.values().values()) == ["A1", "D4"]
    report = env.report()
    assert_counts_add_up(report)
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "note", "invalid_utf8"),
        (4, "note", "invalid_utf8"),
    ]
    kept = env.object(REJECTS_KEY)
    assert "Müller".encode("latin-1") in kept and "Zoë".encode("latin-1") in kept


def test_the_report_holds_the_first_thousand_errors_and_the_rejects_every_row(
    env: Harness,
) -> None:
    rows = [[f"BAD#{n}", "2024-03-01T10:00:00Z", "x"] for n in range(1005)]
    rows.append(["OK1", "2024-03-01T10:00:00Z", "x"])
    env.upload(csv_bytes(rows))

    ingest_once(env)

    report = env.report()
    assert_counts_add_up(report)
    assert (report["rows"], report["written"], report["rejected"]) == (1006, 1, 1005)
    assert len(report["errors"]) == 1000
    assert [error["line"] for error in report["errors"]] == list(range(2, 1002))
    rejects = env.rejects()
    assert len(rejects) == 1 + 1005
    assert rejects[-1][0] == "1006"


@pytest.mark.parametrize(
    ("body", "status", "codes"),
    [
        pytest.param(b"", "failed", ["empty_file"], id="empty"),
        pytest.param(b"\n\n", "failed", ["empty_file"], id="blank-lines"),
        pytest.param(b"medical_record_number,date_time,note\n", "succeeded", [], id="header-only"),
        pytest.param(b"\xef\xbb\xbfmedical_record_number,date_time\r\n", "succeeded", [], id="bom"),
        pytest.param(b"medical_record_number,note\n", "failed", ["missing_column"], id="no-date"),
    ],
)
def test_a_file_without_rows_gets_a_report_and_writes_nothing(
    env: Harness, body: bytes, status: str, codes: list[str]
) -> None:
    env.upload(body)

    assert ingest_once(env) == {"batchItemFailures": []}

    assert env.items() == []
    report = env.report()
    assert_counts_add_up(report)
    assert (report["status"], report["rows"], report["written"]) == (status, 0, 0)
    assert [error["code"] for error in report["errors"]] == codes
    assert env.keys() == sorted([KEY, REPORT_KEY])
