"""ItemWriter: batches of 25, order per key, bounded queues, retries and failures.

botocore's Stubber scripts DynamoDB's answers where what matters is each call that was made;
where what matters is what the table ends with, moto holds it
(tests/integration/test_dynamo_writer_table.py). Sleeping is recorded, never done.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from ingestcli.lambdas.ingest.writer import ItemWriter, WriteFailed
from support.writer_items import SECRET, TABLE, Recorder, item


def put_request(value: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {"PutRequest": {"Item": value}}


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


def test_a_non_retryable_error_fails_without_quoting_a_value(stubbed: Any) -> None:
    # A ValidationException refuses items, not the file (tests/unit/test_writer_refusals.py).
    client, stubber = stubbed
    values = [item(SECRET, SECRET), item("b"), item("c")]
    expect_error(stubber, values, "AccessDeniedException", f"bad key {SECRET}")
    writer = ItemWriter(client, TABLE, writers=1, sleep=Recorder())
    for value in values:
        writer.put(value)
    with pytest.raises(WriteFailed) as failed:
        writer.flush()
    error = failed.value
    assert (error.code, error.table, error.items_not_written) == ("AccessDeniedException", TABLE, 3)
    assert str(error) == "3 items not written to table records: AccessDeniedException"
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
