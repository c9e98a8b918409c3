"""What `ingest query` reads, and how fast the CLI starts, against baselines in the same run.

    python benchmarks/query_bench.py                          # 100 MRNs x 1,000 records
    python benchmarks/query_bench.py --mrns 20 --per-mrn 500 --subcommands validate query
    python benchmarks/query_bench.py --startup-only --subcommands validate query

A moto server runs in a process of its own on 127.0.0.1 (`ingestcli.local.moto_server`). One
provider's partition is loaded with MRNs x records-per-MRN items, plus a second provider's
copy of the same MRNs. Then, for one MRN, in alternating rounds:

- `query.records`, the DynamoDB Query `ingest query` sends, timed from the first request to
  the last item; its Count and ScannedCount come from the same Query sent raw;
- the baseline: a Scan with the same condition as a FilterExpression (provider and
  begins_with), followed to its last page: what a lookup without the key design reads.

CLI start-up: `ingest --help` and `ingest <subcommand> --help` for each subcommand given,
against `python -c pass` on the same interpreter, alternating, several rounds; medians and
ratios. Only ratios mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ingestcli.core.contract import parse_header, to_item
from ingestcli.core.date_time import normalise_date_time
from ingestcli.local.moto_server import free_port, spawn
from ingestcli.services.support import records

TABLE = "bench-records"
PROVIDER, OTHER_PROVIDER = "bench-clinic", "other-clinic"
COLUMNS = ("medical_record_number", "date_time", "encounter", "ward", "icd10", "note")
LOADERS = 4


def _client(endpoint: str) -> Any:
    import boto3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    return boto3.session.Session(region_name="us-east-1").client("dynamodb", endpoint_url=endpoint)


def _create_table(dynamodb: Any) -> None:
    keys = (("providerId", "HASH"), ("sortKey", "RANGE"))
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


def mrn_name(number: int) -> str:
    return f"MRN{number:06d}"


def _items(provider: str, mrn_number: int, per_mrn: int) -> list[dict[str, Any]]:
    """One patient's records, a visit every six hours from 2020, as the ingest Lambda writes."""
    header = parse_header(list(COLUMNS))
    mrn, found = mrn_name(mrn_number), []
    first = datetime(2020, 1, 1, 8, mrn_number % 60, tzinfo=timezone(timedelta(hours=-5)))
    for n in range(per_mrn):
        date_time = (first + timedelta(hours=6 * n)).isoformat()
        fields = [mrn, date_time, "outpatient", "cardiology", "I10", "routine check, stable"]
        item = to_item(
            header, fields, mrn, normalise_date_time(date_time), provider_id=provider,
            upload_id="bench-upload", source_line=n + 2, ingested_at="2026-11-25T00:00:00.000000Z",
        )  # fmt: skip
        found.append(item)
    return found


def _load(endpoint: str, provider: str, mrns: range, per_mrn: int) -> int:
    dynamodb, written = _client(endpoint), 0
    for number in mrns:
        items = _items(provider, number, per_mrn)
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            while requests:
                answer = dynamodb.batch_write_item(RequestItems={TABLE: requests})
                requests = answer.get("UnprocessedItems", {}).get(TABLE, [])
        written += len(items)
    return written


def load(endpoint: str, mrns: int, per_mrn: int, other_mrns: int) -> tuple[int, float]:
    """Both providers' partitions, written by parallel loaders; (items, seconds)."""
    jobs = [(PROVIDER, range(start, mrns, LOADERS)) for start in range(LOADERS)]
    jobs += [(OTHER_PROVIDER, range(start, other_mrns, LOADERS)) for start in range(LOADERS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(LOADERS) as pool:
        total = sum(pool.map(lambda job: _load(endpoint, *job, per_mrn), jobs))
    return total, time.perf_counter() - started


def _follow(call: Any, request: dict[str, Any]) -> tuple[int, int, int]:
    """(Count, ScannedCount, pages) of a Query or Scan followed to its last page."""
    count = scanned = pages = 0
    while True:
        answer = call(**request)
        count, scanned, pages = count + answer["Count"], scanned + answer["ScannedCount"], pages + 1
        if "LastEvaluatedKey" not in answer:
            return count, scanned, pages
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def query_round(dynamodb: Any, mrn: str) -> tuple[float, int]:
    started = time.perf_counter()
    found = sum(1 for _ in records(dynamodb, TABLE, PROVIDER, mrn))
    return time.perf_counter() - started, found


def raw_query(dynamodb: Any, mrn: str) -> tuple[int, int, int]:
    return _follow(
        dynamodb.query,
        {
            "TableName": TABLE,
            "KeyConditionExpression": "providerId = :p AND begins_with(sortKey, :prefix)",
            "ExpressionAttributeValues": {":p": {"S": PROVIDER}, ":prefix": {"S": f"{mrn}#"}},
        },
    )


def scan_round(dynamodb: Any, mrn: str) -> tuple[float, tuple[int, int, int]]:
    started = time.perf_counter()
    counts = _follow(
        dynamodb.scan,
        {
            "TableName": TABLE,
            "FilterExpression": "providerId = :p AND begins_with(sortKey, :prefix)",
            "ExpressionAttributeValues": {":p": {"S": PROVIDER}, ":prefix": {"S": f"{mrn}#"}},
        },
    )
    return time.perf_counter() - started, counts


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def startup(subcommands: list[str], rounds: int) -> None:
    """Medians of each command's wall time, alternating, and their ratio to `python -c pass`."""
    ingest = str(Path(sys.executable).parent / "ingest")
    commands = {"python -c pass": [sys.executable, "-c", "pass"]}
    commands["ingest --help"] = [ingest, "--help"]
    for name in subcommands:
        commands[f"ingest {name} --help"] = [ingest, name, "--help"]
    for command in commands.values():  # warm the file cache and .pyc files
        _seconds(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            times[name].append(_seconds(command))
    baseline = statistics.median(times["python -c pass"])
    for name, measured in times.items():
        median = statistics.median(measured)
        print(f"  {name:<28} median {median * 1000:6.0f} ms   ratio {median / baseline:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mrns", type=int, default=100)
    parser.add_argument("--per-mrn", type=int, default=1000)
    parser.add_argument("--other-mrns", type=int, default=10, help="MRNs of a second provider")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--startup-rounds", type=int, default=10)
    parser.add_argument("--subcommands", nargs="*", default=["validate"])
    parser.add_argument("--startup-only", action="store_true", help="skip Query and Scan")
    args = parser.parse_args()

    print(f"CLI start-up, {args.startup_rounds} rounds:")
    startup(args.subcommands, args.startup_rounds)
    if args.startup_only:
        return

    server, endpoint = spawn(free_port())
    try:
        dynamodb = _client(endpoint)
        _create_table(dynamodb)
        items, seconds = load(endpoint, args.mrns, args.per_mrn, args.other_mrns)
        print(
            f"loaded {items:,} items ({args.mrns} + {args.other_mrns} MRNs of two providers, "
            f"{args.per_mrn:,} each) in {seconds:.0f} s"
        )
        mrn = mrn_name(args.mrns // 2)
        count, scanned, pages = raw_query(dynamodb, mrn)
        assert count == scanned, "a key condition reads only what it returns"
        print(f"Query for one MRN: Count {count:,}, ScannedCount {scanned:,}, {pages} page(s)")
        query_times, scan_times = [], []
        for _ in range(args.rounds):
            query_seconds, found = query_round(dynamodb, mrn)
            scan_seconds, (scan_count, scan_scanned, scan_pages) = scan_round(dynamodb, mrn)
            assert found == count == scan_count, (found, count, scan_count)
            query_times.append(query_seconds)
            scan_times.append(scan_seconds)
        query_median, scan_median = statistics.median(query_times), statistics.median(scan_times)
        print(
            f"Scan with the same filter: Count {scan_count:,}, ScannedCount {scan_scanned:,}, "
            f"{scan_pages} page(s)"
        )
        print(
            f"median of {args.rounds} rounds: query.records {query_median * 1000:.0f} ms, "
            f"Scan {scan_median * 1000:.0f} ms; Scan ÷ Query: latency "
            f"{scan_median / query_median:.1f}, items read {scan_scanned / scanned:.0f}"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
