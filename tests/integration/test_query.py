"""Support staff's reads on moto: records by MRN and time range, reports, the uploads list.

The tables are created with the key schema the shipped template declares, and items are
built by contract.to_item, as the ingest Lambda builds them. Every test here fails if a
DynamoDB Scan is ever called: records are found with a Query on the provider's partition.
(What needs no AWS, the --since/--until bounds and spreadsheet-safe cells, is in
tests/unit/test_query_values.py.)
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from ingestcli.cli.exits import EXIT_PROBLEMS, EXIT_USAGE, exit_code_for
from ingestcli.cli.render.query import (
    render_records_table,
    write_records_csv,
    write_records_json,
)
from ingestcli.cli.render.upload import render_uploads
from ingestcli.core.contract import DATE_TIME_COLUMN, MRN_COLUMN
from ingestcli.core.date_time import normalise_date_time
from ingestcli.core.layout import parse_upload_key, report_key
from ingestcli.core.ledger import UploadLedger
from ingestcli.errors import AwsError, NotFound, UsageError
from ingestcli.services.support import records, report, uploads
from support.console import set_console_width
from support.names import BUCKET, PROVIDER, RECORDS, UPLOADS
from support.records import INGESTED_AT, item
from support.template import make_table

OTHER_PROVIDER = "globex"


class Calls:
    """The DynamoDB and S3 operations a client makes, with their parameters and counts;
    a Scan fails the test before it is sent."""

    def __init__(self, *clients: Any) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.counts: list[int] = []
        for client in clients:
            events = client.meta.events
            events.register("before-parameter-build", self._before)
            events.register("after-call.dynamodb.Query", self._after_query)

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Scan":
            raise AssertionError("a DynamoDB Scan was called: records must be read by Query")
        self.requests.append((model.name, dict(params)))

    def _after_query(self, parsed: dict[str, Any], **_: Any) -> None:
        self.counts.append(parsed.get("Count", 0))

    def names(self) -> list[str]:
        return [name for name, _ in self.requests]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as a wide terminal shows them, so that no cell is folded."""
    set_console_width(monkeypatch, 250)


@pytest.fixture
def calls(clients: Any) -> Calls:
    for name, logical_id in ((RECORDS, "RecordsTable"), (UPLOADS, "UploadsTable")):
        make_table(clients.dynamodb, name, logical_id)
    clients.s3.create_bucket(Bucket=BUCKET)
    return Calls(clients.dynamodb, clients.s3)


def put(dynamodb: Any, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": one}} for one in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={RECORDS: batch})


def read(dynamodb: Any, mrn: str, **options: Any) -> list[dict[str, Any]]:
    return list(records(dynamodb, RECORDS, PROVIDER, mrn, **options))


def times(found: list[dict[str, Any]]) -> list[str]:
    return [record["date_time"] for record in found]


# ---------------------------------------------------------------------------- records


def test_a_range_straddling_midnight_in_a_western_offset(calls: Calls, clients: Any) -> None:
    put(
        clients.dynamodb,
        [
            item("MRN1", "2024-03-01T12:00:00Z"),
            item("MRN1", "2024-03-01T23:00:00-05:00"),  # 2024-03-02T04:00Z
            item("MRN1", "2024-03-01T23:30:00-05:00"),  # 04:30Z: the --since itself
            item("MRN1", "2024-03-02T00:15:00-05:00"),  # 05:15Z
            item("MRN1", "2024-03-02T05:30:00.000001Z"),  # just past --until
        ],
    )
    calls.requests.clear()
    found = read(
        clients.dynamodb,
        "MRN1",
        since="2024-03-01T23:30:00-05:00",
        until="2024-03-02T00:30:00-05:00",
    )
    assert times(found) == ["2024-03-02T04:30:00.000000Z", "2024-03-02T05:15:00.000000Z"]
    assert found[1]["date_time_original"] == "2024-03-02T00:15:00-05:00"
    # A plain date is that whole day in UTC, so the evening of 1 March in New York is 2 March.
    assert times(read(clients.dynamodb, "MRN1", until="2024-03-01")) == [
        "2024-03-01T12:00:00.000000Z"
    ]
    assert len(read(clients.dynamodb, "MRN1", since="2024-03-02")) == 4
    assert calls.names() == ["Query"] * 3


def test_an_mrn_that_is_a_prefix_of_another_never_sees_its_records(
    calls: Calls, clients: Any
) -> None:
    put(
        clients.dynamodb,
        [
            item(mrn, f"2024-03-0{day}T10:00:00Z")
            for day in range(1, 6)
            for mrn in ("MRN1", "MRN12", "MRN1-A", "MRN1.B", "MRN1_C", "MRN")
        ],
    )
    ranges: list[dict[str, str]] = [
        {},
        {"since": "2024-03-02"},
        {"until": "2024-03-04"},
        {"since": "2024-03-02", "until": "2024-03-04"},
        {"since": "0001-01-01", "until": "9999-12-31"},
    ]
    for bounds in ranges:
        for mrn in ("MRN1", "MRN12", "MRN"):
            found = read(clients.dynamodb, mrn, **bounds)
            assert found, bounds
            assert {record[MRN_COLUMN] for record in found} == {mrn}, bounds
    assert len(read(clients.dynamodb, "MRN1")) == 5


def test_records_of_one_provider_are_never_another_providers(calls: Calls, clients: Any) -> None:
    put(clients.dynamodb, [item("MRN1", "2024-03-01T10:00:00Z", provider=OTHER_PROVIDER)])
    assert read(clients.dynamodb, "MRN1") == []
    found = list(records(clients.dynamodb, RECORDS, OTHER_PROVIDER, "MRN1"))
    assert len(found) == 1
    assert "providerId" not in found[0]
    assert "sortKey" not in found[0]


def big_rows(dynamodb: Any, count: int) -> list[str]:
    """`count` records of about 20 KB each for MRN1: more than 1 MB in all."""
    filler = "x" * 20_000
    stamps = [f"2024-03-01T{n // 60:02d}:{n % 60:02d}:00Z" for n in range(count)]
    put(
        dynamodb,
        [item("MRN1", stamp, {"note": filler}, line=n + 2) for n, stamp in enumerate(stamps)],
    )
    return [normalise_date_time(stamp) for stamp in stamps]


def test_pages_are_followed_past_one_megabyte(calls: Calls, clients: Any) -> None:
    expected = big_rows(clients.dynamodb, 64)
    found = read(clients.dynamodb, "MRN1")
    assert times(found) == expected
    assert [record["source_line"] for record in found] == list(range(2, 66))
    queries = [params for name, params in calls.requests if name == "Query"]
    assert len(queries) >= 2
    assert "ExclusiveStartKey" in queries[-1]
    assert all("Limit" not in params for params in queries)


def test_a_limit_reads_no_more_than_it_needs(calls: Calls, clients: Any) -> None:
    expected = big_rows(clients.dynamodb, 64)
    calls.requests.clear()
    assert times(read(clients.dynamodb, "MRN1", limit=5)) == expected[:5]
    assert calls.counts == [5]
    calls.counts.clear()
    assert times(read(clients.dynamodb, "MRN1", limit=60)) == expected[:60]
    assert len(calls.counts) == 2  # the first page stopped at 1 MB
    assert sum(calls.counts) == 60
    limits = [params["Limit"] for name, params in calls.requests if name == "Query"]
    assert limits == [5, 60, 60 - calls.counts[0]]


def test_newest_first(calls: Calls, clients: Any) -> None:
    expected = big_rows(clients.dynamodb, 64)
    assert times(read(clients.dynamodb, "MRN1", newest_first=True)) == expected[::-1]
    assert times(read(clients.dynamodb, "MRN1", newest_first=True, limit=3)) == expected[:-4:-1]
    newest = read(clients.dynamodb, "MRN1", newest_first=True, since=expected[-3])
    assert times(newest) == expected[:-4:-1]


def test_a_provider_with_no_records(calls: Calls, clients: Any, capsys: Any) -> None:
    assert list(records(clients.dynamodb, RECORDS, "empty-clinic", "MRN1")) == []
    render_records_table([])
    assert capsys.readouterr().out == "no records for this MRN\n"


@pytest.mark.parametrize(
    ("arguments", "options", "reason"),
    [
        ((PROVIDER, "SECRET#123"), {}, "--mrn: "),
        ((PROVIDER, "SECRET 123"), {}, "--mrn: "),
        ((PROVIDER, "S" * 65), {}, "--mrn: "),
        ((PROVIDER, ""), {}, "--mrn: "),
        (("Acme Corp", "SECRET1"), {}, "--provider: "),
        ((PROVIDER, "SECRET1"), {"since": "2024-03-01T10:00:00"}, "--since: "),
        ((PROVIDER, "SECRET1"), {"until": "soon"}, "--until: "),
        ((PROVIDER, "SECRET1"), {"since": "2024-03-02", "until": "2024-03-01"}, "later"),
        ((PROVIDER, "SECRET1"), {"limit": 0}, "--limit"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(
    calls: Calls, clients: Any, arguments: tuple[str, str], options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(UsageError) as caught:
        records(clients.dynamodb, RECORDS, *arguments, **options)
    assert calls.requests == []
    assert reason in str(caught.value)
    assert "SECRET" not in str(caught.value)
    assert exit_code_for(caught.value) == EXIT_USAGE


def test_a_scan_fails_these_tests(calls: Calls, clients: Any) -> None:
    with pytest.raises(AssertionError, match="Scan"):
        clients.dynamodb.scan(TableName=RECORDS)


def test_an_aws_refusal_is_an_aws_error_while_reading(calls: Calls, clients: Any) -> None:
    found = records(clients.dynamodb, "no-such-table", PROVIDER, "MRN1")
    with pytest.raises(AwsError, match="ResourceNotFoundException"):
        next(found)


# ---------------------------------------------------------------------------- formats


@pytest.fixture
def two_uploads(calls: Calls, clients: Any) -> list[dict[str, Any]]:
    """MRN1's records from two uploads whose files had different columns."""
    put(
        clients.dynamodb,
        [
            item("MRN1", "2024-03-01T09:00:00+01:00", {"note": 'a, "quoted"\nnote', "ward": "3"}),
            item(
                "MRN1",
                "2024-03-02T10:00:00Z",
                {"ward": "4", "allergy": '=HYPERLINK("http://x")'},
                upload_id="upload-b",
                line=7,
            ),
        ],
    )
    return read(clients.dynamodb, "MRN1")


def test_json_is_one_array_of_flat_objects(two_uploads: list[dict[str, Any]], capsys: Any) -> None:
    assert write_records_json(iter(two_uploads)) == 2
    document = json.loads(capsys.readouterr().out)
    assert document == two_uploads
    assert document[0] == {
        MRN_COLUMN: "MRN1",
        DATE_TIME_COLUMN: "2024-03-01T08:00:00.000000Z",
        "date_time_original": "2024-03-01T09:00:00+01:00",
        "note": 'a, "quoted"\nnote',
        "ward": "3",
        "upload_id": "upload-a",
        "source_line": 2,
        "ingested_at": INGESTED_AT,
    }
    stream = io.StringIO()
    assert write_records_json([], stream) == 0
    assert json.loads(stream.getvalue()) == []


def test_csv_has_every_column_in_first_seen_order(two_uploads: list[dict[str, Any]]) -> None:
    stream = io.StringIO()
    assert write_records_csv(two_uploads, stream) == 2
    rows = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))
    assert rows[0] == [
        MRN_COLUMN,
        DATE_TIME_COLUMN,
        "date_time_original",
        "note",
        "ward",
        "allergy",
        "upload_id",
        "source_line",
        "ingested_at",
    ]
    first, second = (dict(zip(rows[0], row, strict=True)) for row in rows[1:])
    assert first["note"] == 'a, "quoted"\nnote'
    assert first["allergy"] == ""
    assert second["note"] == ""
    assert second["source_line"] == "7"
    assert second["allergy"] == '\'=HYPERLINK("http://x")'  # shown as text, never run
    empty = io.StringIO()
    write_records_csv([], empty)
    assert len(list(csv.reader(io.StringIO(empty.getvalue())))) == 1


def test_the_table_shows_both_times_and_counts(
    two_uploads: list[dict[str, Any]], capsys: Any
) -> None:
    rows = [*two_uploads, {**two_uploads[0], "ward": "\x1b[2J[bold]x"}]
    assert render_records_table(rows, limit=3) == 3
    out = capsys.readouterr().out
    assert "2024-03-01T08:00:00" in out  # as stored, or as render/query.py shortens it
    assert "2024-03-01T09:00:00+01:00" in out
    assert "upload-b" in out
    assert "\x1b" not in out
    assert "\\x1b[2J[bold]x" in out
    assert out.splitlines()[-1] == "3 records (--limit reached: there may be more)"
    render_records_table(two_uploads[:1])
    assert capsys.readouterr().out.splitlines()[-1] == "1 record"


# ------------------------------------------------------------------ reports and uploads


def a_report(upload_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "upload_id": upload_id,
        "provider": PROVIDER,
        "key": f"{PROVIDER}/uploads/2024/03/01/{upload_id}.csv",
        "status": "partial",
        "rows": 3,
        "written": 1,
        "rejected": 1,
        "duplicates": 1,
        "errors": [{"line": 3, "column": "date_time", "code": "date_time_format", "message": "m"}],
        "started_at": "2024-03-01T10:00:00.000000Z",
        "finished_at": "2024-03-01T10:00:01.000000Z",
    } | changes


def test_a_report_is_read_where_the_ingest_lambda_writes_it(calls: Calls, clients: Any) -> None:
    upload_id = "01HQZ8T1XK3V7N2M5P9R4S6W0Y"
    ref = parse_upload_key(BUCKET, f"{PROVIDER}/uploads/2024/03/01/{upload_id}.csv")
    assert ref is not None
    assert report_key(PROVIDER, upload_id) == ref.report_key
    clients.s3.put_object(Bucket=BUCKET, Key=ref.report_key, Body=json.dumps(a_report(upload_id)))
    found = report(clients.s3, BUCKET, PROVIDER, upload_id)
    assert found == a_report(upload_id)
    assert calls.names()[-2:] == ["ListObjectsV2", "GetObject"]


def test_a_missing_report_is_not_found(calls: Calls, clients: Any) -> None:
    with pytest.raises(NotFound) as caught:
        report(clients.s3, BUCKET, PROVIDER, "01HQZ8T1XK3V7N2M5P9R4S6W0Y")
    assert exit_code_for(caught.value) == EXIT_PROBLEMS
    assert "01HQZ8T1XK3V7N2M5P9R4S6W0Y" in str(caught.value)
    # Another provider's report is just as missing: the provider is part of the key.
    clients.s3.put_object(Bucket=BUCKET, Key=f"{OTHER_PROVIDER}/reports/u1.json", Body=b"{}")
    with pytest.raises(NotFound):
        report(clients.s3, BUCKET, PROVIDER, "u1")
    # A key that only starts like the report's is not the report.
    clients.s3.put_object(Bucket=BUCKET, Key=f"{PROVIDER}/reports/u1.json.old", Body=b"{}")
    with pytest.raises(NotFound):
        report(clients.s3, BUCKET, PROVIDER, "u1")
    assert "GetObject" not in calls.names()


@pytest.mark.parametrize(("provider", "upload_id"), [(PROVIDER, "../x"), ("a/b", "u1")])
def test_report_ids_of_the_wrong_shape_are_refused_before_any_call(
    calls: Calls, clients: Any, provider: str, upload_id: str
) -> None:
    with pytest.raises(UsageError):
        report(clients.s3, BUCKET, provider, upload_id)
    assert calls.requests == []


def test_uploads_newest_first_as_the_api_lists_them(
    calls: Calls, clients: Any, capsys: Any
) -> None:
    ledger = UploadLedger(clients.dynamodb, UPLOADS)
    ids = [f"01HQZ8T1XK3V7N2M5P9R4S6W0{n}" for n in range(3)]
    for second, upload_id in enumerate(ids):
        created = f"2024-03-01T10:00:0{second}.000000Z"
        ledger.register(PROVIDER, upload_id, filename="visits.csv", created_at=created)
    ledger.register(OTHER_PROVIDER, "01HQZ8T1XK3V7N2M5P9R4S6W09", filename="other.csv")
    assert ledger.acquire(PROVIDER, ids[2], "run-1", 0, 10**15)
    ledger.finish(PROVIDER, ids[1], None, a_report(ids[1]))
    found = uploads(clients.dynamodb, UPLOADS, PROVIDER, 2)
    assert [upload["upload_id"] for upload in found] == [ids[2], ids[1]]
    assert found[0]["status"] == "processing"
    assert found[0]["counts"] is None
    assert "lease_owner" not in found[0]
    assert found[1]["counts"] == {"rows": 3, "written": 1, "rejected": 1, "duplicates": 1}
    render_uploads(found)  # what `ingest uploads --provider` shows
    out = capsys.readouterr().out
    assert out.index(ids[2]) < out.index(ids[1])
    assert out.splitlines()[-1] == "2 uploads"
    assert uploads(clients.dynamodb, UPLOADS, "empty-clinic", 5) == []
    with pytest.raises(UsageError):
        uploads(clients.dynamodb, UPLOADS, PROVIDER, 0)
