"""The ingest Lambda when things go wrong, and files that need more than one run.

Faults are injected by wrapping moto's real clients in tiny classes that fail some calls
(throttling, unprocessed items, a broken response stream, a non-retryable error; those the
local-stack tests use too are in tests/support/faults.py): the code under test is never
mocked. Each faulty ingest is compared with a clean ingest of the same file: the same items,
the same report (times of day aside) and the same rejects CSV.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import urllib3.exceptions
from botocore.exceptions import ResponseStreamingError

from ingestcli.core.clock import epoch_ms
from ingestcli.core.layout import parse_upload_key
from ingestcli.core.ledger import UploadLedger
from ingestcli.lambdas.ingest.s3_reader import REOPEN_ATTEMPTS
from support.faults import BreakingS3, Passthrough, client_error
from support.harness import Harness, ingest_once, make_harness
from support.ingest_events import FakeContext, csv_bytes, lambda_event, s3_event_body, sqs_record
from support.ingest_results import Snapshot, assert_counts_add_up, comparable, ticking_clock
from support.names import (
    BUCKET,
    CHECKPOINTS,
    KEY,
    PROVIDER,
    REJECTS_KEY,
    REPORT_KEY,
    UPLOAD_ID,
    UPLOADS,
)


@pytest.fixture
def env(clients: Any, monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness = make_harness(clients)
    harness.clock = ticking_clock()
    return harness


# --------------------------------------------------------------------------- fault injection


class ThrottledDynamoDB(Passthrough):
    """BatchWriteItem throttled for the first calls, then answering with half of each
    batch unprocessed for a while, then behaving."""

    def __init__(self, real: Any, throttled: int = 3, partial: int = 3) -> None:
        super().__init__(real)
        self.throttled, self.partial = throttled, partial
        self.calls = self.throttles = self.left_unprocessed = 0

    def batch_write_item(self, RequestItems: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            call = self.calls
        if call <= self.throttled:
            self.throttles += 1
            raise client_error("ProvisionedThroughputExceededException")
        if call <= self.throttled + self.partial:
            ((table, requests),) = RequestItems.items()
            done, left = requests[: len(requests) // 2], requests[len(requests) // 2 :]
            if done:
                self._real.batch_write_item(RequestItems={table: done}, **kwargs)
            self.left_unprocessed += len(left)
            return {"UnprocessedItems": {table: left} if left else {}}
        return self._real.batch_write_item(RequestItems=RequestItems, **kwargs)


class CrashingDynamoDB(Passthrough):
    """A non-retryable error on the BatchWriteItem call after `after_batches` calls, once,
    or on every call when `every_time`."""

    def __init__(self, real: Any, after_batches: int = 0, every_time: bool = False) -> None:
        super().__init__(real)
        self.after_batches, self.every_time = after_batches, every_time
        self.calls = self.crashes = 0

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            crash = self.calls > self.after_batches and (self.every_time or not self.crashes)
            if crash:
                self.crashes += 1
        if crash:
            raise client_error("AccessDeniedException")
        return self._real.batch_write_item(**kwargs)


def big_body(rows: int = 300) -> bytes:
    """Some 17 KB: a few of the reads a broken stream can stop, rows to refuse, duplicates."""
    records = [
        [f"P{n:05d}", f"2024-03-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z", "x" * 20]
        for n in range(rows)
    ]
    for n in range(7, rows, 41):
        records[n][0] = f"BAD#{n}"
    for n in range(13, rows, 67):
        records[n] = [records[n - 1][0], records[n - 1][1], "a duplicate: wins"]
    return csv_bytes(records)


def clean_run(env: Harness, body: bytes) -> Snapshot:
    """Ingest `body` with nothing going wrong, keep what it gave, and start afresh."""
    env.upload(body)
    assert ingest_once(env) == {"batchItemFailures": []}
    clean = env.snapshot()
    assert clean.report is not None
    env.reset()
    return clean


# --------------------------------------------------------------------------- throttling


def test_throttling_and_unprocessed_items_delay_writes_but_lose_none(env: Harness) -> None:
    body = big_body()
    clean = clean_run(env, body)
    dynamodb = ThrottledDynamoDB(env.dynamodb)

    env.send(s3_event_body(KEY))
    answers = env.drain(env.ingestor(dynamodb=dynamodb, writers=2))

    assert answers == [{"batchItemFailures": []}]
    assert dynamodb.throttles == 3 and dynamodb.left_unprocessed > 0  # the faults happened
    assert comparable(env.snapshot()) == comparable(clean)
    report = env.report()
    assert_counts_add_up(report)
    assert report["written"] == env.count()


# --------------------------------------------------------------------------- broken streams


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ConnectionResetError(104, "Connection reset by peer"), id="reset"),
        pytest.param(
            urllib3.exceptions.ProtocolError(
                "Connection broken", ConnectionResetError(104, "Connection reset by peer")
            ),
            id="urllib3-protocol",
        ),
        pytest.param(
            ResponseStreamingError(error=urllib3.exceptions.ProtocolError("Connection broken")),
            id="botocore-streaming",
        ),
    ],
)
def test_a_connection_lost_while_reading_the_file_is_picked_up_at_the_byte_it_broke(
    env: Harness, error: Exception
) -> None:
    body = big_body()
    clean = clean_run(env, body)
    env.upload(body)
    s3 = BreakingS3(env.s3, error, broken_reads={2}, good_bytes=4096)
    ingestor = env.ingestor(s3=s3)
    env.send(s3_event_body(KEY))

    assert env.drain(ingestor) == [{"batchItemFailures": []}]

    assert s3.broken == 1
    assert s3.ranges == ["bytes=4096-"]  # the same object, from where the stream broke
    assert comparable(env.snapshot()) == comparable(clean)  # nothing lost, nothing doubled
    assert env.keys(CHECKPOINTS) == []


def test_a_connection_that_keeps_breaking_fails_the_message_and_a_retry_finishes(
    env: Harness,
) -> None:
    body = big_body()
    clean = clean_run(env, body)
    env.upload(body)
    reset = ConnectionResetError(104, "reset")
    attempt = set(range(2, 2 + REOPEN_ATTEMPTS + 1))  # the stream and each time it is reopened
    s3 = BreakingS3(env.s3, reset, broken_reads=attempt, good_bytes=4096, reopened_good_bytes=0)
    ingestor = env.ingestor(s3=s3)
    message_id = env.send(s3_event_body(KEY))

    first = env.deliver_next(ingestor)

    assert first == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert s3.broken == REOPEN_ATTEMPTS + 1
    assert 0 < env.count() < len(clean.items), "the break was expected partway"
    assert env.report() is None  # not final: the retry will tell
    assert env.ledger()["status"] == "processing" and "lease_owner" not in env.ledger()

    assert env.drain(ingestor) == [{"batchItemFailures": []}]
    assert comparable(env.snapshot()) == comparable(clean)  # nothing lost, nothing doubled
    assert env.keys(CHECKPOINTS) == []


# --------------------------------------------------------------------------- crashes


def test_a_crash_halfway_then_a_redelivery_ends_as_a_clean_run(env: Harness) -> None:
    body = big_body()
    clean = clean_run(env, body)
    env.upload(body)
    dynamodb = CrashingDynamoDB(env.dynamodb, after_batches=4)
    ingestor = env.ingestor(dynamodb=dynamodb)
    message_id = env.send(s3_event_body(KEY))

    assert env.deliver_next(ingestor) == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert dynamodb.crashes == 1
    assert 0 < env.count() < len(clean.items)
    assert env.report() is None

    assert env.drain(ingestor) == [{"batchItemFailures": []}]
    assert comparable(env.snapshot()) == comparable(clean)
    assert env.keys() == sorted([KEY, REPORT_KEY, REJECTS_KEY])


def test_on_the_last_attempt_a_failing_file_gets_a_failed_report_before_the_dead_letter_queue(
    env: Harness,
) -> None:
    env.upload(big_body(100))
    ingestor = env.ingestor(dynamodb=CrashingDynamoDB(env.dynamodb, every_time=True))
    message_id = env.send(s3_event_body(KEY))
    failed = {"batchItemFailures": [{"itemIdentifier": message_id}]}

    for _attempt in range(1, env.max_receive_count):
        assert env.deliver_next(ingestor) == failed
        assert env.report() is None  # a retry may still succeed: no verdict yet
    assert env.deliver_next(ingestor) == failed  # the last attempt still fails the message

    report = env.report()
    assert_counts_add_up(report)
    assert report["status"] == "failed"
    assert report["errors"][0]["code"] == "processing_failed"
    assert report["errors"][0]["message"]
    assert env.items() == []
    assert env.keys(CHECKPOINTS) == []
    assert env.deliver_next(ingestor) is None  # moved to the dead-letter queue
    (dead,) = env.queued(env.dlq_url)
    assert dead["MessageId"] == message_id


def test_the_last_attempt_report_counts_the_rows_the_failed_runs_wrote(env: Harness) -> None:
    env.upload(big_body())
    # The SHA-256 check reads the file whole; every read of the stream after it breaks after
    # 4 KB, and every attempt to reopen it at once.
    reset = ConnectionResetError(104, "reset")
    s3 = BreakingS3(env.s3, reset, set(range(2, 99)), 4096, reopened_good_bytes=0)
    ingestor = env.ingestor(s3=s3)
    env.send(s3_event_body(KEY))

    answers = env.drain(ingestor)

    assert len(answers) == env.max_receive_count
    report = env.report()
    assert report["status"] == "failed"
    assert env.count() > 0
    assert report["written"] == env.count()


# --------------------------------------------------------------------------- logs

SECRETS = ("QZXW", "1987-06", "1987-13", "04:03", "05:03", "VIOLET", "HERON")
SECRET_FILE = (
    b"medical_record_number,date_time,note\n"
    b"QZXW7731,1987-06-05T04:03:02Z,VIOLET-HERON\n"
    b"QZXW7731,1987-06-05T05:03:02+01:00,VIOLET-HERON again\n"
    b"QZXW#88,1987-06-05T04:03:02Z,VIOLET bad MRN\n"
    b"QZXW7732,1987-13-45T04:03:02Z,VIOLET bad date\n"
    b"QZXW7733,1987-06-05T04:03:02Z,VIOLET-H\xe9RON\n"
    b"QZXW7734,1987-06-05T04:03:02Z\n"
    b'QZXW7735,1987-06-05T04:03:02Z,"VIOLET"HERON\n'
    + b"".join(b"QZXW8%03d,1987-06-05T04:03:02Z,VIOLET-HERON\n" % n for n in range(12))
)


def exception_texts(error: BaseException | None) -> list[str]:
    """What an exception and those chained to it say, every way they can be shown."""
    texts = []
    while error is not None:
        texts += [str(error), repr(error), *map(repr, error.args)]
        error = error.__cause__ or error.__context__
    return texts


def test_logs_and_exceptions_hold_ids_and_codes_never_a_value_from_the_file(
    env: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    env.defaults["time_check_every_rows"] = 3
    texts: list[str] = []
    # A file ingested over several runs, then delivered again.
    env.upload(SECRET_FILE)
    env.send(s3_event_body(KEY))
    env.drain(env.ingestor(), lambda: FakeContext(answers_before_low=2))
    env.send(s3_event_body(KEY))
    env.drain(env.ingestor())
    report = env.report()
    assert (report["status"], report["rejected"], report["duplicates"]) == ("partial", 5, 1)
    texts += [error["message"] for error in report["errors"]]
    # A file whose writes fail, retried and then given up on; one whose stream breaks.
    for upload_id, dynamodb, s3 in (
        ("01J9ZQ4D3M7T2V8X6Y5W1K0PAC", CrashingDynamoDB(env.dynamodb, every_time=True), None),
        (
            "01J9ZQ4D3M7T2V8X6Y5W1K0PAD",
            None,
            BreakingS3(env.s3, OSError(), set(range(2, 99)), 60, 0),
        ),
    ):
        key = f"{PROVIDER}/uploads/2024/03/01/{upload_id}.csv"
        env.upload(SECRET_FILE, key=key)
        if s3 is not None:
            s3.key = key
        ingestor = env.ingestor(dynamodb=dynamodb, s3=s3)
        with pytest.raises(Exception) as caught:
            ingestor.handle_message(sqs_record(s3_event_body(key)), FakeContext())
        texts += exception_texts(caught.value)
        last = sqs_record(s3_event_body(key), "m-last", receives=env.max_receive_count)
        assert ingestor.handle_batch(lambda_event(last), FakeContext())["batchItemFailures"]
        failed = env.report(f"{PROVIDER}/reports/{upload_id}.json")
        texts += [error["message"] for error in failed["errors"]]

    events = []
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args)]
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
        if record.name == "ingest":
            line = json.loads(record.getMessage())
            assert isinstance(line, dict) and isinstance(line["event"], str)
            events.append(line["event"])
    assert {"upload_continued", "upload_partial", "already_ingested", "message_failed"} <= set(
        events
    )
    leaks = [text for text in texts for secret in SECRETS if secret in text]
    assert leaks == []


# --------------------------------------------------------------------------- large files


def large_file_rows() -> list[list[str]]:
    """Sixty records with refused rows, duplicates and a quoted newline spread over them, so
    that runs of a dozen records each split them between runs."""
    rows = [[f"M{n:03d}", f"2024-03-01T10:{n % 60:02d}:00Z", f"row {n}"] for n in range(60)]
    rows[1] = ["K1", "2024-03-01T10:00:00Z", "K1 first"]
    rows[5] = ["BAD#5", "2024-03-01T10:00:00Z", "refused in run 1"]
    rows[11] = ["K2", "2024-03-01T12:00:00Z", "K2 first"]
    rows[12] = ["K2", "2024-03-01T13:00:00+01:00", "K2 second, next to a run boundary"]
    rows[20] = ["M020", "2024-02-30T10:00:00Z", "refused in run 2"]
    rows[27] = ["K1", "2024-03-01T05:00:00-05:00", "K1 second"]
    rows[33] = ["M033", "2024-03-01T10:33:00Z", "a note\nover two lines"]
    rows[40] = ["M040", "not a date", "refused in run 4"]
    rows[50] = ["K1", "2024-03-01T11:00:00+01:00", "K1 third: wins"]
    rows[58] = ["", "2024-03-01T10:00:00Z", "refused near the end"]
    return rows


def test_a_file_too_large_for_one_run_continues_through_the_queue_to_the_same_result(
    env: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.defaults["time_check_every_rows"] = 4
    body = csv_bytes(large_file_rows())
    body = body.replace(b"row 44", b"r\xf6w 44")  # a latin-1 byte, refused in run 4
    env.upload(body)
    settings = {"margin_ms": 60_000, "writers": 2}

    # One run with time to spare: the result to compare with.
    env.send(s3_event_body(KEY))
    assert env.drain(env.ingestor(**settings)) == [{"batchItemFailures": []}]
    single = env.snapshot()
    single_report = json.loads(single.report)
    assert (single_report["rejected"], single_report["duplicates"]) == (5, 3)
    assert single_report["written"] == 52
    env.reset()

    # Runs that each have time for a dozen records (two time checks pass, the third stops).
    seen: list[int] = []

    def short_context() -> FakeContext:
        seen.append(env.count())
        return FakeContext(answers_before_low=3)

    env.send(s3_event_body(KEY))
    answers = env.drain(env.ingestor(**settings), short_context)

    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert len(answers) >= 5, "the file was expected to need several runs"
    assert 0 < seen[2] < len(single.items), "rows are written as runs go"
    assert comparable(env.snapshot()) == comparable(single)
    assert env.snapshot().rejects == single.rejects  # parts of several runs, in line order
    assert env.keys(CHECKPOINTS) == []
    assert env.keys() == sorted([KEY, REPORT_KEY, REJECTS_KEY])
    assert env.queued() == []


def test_a_continued_upload_delivered_again_mid_way_still_ends_as_one_run_would(
    env: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 may send its event twice: a second copy arriving while the file is being continued
    must neither restart it nor double a count."""
    env.defaults["time_check_every_rows"] = 4
    env.upload(csv_bytes(large_file_rows()))
    ingest_once(env)
    single = env.snapshot()
    env.reset()

    ingestor = env.ingestor()
    event = lambda_event(sqs_record(s3_event_body(KEY), "m-s3"))
    assert ingestor.handle_batch(event, FakeContext(answers_before_low=3)) == {
        "batchItemFailures": []
    }
    again = lambda_event(sqs_record(s3_event_body(KEY), "m-s3-copy"))
    assert ingestor.handle_batch(again, FakeContext(answers_before_low=3)) == {
        "batchItemFailures": []
    }
    env.drain(ingestor, lambda: FakeContext(answers_before_low=3))

    assert comparable(env.snapshot()) == comparable(single)
    assert env.keys() == sorted([KEY, REPORT_KEY, REJECTS_KEY])


def test_a_crash_in_a_continuation_run_then_a_redelivery_ends_as_one_run_would(
    env: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.defaults["time_check_every_rows"] = 4
    body = csv_bytes(large_file_rows()).replace(b"row 44", b"r\xf6w 44")
    clean = clean_run(env, body)
    env.upload(body)
    dynamodb = CrashingDynamoDB(env.dynamodb, after_batches=3)  # one batch a run: run 4

    env.send(s3_event_body(KEY))
    answers = env.drain(
        env.ingestor(dynamodb=dynamodb, writers=1), lambda: FakeContext(answers_before_low=3)
    )

    assert dynamodb.crashes == 1
    assert [bool(answer["batchItemFailures"]) for answer in answers[:5]] == [0, 0, 0, 1, 0]
    assert comparable(env.snapshot()) == comparable(clean)
    assert env.keys() == sorted([KEY, REPORT_KEY, REJECTS_KEY])


def test_a_provider_revoked_between_runs_stops_the_upload_with_a_true_report(
    env: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.defaults["time_check_every_rows"] = 4
    env.upload(csv_bytes(large_file_rows()))
    ingestor = env.ingestor()
    env.send(s3_event_body(KEY))
    assert env.deliver_next(ingestor, FakeContext(answers_before_low=3)) == {
        "batchItemFailures": []
    }
    written_before = env.count()
    env.add_provider(PROVIDER, status="revoked")

    assert env.drain(ingestor, lambda: FakeContext(answers_before_low=3)) == [
        {"batchItemFailures": []}
    ]

    assert env.count() == written_before  # nothing more once revoked
    report = env.report()
    assert_counts_add_up(report)
    assert report["status"] == "failed"
    assert report["errors"][0]["code"] == "provider_inactive"
    assert report["written"] == written_before
    assert env.keys() == sorted([KEY, REPORT_KEY])


class MeddlingContext(FakeContext):
    """The first time the run asks for its time after taking the upload's lease, `meddle`
    runs first: another invocation that handles a copy of the message from start to finish
    while this one is halfway."""

    def __init__(self, answers_before_low: int, meddle: Callable[[], object]) -> None:
        super().__init__(answers_before_low)
        self.meddle: Callable[[], object] | None = meddle

    def get_remaining_time_in_millis(self) -> int:
        if self.meddle is not None and self.asked == 1:  # the first ask sets the lease
            meddle, self.meddle = self.meddle, None
            meddle()
        return super().get_remaining_time_in_millis()


def test_an_upload_ingested_twice_at_once_leaves_one_result_and_no_checkpoint(
    env: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.defaults["time_check_every_rows"] = 4
    body = csv_bytes(large_file_rows())
    clean = clean_run(env, body)
    env.upload(body)
    ingestor = env.ingestor()
    copy = lambda_event(sqs_record(s3_event_body(KEY), "m-copy"))
    contexts = iter(
        [MeddlingContext(3, lambda: ingestor.handle_batch(copy, FakeContext()))]
        + [FakeContext(answers_before_low=3) for _ in range(20)]
    )

    env.send(s3_event_body(KEY))
    answers = env.drain(ingestor, lambda: next(contexts))

    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert comparable(env.snapshot()) == comparable(clean)
    assert env.keys() == sorted([KEY, REPORT_KEY, REJECTS_KEY])


# --------------------------------------------------------------------------- many runs


class LambdaTimedOut(Exception):
    """The runtime ending an invocation that ran out of time."""


class RunClock(FakeContext):
    """A run's clock that moves with the bytes of the upload the run parses: the context's
    remaining time, and a timeout when the run reads past its budget."""

    MS_PER_BYTE = 100

    def __init__(self, budget_bytes: int, free_reads: int) -> None:
        super().__init__()
        self.budget_bytes, self.free_reads, self.used = budget_bytes, free_reads, 0

    def get_remaining_time_in_millis(self) -> int:
        return (self.budget_bytes - self.used) * self.MS_PER_BYTE

    def charge(self, size: int) -> None:
        self.used += size
        if self.used > self.budget_bytes:
            raise LambdaTimedOut()


class MeteredBody:
    """A body read in small pieces, as a network stream may be, each charged to a clock."""

    def __init__(self, body: Any, clock: RunClock | None) -> None:
        self._body, self._clock = body, clock

    def read(self, amt: int | None = None) -> bytes:
        data = self._body.read(128 if amt is None else min(amt, 128))
        if self._clock is not None:
            self._clock.charge(len(data))
        return data

    def close(self) -> None:
        self._body.close()


class MeteredS3(Passthrough):
    """Reads of the upload charged to the current run's clock; the read that checks a new
    upload's SHA-256 is free (hashing costs little beside parsing)."""

    clock: RunClock

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        answer = self._real.get_object(**kwargs)
        if kwargs["Key"] == KEY:
            free = self.clock.free_reads > 0
            self.clock.free_reads -= free
            answer["Body"] = MeteredBody(answer["Body"], None if free else self.clock)
        return answer


def test_a_file_many_runs_long_completes_when_each_run_has_the_same_time(
    env: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.defaults["time_check_every_rows"] = 3
    rows = [[f"R{n:04d}", f"2024-03-01T10:00:{n % 60:02d}Z", f"n{n:04d}"] for n in range(240)]
    body = csv_bytes(rows)  # 240 rows of 34 bytes: 8 KB, some 4 runs' worth of parsing
    clean = clean_run(env, body)
    env.upload(body)
    s3 = MeteredS3(env.s3)

    def next_run() -> RunClock:
        s3.clock = RunClock(budget_bytes=2400, free_reads=0 if env.keys(CHECKPOINTS) else 1)
        return s3.clock

    env.send(s3_event_body(KEY))
    answers = env.drain(env.ingestor(s3=s3, margin_ms=600 * RunClock.MS_PER_BYTE), next_run)

    assert len(answers) >= 4, "the file was expected to need several runs"
    assert comparable(env.snapshot()) == comparable(clean)


def test_a_run_that_died_holding_the_lease_blocks_the_upload_only_until_the_lease_ends(
    env: Harness,
) -> None:
    body = big_body(40)
    clean = clean_run(env, body)
    env.upload(body)
    ledger = UploadLedger(env.dynamodb, UPLOADS)
    now = epoch_ms(env.clock())  # the ingestor's own clock
    assert ledger.acquire(PROVIDER, UPLOAD_ID, "killed-run", now, now + 60_000)
    ingestor = env.ingestor()

    assert ingestor.ingest(parse_upload_key(BUCKET, KEY), FakeContext()) == "busy"
    assert env.count() == 0 and env.report() is None

    ledger.release(PROVIDER, UPLOAD_ID, "someone-else")  # only the holder can release it
    assert env.ledger()["lease_owner"] == "killed-run"
    env.dynamodb.update_item(  # the minute passes
        TableName=UPLOADS,
        Key={"providerId": {"S": PROVIDER}, "uploadId": {"S": UPLOAD_ID}},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"N": str(now - 1)}},
    )
    env.send(s3_event_body(KEY))  # redelivered once the lease has run out
    assert env.drain(ingestor) == [{"batchItemFailures": []}]
    assert comparable(env.snapshot()) == comparable(clean)


class DyingS3(Passthrough):
    """S3 whose one chosen call (DeleteObject or PutObject of a key that ends with
    `suffix`) fails once, as a run killed at that point of saving a checkpoint would."""

    def __init__(self, real: Any, operation: str, suffix: str) -> None:
        super().__init__(real)
        self.operation, self.suffix, self.died = operation, suffix, False

    def _maybe_die(self, operation: str, key: str) -> None:
        if not self.died and operation == self.operation and key.endswith(self.suffix):
            self.died = True
            raise client_error("InternalError", operation)

    def delete_object(self, **kwargs: Any) -> Any:
        self._maybe_die("DeleteObject", kwargs["Key"])
        return self._real.delete_object(**kwargs)

    def put_object(self, **kwargs: Any) -> Any:
        self._maybe_die("PutObject", kwargs["Key"])
        return self._real.put_object(**kwargs)


@pytest.mark.parametrize(
    ("operation", "suffix"),
    [
        ("DeleteObject", ".g1.keys"),  # killed after its checkpoint, before the delete
        ("PutObject", ".json"),  # killed after its keys and rejects, before the checkpoint
    ],
)
def test_a_run_killed_while_saving_a_checkpoint_leaves_no_file_behind(
    env: Harness, operation: str, suffix: str
) -> None:
    """Checkpoint files hold rows as sent (the rejects): none may outlive the upload."""
    env.defaults["time_check_every_rows"] = 4
    body = csv_bytes(large_file_rows()).replace(b"row 44", b"r\xf6w 44")
    clean = clean_run(env, body)
    env.upload(body)
    s3 = DyingS3(env.s3, operation, suffix)

    env.send(s3_event_body(KEY))
    answers = env.drain(env.ingestor(s3=s3, writers=1), lambda: FakeContext(answers_before_low=3))

    assert s3.died
    assert any(answer["batchItemFailures"] for answer in answers)
    assert comparable(env.snapshot()) == comparable(clean)
    assert env.keys() == sorted([KEY, REPORT_KEY, REJECTS_KEY])
