"""`ingest upload` of large files, in parts, as a provider runs it against `ingest local up
--detach` (issue 16): interrupted with a real SIGINT and resumed without sending a stored part
again; a file above the threshold sent as a multipart object by a plain `ingest upload`;
a rerun after completion; an upload S3 aborted; the progress bar on a terminal.

The files are wide (a 50 KB note a row, support/wide_csv.py) so that 100 MB ingests in
seconds. The threshold is set low (INGEST_MULTIPART_THRESHOLD=8MB) rather than files made
larger than its 64 MB default. moto never runs the bucket's lifecycle rules: an upload its
AbortIncompleteMultipartUpload rule would abort is aborted with boto3 instead. What the
client sent is read from `--debug` (one line per API call and per S3 PUT)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.filesize import decimal

from ingestcli.local.stack import session
from ingestcli.services.api_client import ApiClient
from ingestcli.services.parts_api import PartsApi
from ingestcli.services.read_once import check_and_hash
from ingestcli.services.s3_put import put_file
from ingestcli.services.waiting import wait_for_report
from support.cli_process import Run, read_until, user_environment
from support.upload_parts import (
    CONSOLE_SCRIPT,
    interrupt_once_stored,
    matches_validate,
    moto_stopped,
    multipart_etag,
    open_upload,
    part_md5s,
    parts_held,
    puts,
    read_report,
    reconciled,
    resume_records,
    said_in,
    start,
    token,
)
from support.wide_csv import WideCsv, write_wide_csv

pytestmark = pytest.mark.xdist_group("upload_in_parts")

UPLOAD_ID = r"\d{8}T\d{9}Z-[a-z2-7]{10}"
MiB = 1024**2
PART = 5 * MiB  # --part-size 5MB: S3's smallest part
LOW_THRESHOLD = {"INGEST_MULTIPART_THRESHOLD": "8MB"}
# The files, by name: size, and every how many rows one is invalid or a duplicate.
FILES = {
    "big.csv": (100_000_000, 0, 250),  # 20 parts of 5 MiB
    "mixed.csv": (20 * MiB, 50, 70),  # 2 parts of the default 16 MiB
    "done.csv": (12 * MiB, 0, 0),  # 3 parts of 5 MiB
    "aborted.csv": (12 * MiB, 0, 0),
    "bar.csv": (12 * MiB, 0, 0),
    "silent.csv": (30 * MiB, 0, 0),  # 7 parts of 5 MiB (a little over 30 MiB)
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, WideCsv]]:
    folder = tmp_path_factory.mktemp("home")
    files = {
        name: write_wide_csv(
            folder / name, size, tag=name[0].upper(), invalid_every=bad, duplicate_every=twice
        )
        for name, (size, bad, twice) in FILES.items()
    }
    yield files
    for found in files.values():  # 156 MB, not kept with pytest's last three runs
        found.path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def home(made: dict[str, WideCsv]) -> Path:
    return made["big.csv"].path.parent


@pytest.fixture(scope="module")
def aws(stack: dict, outputs: dict[str, str]) -> dict[str, Any]:
    """boto3's S3 and DynamoDB clients of the local stack, and its uploads bucket."""
    boto = session()
    clients = {
        name: boto.client(name, endpoint_url=stack["endpoint"]) for name in ("s3", "dynamodb")
    }
    return clients | {"bucket": outputs["UploadsBucket"]}


def test_an_interrupted_upload_resumes_and_sends_no_stored_part_again(
    run: Run, stack: dict, home: Path, made: dict[str, WideCsv], aws: dict, outputs: dict
) -> None:
    """The issue's first "done when": 100 MB in 5 MiB parts, two at a time, SIGINT once S3
    holds three; the same command again sends only the parts S3 does not hold, and the
    object is the stored parts and the new ones (its multipart ETag, computed here)."""
    env, wide = token(run, "acme"), made["big.csv"]
    command = ("upload", "big.csv", "--part-size", "5MB", "--part-jobs", "2")
    total = -(-wide.size // PART)
    assert total == 20

    process = start(home, env, *command)
    key, multipart_id = interrupt_once_stored(process, aws, stack, "acme", 3)
    out, err = process.communicate(timeout=60)
    stopped = re.fullmatch(
        rf"(\d+) of 20 parts of upload ({UPLOAD_ID}) are stored, kept until "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z: run the same command again to send the "
        r"rest\.\nerror: interrupted\n",
        err,
    )
    assert (process.returncode, out) == (130, ""), err
    assert stopped, err
    upload_id = stopped[2]
    assert key == f"acme/uploads/{upload_id[:4]}/{upload_id[4:6]}/{upload_id[6:8]}/{upload_id}.csv"
    stored = parts_held(aws, key, multipart_id)
    assert 3 <= int(stopped[1]) <= len(stored) < total, (stopped[1], sorted(stored))
    md5s = part_md5s(wide, PART)
    assert stored == {number: f'"{md5s[number - 1].hex()}"' for number in stored}
    assert len(resume_records(home)) == 1

    resumed = run("--debug", *command, env=env)
    assert resumed.returncode == 0, resumed.stderr
    sent = puts(resumed.stderr)
    assert sorted(sent) == [n for n in range(1, total + 1) if n not in stored], sorted(stored)
    assert f"GET /uploads/{upload_id}/parts -> 200" in resumed.stderr
    assert "POST /uploads -> " not in resumed.stderr  # no new upload
    assert said_in(resumed.stderr) == (
        f"Uploaded as {upload_id} in 20 parts ({len(stored)} stored before); waiting for its "
        "report…\n"
    )
    assert resumed.stdout.startswith(f"Upload {upload_id}: ✔ succeeded\n"), resumed.stdout
    assert resume_records(home) == []

    head = aws["s3"].head_object(Bucket=aws["bucket"], Key=key)
    assert head["ETag"] == multipart_etag(md5s)  # the stored parts and the new ones, in order
    assert head["ContentLength"] == wide.size
    report = read_report(run, env, upload_id)
    assert (report["status"], report["duplicates"]) == ("succeeded", wide.duplicates)
    reconciled(aws, outputs, "acme", report, wide)
    matches_validate(run, wide, report)


def test_a_file_above_the_threshold_goes_in_parts_by_a_plain_upload(
    run: Run, stack: dict, made: dict[str, WideCsv], aws: dict, outputs: dict
) -> None:
    """No part options: 20 MiB above the (lowered) threshold goes in the default 16 MiB
    parts; invalid rows (--allow-invalid) and duplicates make the counts worth comparing."""
    env, wide = token(run, "globex") | LOW_THRESHOLD, made["mixed.csv"]
    sent = run("--debug", "upload", "mixed.csv", "--allow-invalid", env=env)
    assert sent.returncode == 1, sent.stderr  # partial: some rows rejected
    assert sorted(puts(sent.stderr)) == [1, 2]  # the default 16 MiB parts
    said = re.fullmatch(rf"Uploaded as ({UPLOAD_ID}) in 2 parts; waiting for its report…\n",
                        said_in(sent.stderr))  # fmt: skip
    assert said, sent.stderr
    assert sent.stdout.startswith(f"Upload {said[1]}: ⚠ partial\n"), sent.stdout
    report = read_report(run, env, said[1])
    head = aws["s3"].head_object(Bucket=aws["bucket"], Key=report["key"])
    assert head["ETag"] == multipart_etag(part_md5s(wide, 16 * MiB))
    assert report["status"] == "partial"
    assert (report["rejected"], report["duplicates"]) == (wide.invalid, wide.duplicates)
    reconciled(aws, outputs, "globex", report, wide)
    matches_validate(run, wide, report)


def _sent_without_waiting(wide: WideCsv, stdout: str) -> str:
    """The upload id `--no-wait` printed, which says nothing else."""
    said = re.fullmatch(
        rf"✔ uploaded: {re.escape(wide.path.name)} \({re.escape(decimal(wide.size))}\) as "
        rf"upload ({UPLOAD_ID})\nIts report is ready once the file is ingested: ingest uploads "
        r"lists it\.\n",
        stdout,
    )
    assert said, stdout
    return said[1]


def test_a_rerun_waits_for_a_completed_upload_only_while_its_record_survives(
    run: Run, stack: dict, home: Path, made: dict[str, WideCsv], tmp_path: Path
) -> None:
    """Today's rule: the resume record goes once the API has completed the upload, before
    "Uploaded as" is printed, so a rerun after `--no-wait` (or Ctrl-C while waiting) sends
    the file again as a new upload. Only a record that survived completion (the process
    killed between the API's answer and the record's removal: played by putting back the
    record as it was while the parts went) makes a rerun send nothing and wait for it."""
    env, wide = token(run, "umbrella") | LOW_THRESHOLD, made["done.csv"]
    command = ("upload", "done.csv", "--part-size", "5MB")
    process = start(home, env, "--debug", *command, "--no-wait")
    seen = read_until(process, "POST /uploads -> 201")  # opened: its record is being written
    with moto_stopped(stack):  # the upload cannot complete (and its record go) meanwhile
        deadline = time.monotonic() + 30
        while not resume_records(home):
            assert time.monotonic() < deadline, "no resume record"
            time.sleep(0.01)
        (record,) = resume_records(home)
        kept = tmp_path / record
        shutil.copy(home / "state" / "ingest" / "resume" / record, kept)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, seen + err
    assert sorted(puts(seen + err)) == [1, 2, 3]
    assert said_in(seen + err) == ""
    first = _sent_without_waiting(wide, out)
    assert resume_records(home) == []

    shutil.copy(kept, home / "state" / "ingest" / "resume" / record)
    again = run("--debug", *command, env=env)
    assert again.returncode == 0, again.stderr
    assert puts(again.stderr) == []
    assert f"GET /uploads/{first}/parts -> 200" in again.stderr
    assert "POST /uploads -> " not in again.stderr
    assert said_in(again.stderr) == (
        f"Uploaded as {first} in 3 parts, all sent before; waiting for its report…\n"
    )
    assert again.stdout.startswith(f"Upload {first}: ✔ succeeded\n{wide.rows:,} rows: "), (
        again.stdout
    )
    assert resume_records(home) == []

    anew = run("--debug", *command, env=env)  # no record: a new upload, the file sent again
    assert anew.returncode == 0, anew.stderr
    assert sorted(puts(anew.stderr)) == [1, 2, 3]
    said = re.fullmatch(rf"Uploaded as ({UPLOAD_ID}) in 3 parts; waiting for its report…\n",
                        said_in(anew.stderr))  # fmt: skip
    assert said and said[1] != first, anew.stderr
    assert anew.stdout.startswith(f"Upload {said[1]}: ✔ succeeded\n"), anew.stdout


def test_an_upload_s3_aborted_shows_as_abandoned_and_a_rerun_starts_anew(
    run: Run, stack: dict, home: Path, aws: dict
) -> None:
    env = token(run, "initech") | LOW_THRESHOLD
    command = ("upload", "aborted.csv", "--part-size", "5MB", "--part-jobs", "1")
    process = start(home, env, *command)
    key, multipart_id = interrupt_once_stored(process, aws, stack, "initech", 1)
    out, err = process.communicate(timeout=60)
    stopped = re.fullmatch(
        rf"[1-3] of 3 parts of upload ({UPLOAD_ID}) are stored, kept until \S+: run the same "
        r"command again to send the rest\.\nerror: interrupted\n",
        err,
    )
    assert (process.returncode, out) == (130, ""), err
    assert stopped, err
    upload_id = stopped[1]
    # The bucket's AbortIncompleteMultipartUpload rule, which moto never runs.
    aws["s3"].abort_multipart_upload(Bucket=aws["bucket"], Key=key, UploadId=multipart_id)

    shown = run("uploads", env=env)
    assert shown.returncode == 0, shown.stderr
    assert re.search(rf"^{upload_id} +✘ abandoned +aborted\.csv$", shown.stdout, re.M), shown.stdout
    support = run("uploads", "--provider", "initech", "--profile", "local", "--format", "json")
    assert support.returncode == 0, support.stderr
    listed = [(upload["upload_id"], upload["status"]) for upload in json.loads(support.stdout)]
    assert listed == [(upload_id, "abandoned")]

    rerun = run("--debug", *command, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"GET /uploads/{upload_id}/parts -> 200" in rerun.stderr
    assert sorted(puts(rerun.stderr)) == [1, 2, 3]  # none is kept from the aborted upload
    said = re.fullmatch(rf"Uploaded as ({UPLOAD_ID}) in 3 parts; waiting for its report…\n",
                        said_in(rerun.stderr))  # fmt: skip
    assert said and said[1] != upload_id, rerun.stderr
    assert rerun.stdout.startswith(f"Upload {said[1]}: ✔ succeeded\n"), rerun.stdout
    assert resume_records(home) == []


def test_the_bar_shows_parts_and_rate_on_a_terminal_only(
    run: Run, stack: dict, home: Path, made: dict[str, WideCsv]
) -> None:
    env, wide = token(run, "hooli") | LOW_THRESHOLD, made["bar.csv"]
    command = ("upload", "bar.csv", "--part-size", "5MB", "--no-wait")
    on_pty = subprocess.run(
        ["script", "-qec", shlex.join([CONSOLE_SCRIPT, *command]), "/dev/null"],
        cwd=home, env=user_environment(home) | env | {"TERM": "xterm"},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", on_pty.stdout)  # the terminal's codes
    assert on_pty.returncode == 0, screen
    frames = re.findall(
        r"Uploading bar\.csv[^\r\n]* ([0-3])/3 parts \d+(?:\.\d+)? [kMG]?B/s", screen
    )
    assert frames and frames[-1] == "3", screen
    lines = [line for line in re.split(r"[\r\n]+", screen) if line.strip()]
    _sent_without_waiting(wide, "\n".join(lines[-2:]) + "\n")  # after the bar, gone

    # No terminal: neither bar (check, parts) nor live line, only what is said once. This
    # one waits for its report, so that the stack is idle when the module ends.
    piped = run(*command[:-1], env=env)
    assert piped.returncode == 0, piped.stderr
    said = re.fullmatch(rf"Uploaded as ({UPLOAD_ID}) in 3 parts; waiting for its report…\n",
                        piped.stderr)  # fmt: skip
    assert said, piped.stderr
    assert piped.stdout.startswith(f"Upload {said[1]}: ✔ succeeded\n"), piped.stdout


def test_ctrl_c_ends_an_upload_in_parts_at_once_when_s3_stops_answering(
    run: Run, stack: dict, home: Path, aws: dict
) -> None:
    """Parts in flight to a moto server that no longer answers (stopped): Ctrl-C ends the
    command in seconds, not when the sockets time out (60 s a PUT), and says how to resume."""
    env = token(run, "stark") | LOW_THRESHOLD
    process = start(home, env, "upload", "silent.csv", "--part-size", "5MB", "--part-jobs", "2")
    deadline = time.monotonic() + 60
    while not ((opened := open_upload(aws, "stark")) and parts_held(aws, *opened)):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    with moto_stopped(stack):
        time.sleep(0.5)  # the next parts are on their way to a server that does not answer
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = process.communicate(timeout=30)
        ended_in = time.monotonic() - started
    assert (process.returncode, out) == (130, ""), err
    assert re.fullmatch(
        rf"[1-7] of 7 parts of upload {UPLOAD_ID} are stored, kept until \S+: run the same "
        r"command again to send the rest\.\nerror: interrupted\n",
        err,
    ), err
    assert ended_in < 10, ended_in  # the PUTs' sockets would have held it for 60 s


def test_parts_that_are_not_the_declared_file_are_never_ingested(
    run: Run, stack: dict, tmp_path: Path, aws: dict
) -> None:
    """moto takes a part whatever its pinned checksum (S3 would refuse it: BadDigest), so a
    part swapped for other bytes makes a whole object here; the ingest Lambda's check of the
    whole file's SHA-256, declared when the upload was opened, still refuses it."""
    env = token(run, "cyberdyne")
    client = ApiClient(stack["api_url"], env["INGEST_TOKEN"])
    rows = b"".join(b"A%07d,2024-03-01T10:00:00Z\r\n" % n for n in range(260_000))
    body = b"medical_record_number,date_time\r\n" + rows  # 2 parts of 5 MiB
    path = tmp_path / "declared.csv"
    path.write_bytes(body)
    digest = check_and_hash(str(path), part_size=PART)[1]
    parts = PartsApi(client)
    opened = parts.open("declared.csv", digest)
    urls = parts.part_urls(opened["upload_id"], list(enumerate(digest.part_sha256, start=1)))
    tampered = body[:PART].replace(b"A0000001,", b"B0000001,")
    for number, data in ((1, tampered), (2, body[PART:])):
        path.write_bytes(data)
        put_file(urls[number]["url"], urls[number]["headers"], str(path), len(data))
    assert parts.complete(opened["upload_id"])["status"] == "pending"

    report = wait_for_report(client, opened["upload_id"], timeout=60)
    assert (report["status"], report["rows"], report["written"]) == ("failed", 0, 0)
    assert [error["code"] for error in report["errors"]] == ["checksum_mismatch"]
