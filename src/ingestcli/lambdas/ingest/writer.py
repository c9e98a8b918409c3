"""Write low-level DynamoDB items with BatchWriteItem from a few threads, in order per key.

The ingest Lambda mostly waits on DynamoDB, so a few threads keep calls in flight. Every
item of one key goes to the same thread, and a thread finishes a batch (unprocessed items
included) before it sends the next one: the item put last for a key is the one the table
keeps, whatever the retries. An item DynamoDB refuses (a ValidationException: too large, a
name it cannot store) is that item's fate, not the file's: the thread that sent it finds it
by resending its batch one item at a time, and hands it back, with the tag it was put with,
through a locked list the caller drains (`take_refused`). Nothing here logs, or puts in an
exception, an attribute value (items hold patient data): only counts, the table name and
error codes leave it.
Standard library, botocore and the shared core only, as the Lambda runtime ships them.
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
import zlib
from collections.abc import Callable
from types import TracebackType
from typing import Any, NamedTuple, NoReturn

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from ingestcli.core.aws_errors import error_name
from ingestcli.core.backoff import backoff_delay

Item = dict[str, dict[str, str]]
Request = dict[str, Any]
Entry = tuple[Item, Any]  # an item and the caller's tag for it
BATCH_SIZE = 25  # BatchWriteItem's limit
KEY_ATTRIBUTES = ("providerId", "sortKey")
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
REFUSED_CODE = "ValidationException"  # DynamoDB's answer to an item it will never store


class Refused(NamedTuple):
    """An item DynamoDB refused: its key, the tag it was put with, and the error code (never
    the error's message, which may quote a value)."""

    key: tuple[str, str]
    tag: Any
    code: str


class WriteFailed(Exception):
    """Some items were not written; the caller retries the whole file, as puts are idempotent."""

    def __init__(self, code: str, table: str, items_not_written: int) -> None:
        super().__init__(code, table, items_not_written)
        self.code = code
        self.table = table
        self.items_not_written = items_not_written

    def __str__(self) -> str:
        return f"{self.items_not_written} items not written to table {self.table}: {self.code}"


class ItemWriter:
    """Writes items with BatchWriteItem, 25 a call, from `writers` threads.

    `put`, `flush`, `close` and `take_refused` belong to one caller thread; the counters may
    be read from any thread. After a failure nothing more is written (fail fast): the caller
    retries. A refused item is no failure: it is counted in `refused` and handed back.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        writers: int = 4,
        max_attempts: int = 10,
        base_delay: float = 0.05,
        max_delay: float = 5.0,
        queue_batches: int = 4,
        sleep: Callable[[float], object] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if min(writers, max_attempts, queue_batches) < 1:
            raise ValueError("writers, max_attempts and queue_batches must be at least 1")
        self.table_name = table_name
        self.written = 0  # items DynamoDB has acknowledged
        self.batches = 0  # BatchWriteItem calls made
        self.retries = 0  # calls resent after throttling or unprocessed items
        self.replaced = 0  # items superseded, before sending, by a later item with their key
        self.refused = 0  # items DynamoDB refused (each is handed back once by take_refused)
        self._refused: list[Refused] = []
        self._client = client
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._jitter = jitter
        self._accepted = 0
        self._failure: str | None = None
        self._closed = False
        self._lock = threading.Lock()
        # Dicts keep insertion order, and assigning to a present key keeps its place.
        self._building: list[dict[tuple[str, str], Entry]] = [{} for _ in range(writers)]
        self._queues: list[queue.Queue[list[Entry] | None]] = [
            queue.Queue(maxsize=queue_batches) for _ in range(writers)
        ]
        self._threads = [
            threading.Thread(target=self._run, args=(tasks,), name=f"item-writer-{n}", daemon=True)
            for n, tasks in enumerate(self._queues)
        ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> ItemWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close; leaving on an error still writes what was put, as puts are idempotent."""
        if exc_type is None:
            self.close()
            return
        with contextlib.suppress(WriteFailed):  # the error already raised is the one to see
            self.close()

    @property
    def failed(self) -> bool:
        """Whether some item put may not have been written."""
        return self._failure is not None

    def put(self, item: Item, tag: Any = None) -> None:
        """Add an item; blocks while its thread's queue is full, so memory stays bounded.
        `tag` comes back with the item if DynamoDB refuses it (the caller's note of its row)."""
        if self._closed:
            raise RuntimeError("the writer is closed")
        if self._failure is not None:
            self._raise_failure(self._failure)
        key = _key(item)
        index = zlib.crc32("\0".join(key).encode("utf-8", "surrogatepass")) % len(self._queues)
        batch = self._building[index]
        if key in batch:  # DynamoDB refuses a batch holding one key twice
            self.replaced += 1
        batch[key] = (item, tag)
        self._accepted += 1
        if len(batch) == BATCH_SIZE:
            self._send_building(index)

    def flush(self) -> None:
        """Return once every item put so far is acknowledged or refused; raise WriteFailed
        if not."""
        for index in range(len(self._building)):
            self._send_building(index)
        for tasks in self._queues:
            tasks.join()
        if self._failure is not None:
            self._raise_failure(self._failure)

    def take_refused(self) -> list[Refused]:
        """The items refused since the last call, in the order found; flush first to have
        every refusal of the items put so far."""
        with self._lock:
            taken, self._refused = self._refused, []
        return taken

    def close(self) -> None:
        """Flush, then stop the threads; safe to call again, and after a failure."""
        try:
            self.flush()
        finally:
            if not self._closed:
                self._closed = True
                for tasks in self._queues:
                    tasks.put(None)
                for thread in self._threads:
                    thread.join()

    def _send_building(self, index: int) -> None:
        batch = self._building[index]
        if batch:
            self._building[index] = {}
            self._queues[index].put(list(batch.values()))

    def _raise_failure(self, code: str) -> NoReturn:
        """Drop what is not sent, wait for the threads to go idle, and report what was lost."""
        self._building = [{} for _ in self._queues]
        for tasks in self._queues:
            tasks.join()
        with self._lock:
            not_written = self._accepted - self.written - self.replaced - self.refused
        raise WriteFailed(code, self.table_name, not_written)

    def _run(self, tasks: queue.Queue[list[Entry] | None]) -> None:
        while (batch := tasks.get()) is not None:
            try:
                if self._failure is None:
                    self._write(batch)
            except Exception as exc:  # a dead thread would hang flush(): remember, raise there
                self._fail(error_name(exc))
            finally:
                tasks.task_done()
        tasks.task_done()

    def _write(self, batch: list[Entry]) -> None:
        """Send one batch until all of it is acknowledged, so no later batch overtakes it.

        DynamoDB refuses a whole BatchWriteItem for one item it will not store, naming none:
        the items left are then sent one at a time, here, before this thread takes its next
        batch, so the refused ones are found and per-key order still holds (a batch holds a
        key once). moto may have stored some of the batch before refusing it: sending those
        again puts the same items, which changes nothing.
        """
        tags = {_key(item): tag for item, tag in batch}
        left = self._send([{"PutRequest": {"Item": item}} for item, _tag in batch])
        if len(left) == 1:  # already alone: no need to ask again
            self._refuse(left[0], tags)
            return
        for request in left:
            if self._failure is not None:  # another thread failed: stop writing
                return
            if self._send([request]):
                self._refuse(request, tags)

    def _send(self, requests: list[Request]) -> list[Request]:
        """Send until acknowledged, resending unprocessed items and throttled calls with
        backoff: [] then, or after a failure (recorded); the requests DynamoDB refused
        (ValidationException) as a whole call."""
        code = ""
        for attempt in range(self._max_attempts):
            if attempt:
                delay = backoff_delay(
                    attempt - 1, base=self._base_delay, cap=self._max_delay, jitter=self._jitter
                )
                self._sleep(delay)
                if self._failure is not None:  # another thread failed: stop writing
                    return []
                with self._lock:
                    self.retries += 1
            try:
                requests, code = self._call(requests)
            except ClientError as exc:
                if error_name(exc) != REFUSED_CODE:
                    raise
                return requests
            if not requests:
                return []
        self._fail(code)
        return []

    def _refuse(self, request: Request, tags: dict[tuple[str, str], Any]) -> None:
        key = _key(request["PutRequest"]["Item"])
        with self._lock:
            self.refused += 1
            self._refused.append(Refused(key, tags[key], REFUSED_CODE))

    def _call(self, requests: list[Request]) -> tuple[list[Request], str]:
        """One BatchWriteItem call: the requests left to resend, and why (an error code)."""
        with self._lock:
            self.batches += 1
        try:
            response = self._client.batch_write_item(RequestItems={self.table_name: requests})
        except ClientError as exc:
            code = error_name(exc)
            if code not in RETRYABLE_CODES:
                raise
            return requests, code
        except (BotocoreConnectionError, HTTPClientError) as exc:
            return requests, error_name(exc)
        unprocessed = (response.get("UnprocessedItems") or {}).get(self.table_name, [])
        with self._lock:
            self.written += len(requests) - len(unprocessed)
        return unprocessed, "UnprocessedItems"

    def _fail(self, code: str) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = code


def _key(item: Item) -> tuple[str, str]:
    return (item[KEY_ATTRIBUTES[0]]["S"], item[KEY_ATTRIBUTES[1]]["S"])
