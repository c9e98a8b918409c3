"""`ingest upload` of a large file: in parts, several at a time, each retried on its own, and
resumed by running the same command again.

The API opens the upload at the key it chooses and hands out one presigned URL per part,
that part's SHA-256 pinned (parts_api.py). Parts go `jobs` at a time (part_workers.py), each
streamed from disk and retried (s3_put.py); a URL that expires first is asked for again.
Once every part is stored the API completes the upload, and its ingest starts as for one PUT.

What was opened is remembered on this computer (resume.py) until the upload is completed.
Run again after Ctrl-C, a lost network or a closed laptop, the command finds it, asks the
API which parts S3 holds, and sends only the others; an upload already completed is not sent
again but waited for. A stopped upload is never abandoned: S3 keeps its parts until the
bucket's rule for unfinished uploads aborts them (then it shows as `abandoned`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestcli.core.multipart import (
    DEFAULT_PART_JOBS,
    DEFAULT_PART_SIZE,
    DEFAULT_THRESHOLD,
    MAX_PART_BYTES,
    MAX_PART_JOBS,
    MAX_PUT_BYTES,
    MIN_PART_BYTES,
    fitted_part_size,
    part_span,
)
from ingestcli.errors import IngestError, NotFound, UsageError
from ingestcli.services.api_client import ApiClient
from ingestcli.services.part_workers import Meter, PartSender, PartsProgress, send_all
from ingestcli.services.parts_api import PartsApi
from ingestcli.services.read_once import Digest
from ingestcli.services.resume import ResumeBook

_NEVER_SENT = frozenset({"abandoned", "expired"})  # statuses of an upload that holds no file


@dataclass(frozen=True)
class PartPlan:
    """Which files go in parts (those above `threshold` bytes, and any S3 would not take in
    one PUT), in parts of `part_size` (larger if the file would make too many), `jobs` at a
    time."""

    threshold: int = DEFAULT_THRESHOLD
    part_size: int = DEFAULT_PART_SIZE
    jobs: int = DEFAULT_PART_JOBS

    def __post_init__(self) -> None:
        if not MIN_PART_BYTES <= self.part_size <= MAX_PART_BYTES:
            raise UsageError(
                f"the part size must be from 5 MiB to 5 GiB ({MIN_PART_BYTES:,} to "
                f"{MAX_PART_BYTES:,} bytes), S3's limits"
            )
        if not 1 <= self.jobs <= MAX_PART_JOBS:
            raise UsageError(f"parts are sent 1 to {MAX_PART_JOBS} at a time")

    def part_size_for(self, size: int) -> int | None:
        """The part size for a file of `size` bytes, or None to send it in one PUT."""
        if size <= self.threshold and size <= MAX_PUT_BYTES:
            return None
        return fitted_part_size(size, self.part_size)


@dataclass(frozen=True)
class Resumable:
    """An upload in parts stopped before it was complete: what S3 holds, until when."""

    upload_id: str
    stored: int
    total: int
    expires_at: str


def resumable(error: BaseException) -> Resumable | None:
    """The upload in parts `error` stopped, if it did."""
    found = getattr(error, "ingest_resumable", None)
    return found if isinstance(found, Resumable) else None


def _stored(listing: dict[str, Any], digest: Digest) -> set[int]:
    """The parts S3 holds whole, as this file has them: of the planned size, and of the same
    SHA-256 where S3 lists one (the whole file's SHA-256 already matched the record's)."""
    held = set()
    for part in listing.get("parts", []):
        number = part.get("part_number")
        if type(number) is not int or not 1 <= number <= len(digest.part_sha256):
            continue
        planned = part_span(digest.size, digest.part_size or 0, number)[1]
        sha256 = part.get("sha256")
        if part.get("size") == planned and sha256 in (None, digest.part_sha256[number - 1]):
            held.add(number)
    return held


def upload_in_parts(
    client: ApiClient,
    path: str,
    digest: Digest,
    *,
    jobs: int = DEFAULT_PART_JOBS,
    on_progress: PartsProgress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    resume_folder: Path | None = None,
) -> dict[str, Any]:
    """Send the file `digest` describes (read from `path`) in parts, resuming the upload a
    stopped run left open; returns upload_id, key, filename, size, sha256, parts and
    parts_resumed (stored before this run). An error or Ctrl-C once the upload is opened
    carries a `Resumable` (see `resumable()`)."""
    api, book = PartsApi(client), ResumeBook(client.caller, digest, resume_folder)
    filename, total = os.path.basename(path), len(digest.part_sha256)
    held = {"filename": filename, "size": digest.size, "sha256": digest.sha256, "parts": total}
    upload, stored = book.find(), set()
    listing = _listing(api, upload["upload_id"]) if upload is not None else None
    if listing is not None and listing["open"]:
        stored = _stored(listing, digest)
    elif listing is not None and listing.get("status") not in _NEVER_SENT:
        book.forget()  # completed by an earlier run: nothing to send again
        return held | _ids(upload) | {"parts_resumed": total}  # type: ignore[arg-type]
    elif upload is not None:
        book.forget()  # aborted, or unknown here: start over
        upload = None
    if upload is None:
        upload = api.open(filename, digest)
        book.remember(upload)
    todo = [number for number in range(1, total + 1) if number not in stored]
    done_bytes = sum(part_span(digest.size, digest.part_size or 0, n)[1] for n in stored)
    meter = Meter(on_progress, done_bytes, len(stored), total)
    try:
        send_all(PartSender(path, digest, api, upload["upload_id"], meter, sleep), todo, jobs)
        api.complete(upload["upload_id"])
    except (IngestError, KeyboardInterrupt) as failure:
        failure.ingest_resumable = Resumable(  # type: ignore[attr-defined]
            upload["upload_id"], meter.stored, total, upload["expires_at"]
        )
        raise
    book.forget()
    return held | _ids(upload) | {"parts_resumed": len(stored)}


def _listing(api: PartsApi, upload_id: str) -> dict[str, Any] | None:
    """What S3 holds of a recorded upload, or None when the API does not know it (another
    stack at the same address, say)."""
    try:
        return api.stored_parts(upload_id)
    except NotFound:
        return None


def _ids(upload: dict[str, Any]) -> dict[str, Any]:
    return {"upload_id": upload["upload_id"], "key": upload.get("key")}
