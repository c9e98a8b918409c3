"""ItemWriter: batches of 25, order per key, bounded queues, retries and failures.

moto holds the table where what matters is what the table ends with; botocore's Stubber
scripts DynamoDB's answers where what matters is each call that was made. Sleeping is
recorded, never done.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from ingestcli.lambdas.ingest.writer import BATCH_SIZE, ItemWriter, WriteFailed

TABLE = "records"
SECRET = "MRN-SECRET-4711"  # a value that must never reach a message


def item(mrn: str, note: str = "x", provider: str = "prov-a") -> dict[str, dict[str, str]]:
    return {
        "providerId": {"S": provider},
        "sortKey": {"S": f"{mrn}#2024-03-01T10:00:00.000000Z"},
        "medical_record_number": {"S": mrn},
        "note": {"S": note},
    }


def put_request(value: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {"PutRequest": {"Item": value}}


def create_table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "providerId", "KeyType": "HASH"},
            {"AttributeName": "sortKey", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "providerId", "AttributeType": "S"},
            {"AttributeName": "sortKey", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def notes_in_table(dynamodb: Any) -> dict[str, str]:
    """mrn -> note, for every item in the table."""
    notes: dict[str, str] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE):
        for found in page["Items"]:
            notes[found["medical_record_number"]["S"]] = found["note"]["S"]
    return notes


class CheckingClient:
    """The real moto client, seen through what a strict DynamoDB would refuse or do.

    Refuses a batch holding one key twice or more than 25 items (moto accepts both), can
    hold every call until `gate` is set, and can leave a share of each batch unprocessed.
    """

    def __init__(self, client: Any, *, gate: threading.Event | None = None, drop: float = 0.0):
        self.client = client
        self.gate = gate
        self.drop = drop
        self.random = random.Random(7)
        self.lock = threading.Lock()
        self.bad_batches = 0
        self.dropped = 0

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        requests = RequestItems[TABLE]
        keys = Counter(
            (r["PutRequest"]["Item"]["providerId"]["S"], r["PutRequest"]["Item"]["sortKey"]["S"])
            for r in requests
        )
        if len(requests) > BATCH_SIZE or max(keys.values()) > 1:
            with self.lock:
                self.bad_batches += 1
            raise ClientError({"Error": {"Code": "ValidationException"}}, "BatchWriteItem")
        with self.lock:
            held = [r for r in requests if self.random.random() < self.drop]
            self.dropped += len(held)
        sent = [r for r in requests if r not in held]
        if sent:
            self.client.batch_write_item(RequestItems={TABLE: sent})
        return {"UnprocessedItems": {TABLE: held} if held else {}}


class Recorder:
    """Stands in for time.sleep: remembers each delay, waits for none."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def table(clients: Any) -> Any:
    create_table(clients.dynamodb)
    return clients.dynamodb


@pytest.fixture
def stubbed() -> Any:
    """A real low-level client whose every answer the test scripts; nothing leaves the process."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_call(stubber: Stubber, sent: list[dict], response: dict | None = None) -> None:
    params = {"RequestItems": {TABLE: [put_request(value) for value in sent]}}
    stubber.add_response("batch_write_item", response or {}, params)


def expect_error(stubber: Stubber, sent: list[dict], code: str, message: str = "") -> None:
    params = {"RequestItems": {TABLE: [put_request(value) for value in sent]}}
    stubber.add_client_error("batch_write_item", code, message, 400, expected_params=params)


def unprocessed(*values: dict) -> dict[str, Any]:
    return {"UnprocessedItems": {TABLE: [put_request(value) for value in values]}}


# --- moto: what the table ends with ------------------------------------------------------


def test_thousand_items_over_four_writers_all_land(table: Any) -> None:
    client = CheckingClient(table)
    with ItemWriter(client, TABLE, writers=4) as writer:
        for n in range(1000):
            writer.put(item(f"m{n}", f"note {n}"))
        writer.flush()
        assert writer.written == 1000
    notes = notes_in_table(table)
    assert notes == {f"m{n}": f"note {n}" for n in range(1000)}
    assert client.bad_batches == 0
    assert 40 <= writer.batches < 60  # full batches, bar one partial batch a thread
    assert writer.retries == 0


def test_same_key_ends_with_the_last_item_put(table: Any) -> None:
    client = CheckingClient(table)
    with ItemWriter(client, TABLE, writers=4) as writer:
        for version in range(3):  # in a row: replaced within one batch
            writer.put(item("near", f"v{version}"))
        for version in range(3):  # far apart: one version in each of several batches
            writer.put(item("far", f"v{version}"))
            for n in range(200):
                writer.put(item(f"fill{version}-{n}"))
    notes = notes_in_table(table)
    assert (notes["near"], notes["far"]) == ("v2", "v2")
    assert len(notes) == 602
    assert writer.replaced == 2
    assert writer.written == 604  # 606 puts, 2 of them replaced before sending
    assert client.bad_batches == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_order_per_key_holds_when_items_come_back_unprocessed(table: Any, seed: int) -> None:
    client = CheckingClient(table, drop=0.3)
    client.random.seed(seed)
    hot = [f"hot{n}" for n in range(5)]
    with ItemWriter(client, TABLE, writers=4, max_attempts=30, sleep=Recorder()) as writer:
        for version in range(1, 51):
            for mrn in hot:
                writer.put(item(mrn, f"v{version}"))
            for n in range(7):
                writer.put(item(f"cold{version}-{n}"))
    notes = notes_in_table(table)
    assert {mrn: notes[mrn] for mrn in hot} == dict.fromkeys(hot, "v50")
    assert client.dropped > 100 and writer.retries > 10  # the retries were really exercised
    assert len(notes) == 5 + 50 * 7
    assert client.bad_batches == 0


def test_put_blocks_when_the_queue_is_full(table: Any) -> None:
    gate = threading.Event()
    writer = ItemWriter(CheckingClient(table, gate=gate), TABLE, writers=1, queue_batches=2)
    done = 0

    def produce() -> None:
        nonlocal done
        for n in range(150):
            writer.put(item(f"m{n}"))
            done += 1

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    # One batch in the call held at the gate, two queued, 24 items being batched: the put
    # of the 100th item completes a fourth batch and has to wait for room.
    deadline = time.monotonic() + 5
    while done < 99 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert producer.is_alive()
    assert done == 99
    gate.set()
    producer.join(10)
    writer.close()
    assert writer.written == 150
    assert len(notes_in_table(table)) == 150


def test_a_failure_stops_every_writer_and_counts_what_was_lost(table: Any) -> None:
    class Poisoned(CheckingClient):
        def batch_write_item(self, RequestItems: dict[str, list[dict]]) -> dict[str, Any]:
            if any(r["PutRequest"]["Item"]["note"]["S"] == SECRET for r in RequestItems[TABLE]):
                raise ClientError({"Error": {"Code": "ValidationException"}}, "BatchWriteItem")
            return super().batch_write_item(RequestItems)

    writer = ItemWriter(Poisoned(table), TABLE, writers=2)
    accepted = 0
    with pytest.raises(WriteFailed) as failed:
        for n in range(2000):
            writer.put(item(f"m{n}", SECRET if n == 100 else "ok"))
            accepted += 1
        writer.flush()
    assert failed.value.code == "ValidationException"
    assert accepted < 2000  # put raised once the failure was known
    assert writer.written + failed.value.items_not_written == accepted
    assert len(notes_in_table(table)) == writer.written
    with pytest.raises(WriteFailed):
        writer.close()
    assert not any(thread.is_alive() for thread in writer._threads)


# --- Stubber: each call made -------------------------------------------------------------


def test_unprocessed_items_are_resent_with_growing_delays(stubbed: Any) -> None:
    client, stubber = stubbed
    a, b, c = item("a"), item("b"), item("c")
    expect_call(stubber, [a, b, c], unprocessed(b, c))
    expect_call(stubber, [b, c], unprocessed(c))
    expect_call(stubber, [c], {"UnprocessedItems": {}})
    sleep = Recorder()
    with ItemWriter(client, TABLE, writers=1, sleep=sleep, jitter=lambda: 1.0) as writer:
        for value in (a, b, c):
            writer.put(value)
        writer.flush()
        assert (writer.written, writer.batches, writer.retries) == (3, 3, 2)
    assert sleep.delays == [0.05, 0.1]


def test_throttling_is_retried_with_full_jitter(stubbed: Any) -> None:
    client, stubber = stubbed
    values = [item(f"m{n}") for n in range(3)]
    for _ in range(2):
        expect_error(stubber, values, "ProvisionedThroughputExceededException")
    expect_call(stubber, values)
    sleep = Recorder()
    writer = ItemWriter(client, TABLE, writers=1, sleep=sleep, jitter=lambda: 0.5)
    for value in values:
        writer.put(value)
    writer.close()
    assert (writer.written, writer.batches, writer.retries) == (3, 3, 2)
    assert sleep.delays == [0.025, 0.05]


def test_a_connection_error_is_retried(stubbed: Any) -> None:
    client, stubber = stubbed

    class DropsFirstCall:
        calls = 0

        def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            if self.calls == 1:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
            return client.batch_write_item(**kwargs)

    expect_call(stubber, [item("a")])
    with ItemWriter(DropsFirstCall(), TABLE, writers=1, sleep=Recorder()) as writer:
        writer.put(item("a"))
    assert (writer.written, writer.retries) == (1, 1)


def test_a_key_put_again_replaces_its_item_in_place_in_the_batch(stubbed: Any) -> None:
    client, stubber = stubbed
    expect_call(stubber, [item("a", "v3"), item("b"), item("c")])
    with ItemWriter(client, TABLE, writers=1) as writer:
        for value in (item("a", "v1"), item("b"), item("a", "v2"), item("c"), item("a", "v3")):
            writer.put(value)
    assert (writer.written, writer.replaced, writer.batches) == (3, 2, 1)


def test_a_validation_error_fails_without_quoting_a_value(stubbed: Any) -> None:
    client, stubber = stubbed
    values = [item(SECRET, SECRET), item("b"), item("c")]
    expect_error(stubber, values, "ValidationException", f"bad key {SECRET}")
    writer = ItemWriter(client, TABLE, writers=1, sleep=Recorder())
    for value in values:
        writer.put(value)
    with pytest.raises(WriteFailed) as failed:
        writer.flush()
    error = failed.value
    assert (error.code, error.table, error.items_not_written) == ("ValidationException", TABLE, 3)
    assert str(error) == "3 items not written to table records: ValidationException"
    assert SECRET not in repr(error) and SECRET not in str(error.args)
    assert error.__cause__ is None and error.__context__ is None
    assert writer.batches == 1 and writer.retries == 0  # not retried
    with pytest.raises(WriteFailed):
        writer.put(item("d"))
    for _ in range(2):  # close stops the threads, and may be called again
        with pytest.raises(WriteFailed):
            writer.close()
    assert not any(thread.is_alive() for thread in writer._threads)


def test_a_request_botocore_refuses_fails_with_the_error_name_only() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    bad = item("a") | {"note": {"S": [SECRET]}}  # type: ignore[dict-item]
    writer = ItemWriter(client, TABLE, writers=1)
    writer.put(bad)
    with pytest.raises(WriteFailed) as failed:
        writer.close()
    assert failed.value.code == "ParamValidationError"
    assert SECRET not in str(failed.value)


def test_attempts_run_out_on_throttling(stubbed: Any) -> None:
    client, stubber = stubbed
    values = [item("a"), item("b")]
    for _ in range(4):
        expect_error(stubber, values, "ThrottlingException")
    sleep = Recorder()
    writer = ItemWriter(
        client, TABLE, writers=1, max_attempts=4, max_delay=0.1, sleep=sleep, jitter=lambda: 1.0
    )
    for value in values:
        writer.put(value)
    with pytest.raises(WriteFailed) as failed:
        writer.close()
    assert (failed.value.code, failed.value.items_not_written) == ("ThrottlingException", 2)
    assert sleep.delays == [0.05, 0.1, 0.1]  # capped at max_delay
    assert (writer.batches, writer.retries, writer.written) == (4, 3, 0)


def test_attempts_run_out_on_unprocessed_items(stubbed: Any) -> None:
    client, stubber = stubbed
    a, b, c = item("a"), item("b"), item("c")
    expect_call(stubber, [a, b, c], unprocessed(c))
    expect_call(stubber, [c], unprocessed(c))
    writer = ItemWriter(client, TABLE, writers=1, max_attempts=2, sleep=Recorder())
    for value in (a, b, c):
        writer.put(value)
    with pytest.raises(WriteFailed) as failed:
        writer.flush()
    assert (failed.value.code, failed.value.items_not_written) == ("UnprocessedItems", 1)
    assert writer.written == 2
    with pytest.raises(WriteFailed):
        writer.close()


# --- threads -----------------------------------------------------------------------------


def test_threads_are_named_daemons_that_stop_on_close(stubbed: Any) -> None:
    client, _ = stubbed
    writer = ItemWriter(client, TABLE, writers=3)
    assert [t.name for t in writer._threads] == [f"item-writer-{n}" for n in range(3)]
    assert all(t.daemon and t.is_alive() for t in writer._threads)
    writer.close()
    writer.close()
    assert not any(t.is_alive() for t in writer._threads)
    with pytest.raises(RuntimeError):
        writer.put(item("a"))


def test_leaving_with_an_error_writes_what_was_put_and_keeps_that_error(stubbed: Any) -> None:
    client, stubber = stubbed
    expect_error(stubber, [item("a")], "ValidationException")
    with pytest.raises(KeyError), ItemWriter(client, TABLE, writers=1) as writer:
        writer.put(item("a"))
        raise KeyError("the caller's own error")
    assert not any(t.is_alive() for t in writer._threads)


@pytest.mark.parametrize("option", ["writers", "max_attempts", "queue_batches"])
def test_counts_below_one_are_refused(option: str) -> None:
    with pytest.raises(ValueError):
        ItemWriter(object(), TABLE, **{option: 0})
