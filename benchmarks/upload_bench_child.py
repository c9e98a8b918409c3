"""The processes upload_bench.py measures: what runs in each child (a fresh interpreter, so
that its peak RSS, VmHWM, is its own; it writes its figures as JSON to RESULT), and what a
process costs in CPU time (the children's, the moto server's, the stack's).

    python benchmarks/upload_bench_child.py RESULT ingest ARGUMENTS...
    python benchmarks/upload_bench_child.py RESULT boto3 ENDPOINT BUCKET PATH
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
import time
from pathlib import Path

BOTO3_KEY = "bench/boto3.csv"  # outside every provider's prefix


def peak_mb(pid: int | str = "self") -> float:
    """A process's own high-water mark of resident memory (VmHWM), in MB."""
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found[1]) * 1024 / 1e6 if found else float("nan")


def _timed(module: object, name: str, into: dict[str, float], label: str) -> None:
    """Wrap `module.name` so the seconds its calls take add up in `into[label + "_seconds"]`,
    and this process's CPU seconds meanwhile (every thread's) in `into[label + "_cpu"]` (the
    real function runs; a name that is gone fails at once, not with a silent zero)."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            into[f"{label}_cpu"] = into.get(f"{label}_cpu", 0.0) + time.process_time() - cpu
            seconds = time.perf_counter() - started
            into[f"{label}_seconds"] = into.get(f"{label}_seconds", 0.0) + seconds

    setattr(module, name, wrapper)


def ingest_child(result: str, arguments: list[str]) -> None:
    """In the child: `ingest ARGUMENTS...` in this process, through the console script's own
    entry, its check and its send timed; then this process's peak RSS."""
    from ingestcli.cli.entry import main as ingest_main
    from ingestcli.services import batch, upload

    timings: dict[str, float] = {}
    _timed(batch, "check_and_hash", timings, "check")
    _timed(upload, "upload_in_parts", timings, "send")
    sys.argv = ["ingest", *arguments]
    code = 0
    try:
        ingest_main()
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else 1
    finally:
        Path(result).write_text(json.dumps(timings | {"exit": code, "peak_mb": peak_mb()}))
    sys.exit(code)


def client(service: str, endpoint: str):
    """A boto3 client on the local stack's moto server, with dummy credentials."""
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )  # fmt: skip


def boto3_child(result: str, endpoint: str, bucket: str, path: str) -> None:
    """In the child: boto3's upload_file with its default TransferConfig, timed, and each
    S3 operation's time (botocore's events); then this process's peak RSS."""
    s3, seconds = client("s3", endpoint), {}

    def sent(request, **_):
        request.context["bench_started"] = time.perf_counter()

    def answered(event_name, context, **_):
        operation = event_name.rsplit(".", 1)[-1]
        took = time.perf_counter() - context["bench_started"]
        seconds[operation] = seconds.get(operation, 0.0) + took

    s3.meta.events.register("request-created.s3", sent)
    s3.meta.events.register("response-received.s3", answered)
    started = time.perf_counter()
    s3.upload_file(path, bucket, BOTO3_KEY)
    found = {
        "send_seconds": time.perf_counter() - started,
        "open_seconds": seconds.get("CreateMultipartUpload", 0.0),
        "complete_seconds": seconds.get("CompleteMultipartUpload", 0.0),
        "peak_mb": peak_mb(),
    }
    Path(result).write_text(json.dumps(found))


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """The CPU time of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def moto_pid(stack: int) -> int:
    """The moto server's process: the child of the stack's process that runs moto_server."""
    for task in Path(f"/proc/{stack}/task").iterdir():
        for pid in (task / "children").read_text().split():
            if b"moto_server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
    raise SystemExit("the local stack's moto server was not found among its processes")


def main() -> None:
    result, kind, *rest = sys.argv[1:]
    ingest_child(result, rest) if kind == "ingest" else boto3_child(result, *rest)


if __name__ == "__main__":
    main()
