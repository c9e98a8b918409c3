"""Throughput and memory of the ingest Lambda's handler, against a moto server on loopback.

    python benchmarks/ingest_bench.py                    # 20k rows for throughput; RSS at 100k, 1M
    python benchmarks/ingest_bench.py --rows 20000 --rss-rows 100000

The moto server runs in a process of its own. In the same run, the baseline is plain
boto3 `Table.batch_writer` writing the same items, built beforehand, to the same server;
the handler reads the CSV from S3, validates it, counts duplicates and writes the items
with its parallel writers. The ratio is handler rows/s ÷ batch_writer rows/s. Peak RSS is
measured in a child process that runs only the handler (the table lives in the server).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from dynamo_sink import start_sink
from ingestcli.core.ledger import UploadLedger
from ingestcli.local.moto_server import spawn
from validate_bench import generate

BUCKET = "bench-uploads"
RECORDS, PROVIDERS, UPLOADS = "bench-records", "bench-providers", "bench-uploads"
PROVIDER = "bench-clinic"


class _Budget:
    def get_remaining_time_in_millis(self) -> int:
        return 15 * 60 * 1000  # a whole Lambda run: no continuation in the benchmark


def _clients(endpoint: str):
    import boto3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    session = boto3.Session(region_name="us-east-1")
    return {
        name: session.client(name, endpoint_url=endpoint) for name in ("s3", "dynamodb", "sqs")
    }, session.resource("dynamodb", endpoint_url=endpoint)


def _table(dynamodb, name: str) -> None:
    sort_key = {RECORDS: [("sortKey", "RANGE")], UPLOADS: [("uploadId", "RANGE")]}
    keys = [("providerId", "HASH"), *sort_key.get(name, [])]
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": a, "KeyType": k} for a, k in keys],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


def _setup(endpoint: str) -> str:
    clients, _ = _clients(endpoint)
    clients["s3"].create_bucket(Bucket=BUCKET)
    for name in (RECORDS, PROVIDERS, UPLOADS):
        _table(clients["dynamodb"], name)
    clients["dynamodb"].put_item(
        TableName=PROVIDERS, Item={"providerId": {"S": PROVIDER}, "status": {"S": "active"}}
    )
    return clients["sqs"].create_queue(QueueName="bench-queue")["QueueUrl"]


def _upload(endpoint: str, path: Path, upload_id: str) -> str:
    clients, _ = _clients(endpoint)
    key = f"{PROVIDER}/uploads/2026/11/25/{upload_id}.csv"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    UploadLedger(clients["dynamodb"], UPLOADS).register(
        PROVIDER, upload_id, key=key, sha256=digest.hexdigest()
    )
    clients["s3"].upload_file(str(path), BUCKET, key)
    return key


def _prebuilt_items(path: Path) -> list[dict[str, str]]:
    """The items the handler writes, built before the clock starts, one per distinct key."""
    from ingestcli.core.contract import to_item
    from ingestcli.core.validate import CsvValidation

    items: dict[str, dict[str, str]] = {}
    with path.open("rb") as handle:
        validation = CsvValidation(handle)
        for line, fields, mrn, date_time, problems in validation.rows():
            if problems:
                continue
            item = to_item(
                validation.header, fields, mrn, date_time, provider_id=PROVIDER,
                upload_id="baseline", source_line=line, ingested_at="2026-11-25T00:00:00.000Z",
            )  # fmt: skip
            items[item["sortKey"]["S"]] = {k: next(iter(v.values())) for k, v in item.items()}
    return list(items.values())


def _baseline(endpoint: str, path: Path) -> tuple[int, float]:
    _, dynamodb = _clients(endpoint)
    items = _prebuilt_items(path)
    table = dynamodb.Table(RECORDS)
    started = time.perf_counter()
    with table.batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)
    return len(items), time.perf_counter() - started


def _handler_run(
    endpoint: str, queue_url: str, key: str, writers: int, dynamodb_endpoint: str
) -> dict:
    from ingestcli.core.layout import parse_upload_key
    from ingestcli.lambdas.ingest.ingestor import Ingestor
    from ingestcli.lambdas.ingest.settings import Settings

    clients, _ = _clients(endpoint)
    if dynamodb_endpoint != endpoint:
        clients["dynamodb"] = _clients(dynamodb_endpoint)[0]["dynamodb"]
    settings = Settings(BUCKET, RECORDS, PROVIDERS, UPLOADS, queue_url, writers=writers)
    ingestor = Ingestor(clients["s3"], clients["dynamodb"], clients["sqs"], settings)
    ref = parse_upload_key(BUCKET, key)
    started = time.perf_counter()
    status = ingestor.ingest(ref, _Budget())
    seconds = time.perf_counter() - started
    report_key = ref.report_key
    report = json.load(clients["s3"].get_object(Bucket=BUCKET, Key=report_key)["Body"])
    # This process's own high-water mark: ru_maxrss of a child started with vfork counts the
    # parent's peak too (Linux keeps the old memory map's mark across exec).
    status_text = Path("/proc/self/status").read_text()
    peak_mb = int(re.search(r"VmHWM:\s+(\d+)", status_text)[1]) / 1024
    return {"status": status, "written": report["written"], "seconds": seconds, "peak_mb": peak_mb}


def _child(*arguments: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", *arguments],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows for the throughput ratio")
    parser.add_argument("--rss-rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        endpoint, queue_url, key, writers, dynamodb_endpoint = args.child
        print(json.dumps(_handler_run(endpoint, queue_url, key, int(writers), dynamodb_endpoint)))
        return
    server, endpoint = spawn()
    sink, sink_endpoint = start_sink(endpoint)
    try:
        queue_url = _setup(endpoint)
        with tempfile.TemporaryDirectory(prefix="ingest-bench-") as folder:
            path = Path(folder) / "throughput.csv"
            generate(path, args.rows)
            ratios = []
            for round_number in range(args.rounds):
                items, base_seconds = _baseline(endpoint, path)
                key = _upload(endpoint, path, f"throughput-{round_number}")
                mine = _child(endpoint, queue_url, key, str(args.writers), endpoint)
                ratio = (mine["written"] / mine["seconds"]) / (items / base_seconds)
                ratios.append(ratio)
                handler_rate = mine["written"] / mine["seconds"]
                print(
                    f"{args.rows:,} rows ({items:,} distinct valid): batch_writer "
                    f"{items / base_seconds:,.0f} items/s, handler {handler_rate:,.0f} items/s "
                    f"with {args.writers} writers: ratio {ratio:.2f}"
                )
            for rows in args.rss_rows:
                path = Path(folder) / f"rss-{rows}.csv"
                generate(path, rows)
                key = _upload(endpoint, path, f"rss-{rows}")
                path.unlink()
                mine = _child(endpoint, queue_url, key, str(args.writers), sink_endpoint)
                print(
                    f"{rows:,} rows: {mine['status']}, {mine['written']:,} written in "
                    f"{mine['seconds']:.0f} s (DynamoDB: a sink that keeps nothing), "
                    f"handler peak RSS {mine['peak_mb']:.0f} MB"
                )
    finally:
        sink.shutdown()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
