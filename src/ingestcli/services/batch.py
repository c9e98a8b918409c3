"""One file's whole way through `ingest upload` (check, URL, PUT, wait), and many files at
once, each the same way, a few at a time.

`send_file` never raises for what happens to its file: it returns a `Sent` saying how far the
file got and what stopped it, so one file's failure (or Ctrl-C) is reported beside the
others'. What it shows while it works (a progress bar, a live line) comes in as `Hooks`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from ingestcli.core.summary import Summary
from ingestcli.errors import IngestError, InputError, UsageError
from ingestcli.services.files import size_of
from ingestcli.services.parts import Resumable, resumable
from ingestcli.services.read_once import check_and_hash
from ingestcli.services.routes import Route
from ingestcli.services.s3_put import Progress
from ingestcli.services.upload import ARRIVED, Abandonment, abandonment
from ingestcli.services.waiting import DEFAULT_TIMEOUT, OnPoll, WaitTimeout, wait_for_report

# How far a file got, beside the upload statuses (pending ... failed, abandoned) it may end in.
REFUSED = "refused"  # the local check refused it: nothing was sent
NOT_SENT = "not sent"  # an error (or Ctrl-C) stopped it before any upload held it
SENT = "sent"  # sent, and not waited for (--no-wait)
MAX_JOBS = 16


class Cancelled(KeyboardInterrupt):
    """Ctrl-C reached the main thread while this file was on its way in a worker."""


def _no_bar(path: str, size: int) -> AbstractContextManager[Progress | None]:
    return nullcontext(None)


def _no_line(upload_id: str) -> AbstractContextManager[OnPoll | None]:
    return nullcontext(None)


@dataclass(frozen=True)
class Hooks:
    """What is shown while a file goes: a bar over the check, a bar over the PUT, a line once
    it is sent, a live line while its report is waited for. The defaults show nothing."""

    check: Callable[[str, int], AbstractContextManager[Progress | None]] = _no_bar
    bar: Callable[[str, int], AbstractContextManager[Progress | None]] = _no_bar
    sent: Callable[[str, dict[str, Any]], None] = lambda path, result: None
    live: Callable[[str], AbstractContextManager[OnPoll | None]] = _no_line


@dataclass
class Sent:
    """How far one file got: its status (REFUSED, NOT_SENT, SENT or the upload's), the
    report (or last status document), the local check's summary, what stopped it."""

    file: str
    status: str
    result: dict[str, Any] = field(default_factory=dict)  # what the PUT returned
    report: dict[str, Any] | None = None
    summary: Summary | None = None
    error: BaseException | None = None
    abandoned: Abandonment | None = None
    timed_out: bool = False
    resumable: Resumable | None = None  # an upload in parts stopped before it was complete

    @property
    def upload_id(self) -> str | None:
        return self.result.get("upload_id")

    @property
    def interrupted(self) -> bool:
        return isinstance(self.error, KeyboardInterrupt)

    @property
    def stopped_by_error(self) -> bool:
        """An error (or Ctrl-C) before any upload held the file, or an error (not Ctrl-C)
        reading its report: one file's `ingest upload` ends on it as on any error."""
        if self.error is None or self.abandoned is not None:
            return False
        return self.status == NOT_SENT or not self.interrupted

    def as_dict(self) -> dict[str, Any]:
        """One file for `--format json`: its report when there is one, else how far it got;
        never a row's values (messages name lines, columns and codes only)."""
        done = {"file": self.file, "upload_id": self.upload_id, "key": self.result.get("key")}
        done |= (self.report or {}) | {"file": self.file, "status": self.status}
        if self.summary is not None:
            done |= {k: v for k, v in self.summary.as_dict().items() if k != "errors"}
        if self.error is not None:
            done["error"] = "interrupted" if self.interrupted else str(self.error)
        if self.resumable is not None:
            done["parts_stored"] = self.resumable.stored
            done["parts"] = self.resumable.total
        return done


def _checked(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Cancelled


def send_file(
    route: Route,
    path: str,
    zone: tzinfo | None,
    *,
    allow_invalid: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    hooks: Hooks = Hooks(),
    stop: threading.Event | None = None,
    poll: float = 0.5,
) -> Sent:
    """Check `path` (date_time values without an offset read in `zone`), send it by `route`,
    wait for its report: a Sent whatever happens, Ctrl-C included. `stop`, once set, stops the
    file where it is (an upload with a URL but no file is abandoned by `route.send`)."""
    try:
        _checked(stop)
        size = size_of(path)
        too_large = route.size_problem(size)
        if too_large is not None:
            return Sent(path, NOT_SENT, error=UsageError(too_large))
        with hooks.check(path, size or 0) as on_check:
            summary, digest = check_and_hash(path, zone, route.part_size_for(size), on_check)
    except (IngestError, KeyboardInterrupt) as error:
        return Sent(path, NOT_SENT, error=error)
    if summary.header_error or (summary.invalid and not allow_invalid):
        return Sent(path, REFUSED, summary=summary)

    def progress(sent: int, *parts: tuple[int, int]) -> None:
        _checked(stop)
        if on_progress is not None:
            on_progress(sent, *parts)

    result: dict[str, Any] = {}
    try:
        _checked(stop)
        with hooks.bar(path, digest.size) as on_progress:
            result = route.send(path, progress, digest)
    except (IngestError, KeyboardInterrupt) as error:
        if result:  # sent: the bar was closing
            waited = {"status": "pending"} if route.fetch else None
            return Sent(path, "pending" if waited else SENT, result, waited, error=error)
        stopped = resumable(error)
        if stopped is not None:
            held = {"upload_id": stopped.upload_id}
            return Sent(path, NOT_SENT, held, error=error, resumable=stopped)
        found = abandonment(error)
        if found is None:
            return Sent(path, NOT_SENT, error=error)
        upload = {"upload_id": found.upload_id, "key": found.key}
        status = "pending" if found.outcome == ARRIVED else "abandoned"
        return Sent(path, status, result=upload, error=error, abandoned=found)
    if route.fetch is None:
        hooks.sent(path, result)
        return Sent(path, SENT, result=result)
    return _wait(route.fetch, path, result, timeout, hooks, stop, poll)


def _wait(
    fetch: Callable[[str], dict[str, Any]],
    path: str,
    result: dict[str, Any],
    timeout: float,
    hooks: Hooks,
    stop: threading.Event | None,
    poll: float,
) -> Sent:
    upload_id = result["upload_id"]
    last: dict[str, Any] = {"upload_id": upload_id, "status": "pending"}

    def pause(seconds: float) -> None:
        if stop is not None and stop.wait(seconds):
            raise Cancelled

    def polled(document: dict[str, Any], elapsed: float) -> None:
        last.update(status=document["status"])
        if on_poll is not None:
            on_poll(document, elapsed)

    try:
        hooks.sent(path, result)
        with hooks.live(upload_id) as on_poll:
            report = wait_for_report(
                None, upload_id, fetch=fetch, timeout=timeout, poll=poll,
                on_poll=polled, sleep=pause,
            )  # fmt: skip
    except WaitTimeout as late:
        return Sent(path, late.document["status"], result, late.document, timed_out=True)
    except (IngestError, KeyboardInterrupt) as error:  # sent: the report is all that is missing
        return Sent(path, last["status"], result, dict(last), error=error)
    return Sent(path, report["status"], result, report)


def files_to_send(paths: list[str]) -> list[str]:
    """The files named, a folder standing for its *.csv files (sorted, not recursive);
    InputError (nothing sent) for a path that is neither, a folder without CSV files, or a
    file named twice."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            inside = sorted(
                os.path.join(path, name)
                for name in os.listdir(path)
                if name.lower().endswith(".csv") and os.path.isfile(os.path.join(path, name))
            )
            if not inside:
                raise InputError(f"{path} is a folder with no .csv file in it")
            found += inside
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise InputError(f"{path} does not exist or is not a file: check the path")
    seen: set[str] = set()
    for path in found:
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{path} is given twice: each file is sent once")
        seen.add(real)
    return found


def send_many(
    route: Route,
    paths: list[str],
    zone: tzinfo | None,
    *,
    jobs: int = 4,
    allow_invalid: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    hooks: Hooks = Hooks(),
    poll: float = 0.5,
) -> list[Sent]:
    """Each file through `send_file`, at most `jobs` at a time; the outcomes in the order
    given. Ctrl-C stops every file where it is (those not started are NOT_SENT, interrupted)
    and the outcomes so far are still returned; a second Ctrl-C while they stop ends it."""
    if not 1 <= jobs <= MAX_JOBS:
        raise UsageError(f"--jobs must be from 1 to {MAX_JOBS}")
    stop = threading.Event()
    options = {"allow_invalid": allow_invalid, "timeout": timeout, "hooks": hooks, "poll": poll}
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ingest-upload")
    futures: list[Future[Sent]] = []
    try:
        for path in paths:
            futures.append(pool.submit(send_file, route, path, zone, stop=stop, **options))
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
    except KeyboardInterrupt:
        stop.set()  # each worker stops at its next chunk or poll; none starts anew
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    ran = [future.result() for future in futures if future.done() and not future.cancelled()]
    stopped = [Sent(path, NOT_SENT, error=Cancelled()) for path in paths[len(ran) :]]
    return ran + stopped
