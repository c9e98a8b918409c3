"""Helpers of tests/e2e/test_upload_in_parts.py: a provider's `ingest upload` left running and
interrupted, what S3 holds of its upload in parts, what `--debug` says it sent, and the
report reconciled with the tables and with `ingest validate`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.cli_process import Run, user_environment
from support.wide_csv import WideCsv

CONSOLE_SCRIPT = str(Path(sys.executable).parent / "ingest")
PUT_LINE = re.compile(r"debug: ingestcli\.s3_put: PUT S3 part (\d+) -> (\S+) in \d+ ms")


def token(run: Run, provider: str) -> dict[str, str]:
    added = run("provider", "add", provider, "--profile", "local", "--format", "json")
    assert added.returncode == 0, added.stderr
    return {"INGEST_TOKEN": json.loads(added.stdout)["token"], "INGEST_PROFILE": "local"}


def start(home: Path, env: dict[str, str], *arguments: str) -> subprocess.Popen[str]:
    """`ingest ARGUMENTS` in the environment ingest_runner gives, left running."""
    return subprocess.Popen(
        [CONSOLE_SCRIPT, *arguments], cwd=home, env=user_environment(home) | env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


@contextmanager
def moto_stopped(stack: dict) -> Iterator[None]:
    """The local stack's moto server (the one child of the stack's process) stopped: S3 takes
    and completes nothing meanwhile, so a client cannot get past the step it is at."""
    children = [
        int(pid)
        for task in Path(f"/proc/{stack['pid']}/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    assert len(children) == 1, children
    os.kill(children[0], signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(children[0], signal.SIGCONT)


def open_upload(aws: dict, provider: str) -> tuple[str, str] | None:
    """(key, S3's upload id) of the provider's one multipart upload S3 holds open, if any."""
    found = aws["s3"].list_multipart_uploads(Bucket=aws["bucket"], Prefix=f"{provider}/uploads/")
    uploads = found.get("Uploads", [])
    assert len(uploads) <= 1, uploads
    return (uploads[0]["Key"], uploads[0]["UploadId"]) if uploads else None


def parts_held(aws: dict, key: str, multipart_id: str) -> dict[int, str]:
    """{part number: ETag} of the parts S3 holds (ListParts)."""
    parts = aws["s3"].list_parts(Bucket=aws["bucket"], Key=key, UploadId=multipart_id)
    assert not parts.get("IsTruncated")
    return {part["PartNumber"]: part["ETag"] for part in parts.get("Parts", [])}


def interrupt_once_stored(
    process: subprocess.Popen[str], aws: dict, stack: dict, provider: str, least: int
) -> tuple[str, str]:
    """SIGINT to `process` once S3 holds `least` parts of its upload (polled with ListParts),
    moto stopped meanwhile, so that the upload cannot end before the signal lands: the
    (key, S3 upload id) of the upload."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{least} parts not stored in 60 s"
        opened = open_upload(aws, provider)
        if opened and len(parts_held(aws, *opened)) >= least:
            break
        time.sleep(0.01)
    with moto_stopped(stack):
        process.send_signal(signal.SIGINT)
    return opened


def puts(stderr: str) -> list[int]:
    """The part numbers of the S3 PUTs `--debug` logged, each answered 200."""
    found = PUT_LINE.findall(stderr)
    assert all(status == "200" for _, status in found), found
    return [int(number) for number, _ in found]


def said_in(stderr: str) -> str:
    """stderr without the `--debug` lines."""
    return "".join(x for x in stderr.splitlines(keepends=True) if not x.startswith("debug: "))


def part_md5s(wide: WideCsv, part_size: int) -> list[bytes]:
    """The MD5 of each part of the file, as S3 makes a part's ETag."""
    with wide.path.open("rb") as stream:
        return [hashlib.md5(chunk).digest() for chunk in iter(lambda: stream.read(part_size), b"")]


def multipart_etag(md5s: list[bytes]) -> str:
    return f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-{len(md5s)}"'


def read_report(run: Run, env: dict[str, str], upload_id: str) -> dict[str, Any]:
    shown = run("report", upload_id, "--format", "json", env=env)
    assert shown.returncode in (0, 1), shown.stderr
    return json.loads(shown.stdout)


def resume_records(home: Path) -> list[str]:
    """The resume records on this computer (not a record being written: a hidden .tmp)."""
    folder = home / "state" / "ingest" / "resume"
    return sorted(path.name for path in folder.glob("*.json")) if folder.is_dir() else []


def matches_validate(run: Run, wide: WideCsv, report: dict[str, Any]) -> None:
    """The report counts what `ingest validate` of the same file counts: every row; the
    invalid rows rejected, by code; the valid ones written or counted as duplicates."""
    checked = run("validate", wide.path.name, "--format", "json")
    assert checked.returncode == (1 if wide.invalid else 0), checked.stderr
    summary = json.loads(checked.stdout)
    assert (summary["rows"], summary["invalid"]) == (wide.rows, wide.invalid)
    assert report["rows"] == summary["rows"]
    assert report["rejected"] == summary["invalid"]
    assert report["written"] + report["duplicates"] == summary["valid"]
    assert report["error_counts"] == summary["error_counts"]


def rows_by_key(dynamodb: Any, table: str, provider: str, keys: list[str]) -> dict[str, tuple]:
    """{sort key: (upload_id, source_line)} of the provider's items at `keys` (BatchGetItem,
    100 keys a call: a Query of 2,000 wide items takes moto 12 s)."""
    found: dict[str, tuple] = {}
    for start in range(0, len(keys), 100):
        wanted = [{"providerId": {"S": provider}, "sortKey": {"S": k}} for k in keys[start:][:100]]
        projection = "sortKey, upload_id, source_line"
        request = {table: {"Keys": wanted, "ProjectionExpression": projection}}
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table, []):
                row = (item["upload_id"]["S"], int(item["source_line"]["N"]))
                found[item["sortKey"]["S"]] = row
            request = answer.get("UnprocessedKeys") or {}
    return found


def reconciled(
    aws: dict, outputs: dict, provider: str, report: dict[str, Any], wide: WideCsv
) -> None:
    """The report against the tables: rows = written + rejected + duplicates; each key of
    the file holds, read by key, the row that won it, of this upload, as many as written;
    the uploads table's item has the report's status and counts, and the file's digest."""
    upload_id = report["upload_id"]
    counts = [report[name] for name in ("rows", "written", "rejected", "duplicates")]
    assert counts == [wide.rows, len(wide.kept), wide.invalid, wide.duplicates]
    assert counts[0] == counts[1] + counts[2] + counts[3]
    found = rows_by_key(aws["dynamodb"], outputs["RecordsTable"], provider, sorted(wide.kept))
    assert found == {key: (upload_id, line) for key, line in wide.kept.items()}
    ledger = aws["dynamodb"].get_item(
        TableName=outputs["UploadsTable"], ConsistentRead=True,
        Key={"providerId": {"S": provider}, "uploadId": {"S": upload_id}},
    )["Item"]  # fmt: skip
    assert ledger["status"]["S"] == report["status"]
    assert [
        int(ledger[name]["N"]) for name in ("rows", "written", "rejected", "duplicates")
    ] == counts
    assert (ledger["sha256"]["S"], int(ledger["size"]["N"])) == (wide.sha256, wide.size)
    assert ledger["multipart_id"]["S"]
