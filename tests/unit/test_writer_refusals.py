"""ItemWriter and an item DynamoDB refuses: that item is handed back, the rest is written.

DynamoDB answers BatchWriteItem with a ValidationException for the whole call when one item
is bad (too large, a name it cannot store), naming none. A fake client plays that table
here, recording every put in the order it was stored; nothing leaves the process.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ingestcli.lambdas.ingest.writer import ItemWriter, Refused, WriteFailed
from support.writer_items import SECRET, TABLE, Recorder, item

POISON = "poison"  # a note the fake table refuses


def key_of(value: dict[str, dict[str, str]]) -> tuple[str, str]:
    return (value["providerId"]["S"], value["sortKey"]["S"])


class RefusingTable:
    """BatchWriteItem as DynamoDB answers it: refused whole (ValidationException, a message
    that quotes a value) if any item's note is POISON, else stored. Thread safe."""

    def __init__(self, unprocessed_first: int = 0) -> None:
        self.lock = threading.Lock()
        self.stored: dict[tuple[str, str], str] = {}
        self.history: list[tuple[tuple[str, str], str]] = []  # every put, in order
        self.calls: list[int] = []  # the size of every call
        self.unprocessed_first = unprocessed_first

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        requests = RequestItems[TABLE]
        with self.lock:
            self.calls.append(len(requests))
            if self.unprocessed_first and len(self.calls) == 1:  # the tail left unprocessed
                done, left = (
                    requests[: -self.unprocessed_first],
                    requests[-self.unprocessed_first :],
                )
                self._store(done)
                return {"UnprocessedItems": {TABLE: left}}
            if any(r["PutRequest"]["Item"]["note"]["S"] == POISON for r in requests):
                error = {"Code": "ValidationException", "Message": f"item too large: {SECRET}"}
                raise ClientError({"Error": error}, "BatchWriteItem")
            self._store(requests)
        return {}

    def _store(self, requests: list[dict[str, Any]]) -> None:
        for request in requests:
            value = request["PutRequest"]["Item"]
            self.stored[key_of(value)] = value["note"]["S"]
            self.history.append((key_of(value), value["note"]["S"]))


def test_a_refused_item_is_handed_back_with_its_tag_and_the_rest_of_its_batch_is_written() -> None:
    table = RefusingTable()
    values = [item(f"m{n}", POISON if n == 2 else f"v{n}") for n in range(5)]
    with ItemWriter(table, TABLE, writers=1, sleep=Recorder()) as writer:
        for n, value in enumerate(values):
            writer.put(value, tag=("line", n + 2))
        writer.flush()
        assert not writer.failed
        refused = writer.take_refused()
        assert refused == [Refused(key_of(values[2]), ("line", 4), "ValidationException")]
        assert writer.take_refused() == []  # handed back once
    assert (writer.written, writer.refused, writer.retries) == (4, 1, 0)
    assert table.calls == [5, 1, 1, 1, 1, 1]  # the batch, then each of its items alone
    assert sorted(table.stored) == sorted(key_of(v) for n, v in enumerate(values) if n != 2)
    assert SECRET not in repr(refused)


def test_a_refused_batch_of_one_is_not_sent_again() -> None:
    table = RefusingTable()
    with ItemWriter(table, TABLE, writers=1) as writer:
        writer.put(item("a", POISON), tag="only")
        writer.flush()
        assert [entry.tag for entry in writer.take_refused()] == ["only"]
    assert table.calls == [1]
    assert (writer.written, writer.refused) == (0, 1)


def test_items_left_unprocessed_then_refused_are_resent_one_at_a_time() -> None:
    table = RefusingTable(unprocessed_first=2)
    values = [item("a"), item("b"), item("c", POISON), item("d")]
    with ItemWriter(table, TABLE, writers=1, sleep=Recorder()) as writer:
        for value in values:
            writer.put(value, tag=value["medical_record_number"]["S"])
    assert [entry.tag for entry in writer.take_refused()] == ["c"]  # after close, still there
    assert table.calls == [4, 2, 1, 1]
    assert (writer.written, writer.refused, writer.retries) == (3, 1, 1)
    assert sorted(table.stored) == sorted(key_of(v) for v in values if v is not values[2])


def test_the_item_put_last_for_a_key_still_wins_when_an_earlier_batch_is_resent_singly() -> None:
    table = RefusingTable()
    first = [item(f"m{n}", POISON if n == 0 else "first") for n in range(25)]  # one batch
    again = [item(f"m{n}", "second") for n in range(25)]  # the same keys, the next batch
    with ItemWriter(table, TABLE, writers=1) as writer:
        for value in first + again:
            writer.put(value)
    assert set(table.stored.values()) == {"second"}
    for key in table.stored:  # every put of a key was stored in the order it was put
        notes = [note for stored_key, note in table.history if stored_key == key]
        assert notes[-1] == "second"
    assert (writer.written, writer.refused) == (49, 1)


def test_refusals_from_every_thread_reach_the_caller_and_nothing_else_is_lost() -> None:
    table = RefusingTable()
    poisoned = {17, 250, 251, 999}
    with ItemWriter(table, TABLE, writers=4, sleep=Recorder()) as writer:
        for n in range(1000):
            writer.put(item(f"m{n}", POISON if n in poisoned else "ok"), tag=n)
        writer.flush()
        assert sorted(entry.tag for entry in writer.take_refused()) == sorted(poisoned)
    assert (writer.written, writer.refused, writer.failed) == (996, 4, False)
    assert len(table.stored) == 996


def test_a_refusal_is_not_a_failure_but_another_error_still_fails_and_counts_the_rest() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        batch = [item("a", SECRET), item("b")]
        requests = [{"PutRequest": {"Item": value}} for value in batch]
        stubber.add_client_error(
            "batch_write_item",
            "ValidationException",
            f"bad item {SECRET}",
            400,
            expected_params={"RequestItems": {TABLE: requests}},
        )
        stubber.add_client_error(  # item a alone: refused for good
            "batch_write_item",
            "ValidationException",
            SECRET,
            400,
            expected_params={"RequestItems": {TABLE: requests[:1]}},
        )
        stubber.add_client_error(  # item b alone: a failure of another kind
            "batch_write_item",
            "AccessDeniedException",
            SECRET,
            400,
            expected_params={"RequestItems": {TABLE: requests[1:]}},
        )
        writer = ItemWriter(client, TABLE, writers=1, sleep=Recorder())
        for value in batch:
            writer.put(value)
        with pytest.raises(WriteFailed) as failed:
            writer.close()
        stubber.assert_no_pending_responses()
    assert (failed.value.code, failed.value.items_not_written) == ("AccessDeniedException", 1)
    assert writer.refused == 1
    assert SECRET not in str(failed.value) and SECRET not in repr(writer.take_refused())
