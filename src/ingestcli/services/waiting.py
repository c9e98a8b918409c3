"""Waiting for an upload's report: one polling loop for every way of reading its status
(the API with a token, or the presigned GET of its report key from `ingest presign`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ingestcli.core.status import UploadStatus
from ingestcli.errors import IngestError
from ingestcli.services.api_client import ApiClient, printable

DEFAULT_TIMEOUT = 600.0
UNFINISHED = frozenset({UploadStatus.PENDING, UploadStatus.PROCESSING})
# Called after each poll with the status document (its "progress" while processing) and the
# seconds waited so far: what a live line on a terminal shows.
OnPoll = Callable[[dict[str, Any], float], None]


class WaitTimeout(IngestError):
    """The report was not ready in time; the upload goes on without us. `document` is the
    last status read (upload_id, status, maybe progress)."""

    def __init__(self, message: str, document: dict[str, Any]) -> None:
        super().__init__(message)
        self.document = document


def wait_for_report(
    client: ApiClient | None,
    upload_id: str,
    *,
    fetch: Callable[[str], dict[str, Any]] | None = None,
    later: str = "check it later with `ingest uploads`",
    timeout: float = DEFAULT_TIMEOUT,
    poll: float = 0.5,
    max_poll: float = 5.0,
    on_poll: OnPoll | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll `fetch(upload_id)` (default: the API's `client.upload_status`) until the upload
    is no longer pending or processing, and return its report (or its last status); polls
    start every `poll` seconds and slow down to every `max_poll`; `on_poll` sees each answer.
    `later` ends the message of a timeout."""
    if fetch is None:
        if client is None:
            raise TypeError("wait_for_report needs a client or a fetch function")
        fetch = client.upload_status
    started = clock()
    deadline = started + timeout
    delay = poll
    while True:
        document = fetch(upload_id)
        status = document["status"]
        if on_poll is not None:
            on_poll(document, clock() - started)
        if status not in UNFINISHED:  # a report, or abandoned, expired: nothing to wait for
            return document
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(
                f"upload {upload_id} is still {printable(status, 40)} after {timeout:g} s; "
                f"it carries on without us: {later}",
                document,
            )
        sleep(min(delay, remaining))
        delay = min(max_poll, delay * 2)
