"""Peak memory of the ingest Lambda's handler on files at the CSV contract's limits.

    python benchmarks/ingest_memory.py                       # every shape, 4 writers
    python benchmarks/ingest_memory.py --writers 4 8 --shapes baseline item_limit

IngestMemorySize must hold the handler's own peak on the worst file the contract lets
through, with margin. Long files cost nothing (the reader streams); large items do: a writer
thread holds up to 150 items (4 queued batches, one being built, one in flight, 25 items
each) and a serialised request. In Python an attribute costs a dict and a str, so a row of
many short columns costs far more memory than its bytes.

Shapes (each in a fresh interpreter; its own high-water mark, VmHWM):
- baseline: 2,000 small rows of three columns, the figure the others are divided by;
- item_limit: rows of three columns whose note fills the item to the contract's limit
  (MAX_ITEM_BYTES less the bookkeeping), 150 rows a writer and more, so every queue fills;
- many_columns: rows of `--columns` columns (short hex names, empty values), as many rows;
  the contract's most, about 95,000 under the item limit, is projected from one item's
  size in Python (tracemalloc), as its queued items fill more memory than any Lambda has;
- largest_field: rows holding a field of MAX_FIELD_CHARS - 1 characters, refused as too large
  for an item (parsed whole, then written to the rejects file);
- item_limit_then_field: the item_limit rows, then the largest_field rows, which arrive
  while the writers' queues are full: the worst file measured.

DynamoDB's BatchWriteItem is answered by a sink on loopback that keeps nothing and waits
`--write-delay` seconds a call, as a throttled table would, so the writers' queues fill: the
worst case the handler allows. Every other call goes to a moto server in a process of its
own. The handler runs in-process in the child, with the clients handler.py builds.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from dynamo_sink import start_sink

BUCKET = "memory-uploads"
RECORDS, PROVIDERS, UPLOADS = "memory-records", "memory-providers", "memory-uploads"
PROVIDER = "memory-clinic"
THREE = ["medical_record_number", "date_time", "note"]
FIELD_ROWS = 3  # rows of the largest field, each followed by a small valid row
ROWS_PER_WRITER = 150  # (4 queued + 1 building + 1 in flight) batches x 25 items
SHAPES = ("baseline", "item_limit", "many_columns", "largest_field", "item_limit_then_field")


class _Budget:  # a whole Lambda run: no continuation here
    def get_remaining_time_in_millis(self) -> int:
        return 15 * 60 * 1000


def _client(name: str, endpoint: str):
    import boto3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1")


def _setup(endpoint: str) -> str:
    dynamodb = _client("dynamodb", endpoint)
    _client("s3", endpoint).create_bucket(Bucket=BUCKET)
    for name, sort in ((RECORDS, "sortKey"), (PROVIDERS, None), (UPLOADS, "uploadId")):
        keys = [("providerId", "HASH"), *([(sort, "RANGE")] if sort else [])]
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": a, "KeyType": k} for a, k in keys],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
    dynamodb.put_item(
        TableName=PROVIDERS, Item={"providerId": {"S": PROVIDER}, "status": {"S": "active"}}
    )
    return _client("sqs", endpoint).create_queue(QueueName="memory-queue")["QueueUrl"]


def _write_rows(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _date_time(n: int) -> str:
    """A distinct instant for every row number."""
    instant = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def wide_header(columns: int | None = None) -> list[str]:
    """The required columns and `columns` more (None: as many as the item limit allows),
    named with the shortest distinct names (hex numbers), so the values can be empty."""
    from ingestcli.core.contract import parse_header

    names, used = ["medical_record_number", "date_time"], 0
    budget = parse_header(names).value_budget - 64  # room for the key values
    while columns is None or len(names) - 2 < columns:
        name = f"{len(names) - 2:x}"
        if used + len(name) > budget:
            break
        names.append(name)
        used += len(name)
    parse_header(names)
    return names


def item_megabytes(columns: int | None) -> tuple[int, float]:
    """The columns of a wide row and the memory its item takes in Python (tracemalloc)."""
    import tracemalloc

    from ingestcli.core.contract import parse_header, to_item

    names = wide_header(columns)
    header = parse_header(names)
    fields = ["M000001", "2024-01-01T00:00:00Z", *[""] * (len(names) - 2)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    item = to_item(
        header, fields, fields[0], "2024-01-01T00:00:00.000000Z", provider_id=PROVIDER,
        upload_id="u", source_line=2, ingested_at="2026-11-30T00:00:00.000000Z",
    )  # fmt: skip
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del item
    return len(names) - 2, size / 1e6


def generate(shape: str, path: Path, rows: int, columns: int | None = None) -> int:
    """Write a file of `shape`; return its valid rows (what the report must say written)."""
    from ingestcli.core.contract import parse_header
    from ingestcli.core.lines import MAX_FIELD_CHARS

    if shape == "baseline":
        _write_rows(path, THREE, ([f"M{n}", _date_time(n), "ok"] for n in range(2000)))
        return 2000
    if shape == "many_columns":
        names = wide_header(columns)
        empty = [""] * (len(names) - 2)
        _write_rows(path, names, ([f"M{n:06d}", _date_time(n), *empty] for n in range(rows)))
        return rows
    full = rows if shape in ("item_limit", "item_limit_then_field") else 0
    fields = FIELD_ROWS if shape in ("largest_field", "item_limit_then_field") else 0
    filler = "n" * (parse_header(THREE).value_budget - len("L000000") - len(_date_time(0)))

    def lines():
        for n in range(full):  # each fills the item to the contract's limit
            yield [f"L{n:06d}", _date_time(n), filler]
        for n in range(fields):  # each refused as too large, then a valid row
            yield [f"M{n:06d}", _date_time(n), "f" * (MAX_FIELD_CHARS - 1)]
            yield [f"S{n:06d}", _date_time(n), "ok"]

    _write_rows(path, THREE, lines())
    return full + fields


def _upload(endpoint: str, path: Path, upload_id: str) -> str:
    from ingestcli.core.ledger import UploadLedger

    key = f"{PROVIDER}/uploads/2026/11/30/{upload_id}.csv"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    ledger = UploadLedger(_client("dynamodb", endpoint), UPLOADS)
    ledger.register(PROVIDER, upload_id, key=key, sha256=digest.hexdigest())
    _client("s3", endpoint).upload_file(str(path), BUCKET, key)
    return key


def _handler_run(endpoint: str, queue_url: str, key: str, sink: str, writers: int) -> dict:
    """In the child: the handler's own clients (handler.ingestor), fed the upload's event."""
    from ingestcli.lambdas.ingest import handler

    os.environ.update(
        UPLOADS_BUCKET=BUCKET, RECORDS_TABLE=RECORDS, PROVIDERS_TABLE=PROVIDERS,
        UPLOADS_TABLE=UPLOADS, QUEUE_URL=queue_url, WRITER_THREADS=str(writers),
        AWS_ENDPOINT_URL=endpoint, AWS_ENDPOINT_URL_DYNAMODB=sink, AWS_DEFAULT_REGION="us-east-1",
    )  # fmt: skip
    ingestor = handler.ingestor()
    from ingestcli.core.layout import parse_upload_key

    ref = parse_upload_key(BUCKET, key)
    started = time.perf_counter()
    status = ingestor.ingest(ref, _Budget())
    seconds = time.perf_counter() - started
    report = json.load(ingestor.s3.get_object(Bucket=BUCKET, Key=ref.report_key)["Body"])
    hwm = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    return {
        "status": status,
        "written": report["written"],
        "rejected": report["rejected"],
        "seconds": seconds,
        "peak_mb": int(hwm[1]) / 1024,
        "pool": ingestor.dynamodb.meta.config.max_pool_connections,
    }


def _child(*arguments: str) -> dict:
    command = [sys.executable, __file__, "--child", *arguments]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    from ingestcli.local.moto_server import spawn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="*", default=[4])
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=SHAPES)
    parser.add_argument("--write-delay", type=float, default=5.0, help="seconds a batch")
    parser.add_argument("--columns", type=int, default=2000, help="of many_columns")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        endpoint, queue_url, key, sink, writers = args.child
        print(json.dumps(_handler_run(endpoint, queue_url, key, sink, int(writers))))
        return
    server, endpoint = spawn()
    sink, sink_endpoint = start_sink(endpoint, args.write_delay)
    try:
        queue_url = _setup(endpoint)
        baseline = None
        with tempfile.TemporaryDirectory(prefix="ingest-memory-") as folder:
            for shape in ["baseline", *(s for s in args.shapes if s != "baseline")]:
                for writers in args.writers if shape != "baseline" else args.writers[:1]:
                    rows = ROWS_PER_WRITER * writers + 50
                    path = Path(folder) / f"{shape}-{writers}.csv"
                    valid = generate(shape, path, rows, args.columns)
                    megabytes = path.stat().st_size / 1e6
                    key = _upload(endpoint, path, f"{shape}-{writers}")
                    path.unlink()
                    mine = _child(endpoint, queue_url, key, sink_endpoint, str(writers))
                    assert mine["written"] == valid, (shape, mine)
                    baseline = baseline or mine["peak_mb"]
                    print(
                        f"{shape:<14} writers {writers:>2} (pool {mine['pool']}): "
                        f"{megabytes:,.0f} MB file, {mine['written']:,} written, "
                        f"{mine['rejected']:,} rejected in {mine['seconds']:.0f} s: peak RSS "
                        f"{mine['peak_mb']:.0f} MB = {mine['peak_mb'] / baseline:.2f} x baseline",
                        flush=True,
                    )
        if "many_columns" in args.shapes:
            for columns in (args.columns, None):
                count, size = item_megabytes(columns)
                print(
                    f"one item of {count:,} columns takes {size:.2f} MB in Python; "
                    f"{ROWS_PER_WRITER} a writer x {args.writers[-1]} writers = "
                    f"{size * ROWS_PER_WRITER * args.writers[-1]:,.0f} MB queued at most",
                    flush=True,
                )
    finally:
        sink.shutdown()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
