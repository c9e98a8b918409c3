"""A load test of the whole path on the local stack: many providers uploading at once.

N providers each send F files of R rows at the same time (one thread per file), as a provider
does: `upload()` asks the API for a URL, PUTs the file to it, and waits for the report; S3's
notifications go through the queue to the queue worker, which runs the ingest handler with
`INGEST_LOAD_CONCURRENCY` invocations side by side. Everything is on loopback, bounded in
count (N x F uploads) and in time (every wait has a deadline).

Sizes come from the environment: INGEST_LOAD_PROVIDERS (20), INGEST_LOAD_FILES (5) and
INGEST_LOAD_ROWS (50, small enough for the test suite; the issue's full size is 10000).
The figures (rows a second, the slowest upload from its start to its report) are printed
(`pytest -s`) and recorded as the test's properties (`--junitxml`).

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


def provider_id(number: int) -> str:
    return f"load-{number:03d}"


def file_body(provider: str, file: int) -> bytes:
    """File `file` of a provider: the same keys for every provider, its own notes."""
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=file)
    return csv_bytes(
        [
            f"F{file}-{row:06d}",
            (start + timedelta(seconds=row)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            f"{provider}:{file}:{row}",
        ]
        for row in range(ROWS)
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


def _partition(stack: Stack, provider: str) -> list[tuple[str, str]]:
    """(note, upload_id) of every item of the provider's partition: one Query, paged."""
    found: list[tuple[str, str]] = []
    request: dict[str, Any] = {
        "TableName": stack.outputs["RecordsTable"],
        "KeyConditionExpression": "providerId = :p",
        "ExpressionAttributeValues": {":p": {"S": provider}},
        "ProjectionExpression": "note, upload_id",
        "ConsistentRead": True,
    }
    while True:
        answer = stack.dynamodb.query(**request)
        found += [(item["note"]["S"], item["upload_id"]["S"]) for item in answer["Items"]]
        if "LastEvaluatedKey" not in answer:
            return found
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


@pytest.mark.load
def test_many_providers_uploading_at_once_each_get_exactly_their_own_rows(
    stack: Stack, tmp_path: Path, record_property: Any
) -> None:
    providers = [provider_id(n) for n in range(PROVIDERS)]
    tokens = {provider: stack.registry.add(provider)[1] for provider in providers}

    def send(provider: str, file: int) -> Sent:
        path = tmp_path / f"{provider}-{file}.csv"
        path.write_bytes(file_body(provider, file))
        client = ApiClient(stack.local.api_url, tokens[provider])
        started = time.time()
        upload_id = upload(client, str(path))["upload_id"]
        report = wait_for_report(client, upload_id, timeout=BUDGET, poll=1.0, max_poll=5.0)
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

    # Each partition holds exactly its provider's rows: each row of its files once, from one
    # of its own uploads, and nothing else.
    checking = time.monotonic()
    for provider in providers:
        own = {s.upload_id for s in sent if s.provider == provider}
        held = _partition(stack, provider)
        expected = {f"{provider}:{file}:{row}" for file in range(FILES) for row in range(ROWS)}
        assert len(held) == len(expected)
        assert {note for note, _upload in held} == expected
        assert {upload for _note, upload in held} <= own
    # And nothing anywhere else (a test may Scan to count).
    scanned, request = 0, {"TableName": stack.outputs["RecordsTable"], "Select": "COUNT"}
    while True:
        answer = stack.dynamodb.scan(**request)
        scanned += answer["Count"]
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    assert scanned == TOTAL_ROWS
    print(f"load: the table checked in {time.monotonic() - checking:.1f} s")

    # Nothing left in the queue, nothing in the dead-letter queue, every upload finished.
    for s in sent:
        entry = stack.settled(s.provider, s.upload_id)
        assert (entry["status"], int(entry["written"])) == ("succeeded", ROWS)
    assert stack.depth("DeadLetterQueueUrl") == 0
