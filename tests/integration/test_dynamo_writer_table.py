"""ItemWriter on moto's DynamoDB, where what matters is what the table ends with: every item
lands, the last put of a key wins, order per key survives unprocessed items, a full queue
blocks, and a failure stops every writer. (Each call made, scripted with botocore's Stubber:
tests/unit/test_dynamo_writer.py.) Sleeping is recorded, never done.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ingestcli.lambdas.ingest.writer import BATCH_SIZE, ItemWriter, WriteFailed
from support.writer_items import SECRET, TABLE, Recorder, item


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


@pytest.fixture
def table(clients: Any) -> Any:
    create_table(clients.dynamodb)
    return clients.dynamodb


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
                raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "BatchWriteItem")
            return super().batch_write_item(RequestItems)

    writer = ItemWriter(Poisoned(table), TABLE, writers=2)
    accepted = 0
    with pytest.raises(WriteFailed) as failed:
        for n in range(2000):
            writer.put(item(f"m{n}", SECRET if n == 100 else "ok"))
            accepted += 1
        writer.flush()
    assert failed.value.code == "AccessDeniedException"  # a ValidationException refuses items
    assert accepted < 2000  # put raised once the failure was known
    assert writer.written + failed.value.items_not_written == accepted
    assert len(notes_in_table(table)) == writer.written
    with pytest.raises(WriteFailed):
        writer.close()
    assert not any(thread.is_alive() for thread in writer._threads)
