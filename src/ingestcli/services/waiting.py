"""Waiting for an upload's report: one polling loop for every way of reading its status
(the API with a token, or the presigned GET of its report key from `ingest presign`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ingestcli.core.status import FINISHED
from ingestcli.errors import IngestError
from ingestcli.services.api_client import ApiClient, printable


class WaitTimeout(IngestError):
    """The report was not ready in time; the upload goes on without us."""


def wait_for_report(
    client: ApiClient | None,
    upload_id: str,
    *,
    fetch: Callable[[str], dict[str, Any]] | None = None,
    later: str = "check it later with `ingest uploads`",
    timeout: float = 600.0,
    poll: float = 0.5,
    max_poll: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll `fetch(upload_id)` (default: the API's `client.upload_status`) until the upload
    is succeeded, partial or failed, and return its report; polls start every `poll` seconds
    and slow down to every `max_poll`. `later` ends the message of a timeout."""
    if fetch is None:
        if client is None:
            raise TypeError("wait_for_report needs a client or a fetch function")
        fetch = client.upload_status
    deadline = clock() + timeout
    delay = poll
    while True:
        document = fetch(upload_id)
        status = document["status"]
        if status in FINISHED:
            return document
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(
                f"upload {upload_id} is still {printable(status, 40)} after {timeout:g} s; "
                f"it carries on without us: {later}"
            )
        sleep(min(delay, remaining))
        delay = min(max_poll, delay * 2)
