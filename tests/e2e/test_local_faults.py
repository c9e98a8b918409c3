"""Faults on the local stack, end to end: the provider uploads through the API and a presigned
PUT, S3's notification goes through the queue, and the queue worker runs the ingest handler,
while DynamoDB throttles, a worker is killed mid-file, S3 delivers its event three times, a
read of the file fails, or the report cannot be written.

Faults are injected by wrapping the boto3 clients the handler is given
(`WorkerOptions.wrap_client`), with the wrappers of tests/support/faults.py; the killed worker
is a real process, killed with SIGKILL. After each fault the upload must end as a clean run
of the same file ends: the same items (ids and ingested_at aside), the same report and
rejects, the report's counts true, nothing left in the queue or its dead-letter queue, no
checkpoint left behind.

The stack (moto in a process of its own, the API on loopback) is shared by the module; each
test starts its own queue worker, with its faults, and uses providers of its own.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ingestcli.core.status import FINISHED
from ingestcli.lambdas.ingest.handler import pool_size
from ingestcli.local.stack import WorkerOptions, start_local_stack
from ingestcli.local.worker import QueueWorker
from support.faults import BreakingS3, Passthrough, client_error
from support.ingest_events import csv_bytes
from support.local_stack import REPORT_TIMEOUT, Stack

# One worker runs the module: its local stack and the clean run every fault is compared with
# take some 15 s to set up, once.
pytestmark = pytest.mark.xdist_group("local_faults")

# What a report says that is the same for any upload of the same file.
REPORT_IDS = ("upload_id", "provider", "key", "started_at", "finished_at")
# What an item says that differs between two uploads of the same file.
ITEM_IDS = ("providerId", "upload_id", "ingested_at")
# Runs short of time: a 4 s function timeout is below the 60 s margin the handler keeps, so
# each run stops at its first time check (every 500 rows), saves a checkpoint and continues
# in another; a lease outlives its run by 1 s. The killed worker's queue hides a received
# message for 6 s (the template: 6x the function timeout), so it comes back only once its
# run's lease is over.
SHORT_RUNS = {"LEASE_GRACE_MS": "1000"}
SHORT_TIMEOUT = 4
SHORT_VISIBILITY = 6


def mixed_rows(rows: int) -> list[list[str]]:
    """Valid rows, every 97th refused for its MRN and every 194th for an impossible date,
    every 89th the same instant as the row before it written with another offset (it wins;
    the earlier counts as a duplicate), and a quoted line break now and then."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    records = []
    for n in range(rows):
        moment = start + timedelta(seconds=n)
        records.append([f"M{n:06d}", moment.strftime("%Y-%m-%dT%H:%M:%SZ"), f"v{n}"])
        if n % 89 == 0 and n:
            again = (moment - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=2)))
            records[n] = [f"M{n - 1:06d}", again.isoformat(), f"the later copy of v{n - 1}"]
        elif n % 97 == 45:
            records[n][0] = f"BAD#{n}"
        elif n % 194 == 71:
            records[n][1] = "2024-02-30T10:00:00Z"
        if n % 500 == 30:
            records[n][2] = f"a note\nover two lines, {n}"
    return records


FILE_ROWS = 1000
BODY = csv_bytes(mixed_rows(FILE_ROWS))


# --------------------------------------------------------------------------- the stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    local = start_local_stack(0, 0, worker=None)
    try:
        yield Stack(local)
    finally:
        local.stop()


@pytest.fixture
def run_worker(stack: Stack) -> Iterator[Callable[..., QueueWorker]]:
    """Start the stack's queue worker with these options (the previous one is stopped);
    stopped again when the test ends."""

    def start(**options: Any) -> QueueWorker:
        return stack.local.start_worker(WorkerOptions(**options))

    yield start
    if stack.local.worker is not None:
        stack.local.worker.stop()


@dataclass(frozen=True)
class Outcome:
    """What a user can see of an upload, less what differs between two uploads."""

    items: list[dict[str, str]]
    report: dict[str, Any]
    rejects: bytes | None


def outcome(items: list[dict[str, str]], rejects: bytes | None, report: dict) -> Outcome:
    kept = [{name: value for name, value in item.items() if name not in ITEM_IDS} for item in items]
    core = {name: value for name, value in report.items() if name not in REPORT_IDS}
    return Outcome(sorted(kept, key=lambda item: item["sortKey"]), core, rejects)


@pytest.fixture(scope="module")
def clean(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """BODY ingested with nothing going wrong: what every faulty run must end as."""
    worker = stack.local.start_worker(WorkerOptions())
    try:
        upload_id = stack.send("clean-run", BODY, tmp_path_factory.mktemp("clean"))
        report = stack.report("clean-run", upload_id)
        stack.settled("clean-run", upload_id)
    finally:
        worker.stop()
    rejects = stack.read(f"clean-run/rejects/{upload_id}.csv")
    result = outcome(stack.items("clean-run"), rejects, report)
    assert result.report["status"] == "partial" and result.report["duplicates"] > 0
    assert result.rejects is not None
    assert len(result.items) == result.report["written"]
    return result


def assert_ends_as_clean_run(stack: Stack, clean: Outcome, provider: str, upload_id: str) -> None:
    """The upload's report, items and rejects are a clean run's; its report is true; nothing
    is left in a queue or among the checkpoints."""
    report = stack.report(provider, upload_id)
    entry = stack.settled(provider, upload_id)
    items = stack.items(provider)
    seen = outcome(items, stack.read(f"{provider}/rejects/{upload_id}.csv"), report)
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    assert report["written"] == len(items)
    assert {item["upload_id"] for item in items} == {upload_id}
    assert (report["upload_id"], report["provider"]) == (upload_id, provider)
    assert seen.report == clean.report
    assert seen.items == clean.items, "rows lost, doubled or changed"
    assert seen.rejects == clean.rejects
    assert entry["status"] == report["status"] and "lease_owner" not in entry
    assert [int(entry[name]) for name in ("rows", "written", "rejected", "duplicates")] == [
        report[name] for name in ("rows", "written", "rejected", "duplicates")
    ]
    assert stack.keys(f"{provider}/checkpoints/") == []
    assert stack.keys(f"{provider}/reports/") == [f"{provider}/reports/{upload_id}.json"]
    assert stack.depth("QueueUrl") == 0
    assert stack.depth("DeadLetterQueueUrl") == 0


def only_for(service: str, make: Callable[[Any], Any]) -> Callable[[str, Any], Any]:
    """A wrap_client hook that wraps one service's client with `make`."""
    return lambda name, client: make(client) if name == service else client


# --------------------------------------------------------------------------- throttling


class ThrottledWindow(Passthrough):
    """BatchWriteItem of one provider's items: answered for the first `after` calls, then
    throttled for `seconds` whatever the retries, then answered again."""

    def __init__(self, real: Any, provider: str, after: int, seconds: float) -> None:
        super().__init__(real)
        self.provider, self.after, self.seconds = provider, after, seconds
        self.calls = self.throttles = 0
        self.began: float | None = None
        self.last_throttle: float | None = None

    def batch_write_item(self, RequestItems: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        ((_table, requests),) = RequestItems.items()
        if requests[0]["PutRequest"]["Item"]["providerId"]["S"] == self.provider:
            with self._lock:
                self.calls += 1
                now = time.monotonic()
                if self.calls > self.after and self.began is None:
                    self.began = now
                throttled = self.began is not None and now - self.began < self.seconds
                if throttled:
                    self.throttles += 1
                    self.last_throttle = now
            if throttled:
                raise client_error("ProvisionedThroughputExceededException")
        return self._real.batch_write_item(RequestItems=RequestItems, **kwargs)


def test_dynamodb_throttling_for_seconds_mid_file_loses_and_doubles_nothing(
    stack: Stack, clean: Outcome, run_worker: Callable[..., QueueWorker], tmp_path: Path
) -> None:
    provider = "throttled"
    throttled: list[ThrottledWindow] = []

    def throttle(client: Any) -> ThrottledWindow:
        throttled.append(ThrottledWindow(client, provider, after=8, seconds=2.5))
        return throttled[-1]

    run_worker(wrap_client=only_for("dynamodb", throttle))

    upload_id = stack.send(provider, BODY, tmp_path)

    assert_ends_as_clean_run(stack, clean, provider, upload_id)
    (dynamodb,) = throttled
    assert dynamodb.throttles >= 10  # the writer's retries outlasted the 2.5 s, or ran out
    # and the queue's retry of the message finished the file: either way, the same end.


# --------------------------------------------------------------------------- a killed worker

WORKER_PROCESS = """
import json, sys
from ingestcli.local.stack import WorkerOptions, ingest_worker
config = json.loads(sys.argv[1])
options = WorkerOptions(environment=config["environment"], timeout_seconds=config["timeout"])
ingest_worker(config["endpoint"], config["outputs"], options).run()
"""


def test_a_worker_killed_mid_file_leaves_the_upload_to_the_next_once_its_lease_ends(
    stack: Stack, clean: Outcome, run_worker: Callable[..., QueueWorker], tmp_path: Path
) -> None:
    provider = "killed"
    queue = stack.outputs["QueueUrl"]
    before = stack.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])
    stack.sqs.set_queue_attributes(
        QueueUrl=queue, Attributes={"VisibilityTimeout": str(SHORT_VISIBILITY)}
    )
    config = {
        "endpoint": stack.local.endpoint,
        "outputs": stack.outputs,
        "environment": SHORT_RUNS,
        "timeout": SHORT_TIMEOUT,
    }
    log = tmp_path / "worker.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER_PROCESS, json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        upload_id = stack.send(provider, BODY, tmp_path)
        # Killed once some rows are in the table, while a run holds the upload.
        deadline = time.monotonic() + REPORT_TIMEOUT
        while stack.count(provider) < FILE_ROWS // 10 or not stack.ledger(provider, upload_id).get(
            "lease_owner"
        ):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the worker process never got going"
            time.sleep(0.02)
        process.kill()
        process.wait(timeout=10)
        killed_at = time.time()

        written = stack.count(provider)
        held = stack.ledger(provider, upload_id)
        assert 0 < written < len(clean.items), "the kill was meant to land mid-file"
        assert stack.read(f"{provider}/reports/{upload_id}.json") is None
        assert held["status"] == "processing"

        # A fresh worker: the killed run's message comes back once the queue's visibility
        # timeout is over, and the upload is taken over once the killed run's lease is.
        run_worker(environment=SHORT_RUNS, timeout_seconds=SHORT_TIMEOUT)
        owner, taken_over = held.get("lease_owner"), None
        while taken_over is None:
            now = stack.ledger(provider, upload_id)
            if now.get("lease_owner") != owner or now.get("status") in FINISHED:
                taken_over = time.time()
            assert time.time() < killed_at + REPORT_TIMEOUT, "the upload was never taken over"
            time.sleep(0.02)
        assert_ends_as_clean_run(stack, clean, provider, upload_id)
        if owner is not None:  # the kill did not land between a continuation and its release
            assert taken_over * 1000 >= int(held["lease_until"]), "taken while still leased"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        stack.sqs.set_queue_attributes(QueueUrl=queue, Attributes=before["Attributes"])


# --------------------------------------------------------------------------- duplicate events


def test_the_same_s3_event_delivered_three_times_ingests_the_file_once(
    stack: Stack,
    clean: Outcome,
    run_worker: Callable[..., QueueWorker],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = "delivered-thrice"
    queue = stack.outputs["QueueUrl"]
    upload_id = stack.send(provider, BODY, tmp_path)  # no worker runs yet
    (event,) = stack.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    assert upload_id in event["Body"]
    stack.sqs.delete_message(QueueUrl=queue, ReceiptHandle=event["ReceiptHandle"])
    caplog.set_level(logging.INFO, logger="ingest")
    caplog.clear()

    # Two copies at once, to three invocations side by side, with runs so short that the
    # file takes two; the third copy once rows are in the table.
    for _copy in range(2):
        stack.sqs.send_message(QueueUrl=queue, MessageBody=event["Body"])
    run_worker(environment=SHORT_RUNS, timeout_seconds=SHORT_TIMEOUT, concurrency=3)
    deadline = time.monotonic() + REPORT_TIMEOUT
    while stack.count(provider) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    stack.sqs.send_message(QueueUrl=queue, MessageBody=event["Body"])

    assert_ends_as_clean_run(stack, clean, provider, upload_id)
    events = [json.loads(record.getMessage())["event"] for record in caplog.records]
    assert events.count("upload_partial") == 1  # one run finished the file
    assert events.count("upload_continued") >= 1, "the file was meant to take several runs"
    assert events.count("upload_busy") + events.count("already_ingested") >= 2

    # A fourth copy after the report changes nothing, not even ingested_at.
    report = stack.read(f"{provider}/reports/{upload_id}.json")
    items = stack.items(provider)
    stack.sqs.send_message(QueueUrl=queue, MessageBody=event["Body"])
    time.sleep(0.5)
    stack.settled(provider, upload_id)
    assert stack.read(f"{provider}/reports/{upload_id}.json") == report
    assert stack.items(provider) == items
    assert stack.depth("DeadLetterQueueUrl") == 0


# --------------------------------------------------------------------------- S3 reads


class FailingGets(Passthrough):
    """get_object of one provider's uploads fails the first `failures` times, as S3 does
    when it is slow and botocore's own retries have run out."""

    def __init__(self, real: Any, provider: str, failures: int) -> None:
        super().__init__(real)
        self.prefix, self.left, self.failed = f"{provider}/uploads/", failures, 0

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["Key"].startswith(self.prefix):
            with self._lock:
                fail = self.left > 0
                self.left -= fail
                self.failed += fail
            if fail:
                raise client_error("SlowDown", "GetObject")
        return self._real.get_object(**kwargs)


class BreakingUploads(BreakingS3):
    """BreakingS3 for one provider's upload, whose key the server chooses."""

    def __init__(self, real: Any, provider: str, **kwargs: Any) -> None:
        super().__init__(real, **kwargs)
        self.prefix = f"{provider}/uploads/"

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["Key"].startswith(self.prefix):
            self.key = kwargs["Key"]
        return super().get_object(**kwargs)


@pytest.mark.parametrize("fault", ["get-fails", "stream-breaks"])
def test_reading_the_file_failing_twice_then_working_ends_as_a_clean_run(
    stack: Stack,
    clean: Outcome,
    run_worker: Callable[..., QueueWorker],
    tmp_path: Path,
    fault: str,
) -> None:
    provider = f"flaky-{fault}"
    made: list[Any] = []

    def flaky(client: Any) -> Any:
        if fault == "get-fails":  # each failure fails the message: the queue retries it
            made.append(FailingGets(client, provider, failures=2))
        else:  # the stream breaks partway, and again where it is reopened: read on from there
            reset = ConnectionResetError(104, "Connection reset by peer")
            made.append(
                BreakingUploads(
                    client,
                    provider,
                    error=reset,
                    broken_reads={2, 3},
                    good_bytes=12_000,
                    reopened_good_bytes=10_000,
                )
            )
        return made[-1]

    worker = run_worker(wrap_client=only_for("s3", flaky))

    upload_id = stack.send(provider, BODY, tmp_path)

    assert_ends_as_clean_run(stack, clean, provider, upload_id)
    (s3,) = made
    if fault == "get-fails":
        assert s3.failed == 2 and worker.failures == 2
    else:
        assert s3.broken == 2 and worker.failures == 0
        assert s3.ranges == ["bytes=12000-", "bytes=22000-"]


# --------------------------------------------------------------------------- the report


class FailingReportPut(Passthrough):
    """put_object of one provider's report fails once."""

    def __init__(self, real: Any, provider: str) -> None:
        super().__init__(real)
        self.prefix, self.failed = f"{provider}/reports/", 0

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["Key"].startswith(self.prefix) and not self.failed:
            self.failed += 1
            raise client_error("InternalError", "PutObject")
        return self._real.put_object(**kwargs)


def test_the_report_failing_to_be_written_once_is_written_by_the_retry(
    stack: Stack, clean: Outcome, run_worker: Callable[..., QueueWorker], tmp_path: Path
) -> None:
    provider = "report-fails"
    made: list[FailingReportPut] = []

    def failing(client: Any) -> FailingReportPut:
        made.append(FailingReportPut(client, provider))
        return made[-1]

    worker = run_worker(wrap_client=only_for("s3", failing))

    upload_id = stack.send(provider, BODY, tmp_path)

    assert_ends_as_clean_run(stack, clean, provider, upload_id)
    assert made[0].failed == 1 and worker.failures == 1


class FailingRejectsDelete(Passthrough):
    """delete_object of one provider's saved rejects (checkpoints/<id>.g<n>.rejects) fails
    once: the run dies cleaning up, after its report is written."""

    def __init__(self, real: Any, provider: str) -> None:
        super().__init__(real)
        self.prefix, self.failed = f"{provider}/checkpoints/", 0

    def delete_object(self, **kwargs: Any) -> dict[str, Any]:
        key = kwargs["Key"]
        if key.startswith(self.prefix) and key.endswith(".rejects") and not self.failed:
            self.failed += 1
            raise client_error("InternalError", "DeleteObject")
        return self._real.delete_object(**kwargs)


def test_a_run_dying_after_its_report_leaves_no_checkpoint_behind(
    stack: Stack, clean: Outcome, run_worker: Callable[..., QueueWorker], tmp_path: Path
) -> None:
    provider = "dies-cleaning-up"
    made: list[FailingRejectsDelete] = []

    def failing(client: Any) -> FailingRejectsDelete:
        made.append(FailingRejectsDelete(client, provider))
        return made[-1]

    worker = run_worker(
        environment=SHORT_RUNS,
        timeout_seconds=SHORT_TIMEOUT,
        wrap_client=only_for("s3", failing),
    )

    upload_id = stack.send(provider, BODY, tmp_path)

    report = stack.report(provider, upload_id)
    stack.settled(provider, upload_id)
    assert made[0].failed == 1 and worker.failures == 1
    rejects = stack.read(f"{provider}/rejects/{upload_id}.csv")
    assert outcome(stack.items(provider), rejects, report) == clean
    assert stack.depth("DeadLetterQueueUrl") == 0
    assert stack.keys(f"{provider}/checkpoints/") == []


def test_the_local_worker_gives_each_invocation_the_functions_connection_pool(
    run_worker: Callable[..., QueueWorker],
) -> None:
    """Invocations side by side share the worker's clients: with the default pool of 10, four
    of them at 4 writers each dropped connections ("Connection pool is full") under load."""
    worker = run_worker(concurrency=3)
    ingestor = worker.handler.__self__
    settings = ingestor.settings
    for client in (ingestor.s3, ingestor.dynamodb, ingestor.sqs):
        assert client.meta.config.max_pool_connections == pool_size(settings) * 3
