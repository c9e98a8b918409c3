"""A load test of the whole path on the local stack: many providers uploading at once.

N providers each send F files of R rows at the same time (one thread per file), as a provider
does: `upload()` asks the API for a URL, PUTs the file to it, and waits for the report; S3's
notifications go through the queue to the queue worker, which runs the ingest handler with
`INGEST_LOAD_CONCURRENCY` invocations side by side. Everything is on loopback, bounded in
count (N x F uploads) and in time (every wait has a deadline).

Sizes come from the environment: INGEST_LOAD_PROVIDERS (20), INGEST_LOAD_FILES (5) and
INGEST_LOAD_ROWS (50, small enough for the test suite; the issue's full size is 10000).
The figures (rows a second, the slowest upload from its start to its report) are printed
(`pytest -s`) and recorded as the test's properties (`--junitxml` with `-o junit_family=xunit1`;
the default xunit2 drops them).

Every provider's files hold the same keys (MRN and date_time), with a note naming the
provider: a row written into another provider's partition would be found.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingestcli.core.contract import check_mrn, sort_key
from ingestcli.core.date_time import normalise_date_time
from ingestcli.local.stack import WorkerOptions, start_local_stack
from ingestcli.services.api_client import ApiClient
from ingestcli.services.upload import upload, wait_for_report
from support.ingest_events import csv_bytes
from support.local_stack import Stack


def _size(name: str, default: int) -> int:
    value = int(os.environ.get(name, default))
    if value < 1:
        raise ValueError(f"{name} must be at least 1")
    return value


PROVIDERS = _size("INGEST_LOAD_PROVIDERS", 20)
FILES = _size("INGEST_LOAD_FILES", 5)
ROWS = _size("INGEST_LOAD_ROWS", 50)
CONCURRENCY = _size("INGEST_LOAD_CONCURRENCY", 4)
TOTAL_ROWS = PROVIDERS * FILES * ROWS
# Seconds any one upload may take from its start to its report: generous for this machine
# (moto writes some 1,000 items a second), and bounded.
BUDGET = 90 + TOTAL_ROWS / 200
# The local API serves one request at a time and shares moto with the worker: with 100
# providers polling while 10,000-row files are written, a status call can wait in line for
# minutes. Larger files poll less often (a provider would too) and wait longer for an answer.
# The figures use the report's finished_at, which polling does not delay.
MAX_POLL = max(5.0, ROWS / 250)
API_TIMEOUT = max(30.0, ROWS / 50)


def provider_id(number: int) -> str:
    return f"load-{number:03d}"


def _keyed_rows(provider: str, file: int) -> Iterator[tuple[int, str, str]]:
    """(row, date_time, note) of each row of a provider's file `file`."""
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=file)
    for row in range(ROWS):
        when = (start + timedelta(seconds=row)).strftime("%Y-%m-%dT%H:%M:%SZ")
        yield row, when, f"{provider}:{file}:{row}"


def file_body(provider: str, file: int) -> bytes:
    """File `file` of a provider: the same keys for every provider, its own notes."""
    return csv_bytes(
        [f"F{file}-{row:06d}", when, note] for row, when, note in _keyed_rows(provider, file)
    )


@dataclass(frozen=True)
class Sent:
    provider: str
    upload_id: str
    started: float  # epoch seconds, before the upload began
    finished: float  # epoch seconds of the report's finished_at
    seen: float  # epoch seconds when the provider had the report
    report: dict[str, Any]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    local = start_local_stack(0, 0, worker=WorkerOptions(concurrency=CONCURRENCY))
    try:
        yield Stack(local)
    finally:
        local.stop()


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _rows_of(provider: str) -> dict[str, str]:
    """The sort key of every row of a provider's files, and the note that row carries."""
    return {
        sort_key(check_mrn(f"F{file}-{row:06d}"), normalise_date_time(when)): note
        for file in range(FILES)
        for row, when, note in _keyed_rows(provider, file)
    }


def _held(stack: Stack, provider: str, keys: list[str]) -> dict[str, tuple[str, str]]:
    """(note, upload_id) of the provider's items at `keys`, by sort key: BatchGetItem, 100
    keys a call.

    Not a Query: moto's Query walks the whole table for every 1 MB page it returns, so
    twenty partition Queries of a million-item table would take hours; a key lookup is a
    dict lookup in moto, and the check stays linear in the rows.
    """
    table = stack.outputs["RecordsTable"]
    found: dict[str, tuple[str, str]] = {}
    for at in range(0, len(keys), 100):
        request: dict[str, Any] = {
            table: {
                "Keys": [
                    {"providerId": {"S": provider}, "sortKey": {"S": key}}
                    for key in keys[at : at + 100]
                ],
                "ProjectionExpression": "providerId, sortKey, note, upload_id",
                "ConsistentRead": True,
            }
        }
        for _attempt in range(20):  # UnprocessedKeys: bounded retries
            answer = stack.dynamodb.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table, []):
                assert item["providerId"]["S"] == provider
                found[item["sortKey"]["S"]] = (item["note"]["S"], item["upload_id"]["S"])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        assert not request, "BatchGetItem kept keys unprocessed"
    return found


@pytest.mark.load
def test_many_providers_uploading_at_once_each_get_exactly_their_own_rows(
    stack: Stack, tmp_path: Path, record_property: Any
) -> None:
    providers = [provider_id(n) for n in range(PROVIDERS)]
    tokens = {provider: stack.registry.add(provider)[1] for provider in providers}

    def send(provider: str, file: int) -> Sent:
        path = tmp_path / f"{provider}-{file}.csv"
        path.write_bytes(file_body(provider, file))
        client = ApiClient(stack.local.api_url, tokens[provider], timeout=API_TIMEOUT)
        started = time.time()
        upload_id = upload(client, str(path))["upload_id"]
        report = wait_for_report(client, upload_id, timeout=BUDGET, poll=1.0, max_poll=MAX_POLL)
        return Sent(
            provider, upload_id, started, _epoch(report["finished_at"]), time.time(), report
        )

    with ThreadPoolExecutor(max_workers=PROVIDERS * FILES) as pool:
        futures = [pool.submit(send, p, f) for p in providers for f in range(FILES)]
        sent = [future.result(timeout=BUDGET + 60) for future in futures]

    # The figures.
    first = min(s.started for s in sent)
    last = max(s.finished for s in sent)
    latencies = sorted(s.finished - s.started for s in sent)
    figures = {
        "providers": PROVIDERS,
        "files_each": FILES,
        "rows_each": ROWS,
        "concurrency": CONCURRENCY,
        "rows": TOTAL_ROWS,
        "seconds": round(last - first, 2),
        "rows_per_second": round(TOTAL_ROWS / (last - first)),
        "slowest_upload_to_report_s": round(latencies[-1], 2),
        "median_upload_to_report_s": round(statistics.median(latencies), 2),
        "slowest_upload_to_report_seen_s": round(max(s.seen - s.started for s in sent), 2),
    }
    for name, value in figures.items():
        record_property(name, value)
    print("\nload:", ", ".join(f"{name}={value}" for name, value in figures.items()))

    # Every report succeeded and its counts reconcile.
    for s in sent:
        report = s.report
        assert (report["status"], report["provider"], report["upload_id"]) == (
            "succeeded",
            s.provider,
            s.upload_id,
        )
        assert (report["rows"], report["written"], report["rejected"], report["duplicates"]) == (
            ROWS,
            ROWS,
            0,
            0,
        )
        assert report["errors"] == []

    # Each partition holds exactly its provider's rows: each row of its files once, with its
    # own note, from one of its own uploads; all providers send the same keys, so a row
    # written into another partition would leave its own key missing or carrying another
    # provider's note. And the table holds nothing else: moto's ItemCount is exact and
    # current (DynamoDB's is refreshed about every six hours; this runs on moto only), and
    # a Scan would page through the whole table once per 1 MB, as the Query does.
    checking = time.monotonic()

    def check(provider: str) -> None:
        own = {s.upload_id for s in sent if s.provider == provider}
        expected = _rows_of(provider)
        assert len(expected) == FILES * ROWS
        held = _held(stack, provider, sorted(expected))
        assert {key: note for key, (note, _upload) in held.items()} == expected
        assert {upload for _note, upload in held.values()} <= own

    with ThreadPoolExecutor(max_workers=4) as pool:  # the client parses while moto looks up
        for done in [pool.submit(check, provider) for provider in providers]:
            done.result(timeout=BUDGET)
    table = stack.dynamodb.describe_table(TableName=stack.outputs["RecordsTable"])["Table"]
    assert table["ItemCount"] == TOTAL_ROWS
    print(f"load: the table checked in {time.monotonic() - checking:.1f} s")

    # Nothing left in the queue, nothing in the dead-letter queue, every upload finished.
    for s in sent:
        entry = stack.settled(s.provider, s.upload_id)
        assert (entry["status"], int(entry["written"])) == ("succeeded", ROWS)
    assert stack.depth("DeadLetterQueueUrl") == 0
