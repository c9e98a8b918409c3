"""The workers that send an upload's parts: a few threads, each taking the next part, its
URL (asked for a few at a time, just before it is needed), and its PUT (services/s3_put.py,
which retries it); one meter that sums their progress.

They are daemon threads, and a stop (Ctrl-C, or a part that failed for good) ends the PUTs in
flight at once (s3_put.Interrupter): a worker stuck on S3 or the API that stopped answering
does not hold the command up until its socket times out, nor keep the process from exiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ingestcli.core.multipart import MAX_PARTS_PER_REQUEST, part_span
from ingestcli.services.parts_api import PartsApi
from ingestcli.services.read_once import Digest
from ingestcli.services.s3_put import Interrupter, PutFailed, UrlExpired, put_file

URL_FRESH_SECONDS = 120.0  # a part URL older than this is asked for again before use
STOP_WAIT_SECONDS = 2.0  # how long a stop waits for the workers to end
_URL_RENEWALS = 3

# sent bytes so far, and (parts stored, parts in all)
PartsProgress = Callable[[int, tuple[int, int]], None]


class _Stopped(Exception):
    """Another part failed, or Ctrl-C: this one stops where it is."""


class Meter:
    """Bytes and parts sent across the workers, reported as one count."""

    def __init__(self, report: PartsProgress | None, done_bytes: int, done: int, total: int):
        self._report, self._lock = report, threading.Lock()
        self._bytes, self._done, self._total = done_bytes, done, total
        self._moving: dict[int, int] = {}
        self.stop = threading.Event()
        self.interrupter = Interrupter()  # ends the PUTs in flight at once on a stop

    @property
    def stored(self) -> int:
        return self._done

    def moving(self, number: int) -> Callable[[int], None]:
        def sent(count: int) -> None:
            if self.stop.is_set():
                raise _Stopped
            with self._lock:
                self._moving[number] = count
                self._emit()

        return sent

    def finished(self, number: int, length: int) -> None:
        with self._lock:
            self._moving.pop(number, None)
            self._bytes += length
            self._done += 1
            self._emit()

    def _emit(self) -> None:
        if self._report is not None:
            self._report(self._bytes + sum(self._moving.values()), (self._done, self._total))


class UrlBook:
    """Part URLs, asked for a few at a time just before they are needed."""

    def __init__(self, api: PartsApi, upload_id: str, digest: Digest, todo: list[int], batch: int):
        self._api, self._upload_id, self._digest = api, upload_id, digest
        self._waiting, self._batch = deque(todo), min(batch, MAX_PARTS_PER_REQUEST)
        self._urls: dict[int, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def take(self, number: int) -> dict[str, Any]:
        """Part `number`'s URL and headers: held since a recent request, or asked for now
        with the URLs of the next parts not yet held (parts are taken nearly in order)."""
        with self._lock:
            if self._waiting and self._waiting[0] == number:
                self._waiting.popleft()
            elif number in self._waiting:  # a part whose URL expired, taken again
                self._waiting.remove(number)
            held = self._urls.pop(number, None)
            if held is None or time.monotonic() - held[0] > URL_FRESH_SECONDS:
                unheld = (n for n in self._waiting if n not in self._urls)
                ahead = list(islice(unheld, self._batch - 1))
                asked = [(n, self._digest.part_sha256[n - 1]) for n in [number, *ahead]]
                answer, now = self._api.part_urls(self._upload_id, asked), time.monotonic()
                self._urls.update({n: (now, part) for n, part in answer.items()})
                held = self._urls.pop(number)
            return held[1]


@dataclass
class PartSender:
    """What every worker of one upload shares: the file, its digest, the API, the meter."""

    path: str
    digest: Digest
    api: PartsApi
    upload_id: str
    meter: Meter
    sleep: Callable[[float], None] = time.sleep

    def send(self, number: int, urls: UrlBook) -> None:
        """PUT one part; a URL that expired first is asked for again."""
        offset, length = part_span(self.digest.size, self.digest.part_size or 0, number)
        meter = self.meter
        for _ in range(_URL_RENEWALS):
            part = urls.take(number)
            try:
                put_file(
                    part["url"], part["headers"], self.path, length, meter.moving(number),
                    sleep=self.sleep, offset=offset, interrupter=meter.interrupter,
                )  # fmt: skip
            except UrlExpired:
                continue  # asked for again at the next take
            meter.finished(number, length)
            return
        raise PutFailed(
            f"part URLs expired before S3 took them, {_URL_RENEWALS} times: check this "
            "computer's clock, then run the same command again",
            "AccessDenied",
        )


def send_all(sender: PartSender, todo: list[int], jobs: int) -> None:
    """Every part of `todo`, `jobs` at a time; the first failure (or Ctrl-C) stops the rest
    and is raised."""
    if not todo:
        return
    urls = UrlBook(sender.api, sender.upload_id, sender.digest, todo, batch=jobs)
    waiting, lock = deque(todo), threading.Lock()
    failures: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            while not sender.meter.stop.is_set():
                with lock:
                    if not waiting:
                        return
                    number = waiting.popleft()
                sender.send(number, urls)
        except BaseException as failure:  # Ctrl-C of a batch (Cancelled) too
            with lock:
                failures.append(failure)
            sender.meter.stop.set()
        finally:
            with lock:
                running[0] -= 1
                if failures or not running[0]:
                    done.set()

    workers = [
        threading.Thread(target=work, name=f"ingest-part-{n}", daemon=True)
        for n in range(min(jobs, len(todo)))
    ]
    running = [len(workers)]
    for worker in workers:
        worker.start()
    try:
        done.wait()
    finally:
        sender.meter.stop.set()
        sender.meter.interrupter.stop()  # a part stuck on a silent S3 ends now
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
    if failures:
        raise failures[0]
