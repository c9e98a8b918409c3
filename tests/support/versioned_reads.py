"""What the ingest handler asks S3 for when it reads an upload: the GetObject requests a real
boto3 client sends for one key, recorded through botocore's own event hooks (the client, and
the code that calls it, stay real), and two files of the same size whose rows differ, so a
read of the wrong version at any byte shows in the table."""

from __future__ import annotations

import threading
from typing import Any

from support.ingest_events import csv_bytes

# The request parameters that say which bytes of which object a read gets.
PINS = ("VersionId", "IfMatch", "Range")
ROWS = 1500  # three runs of 500 rows when each run stops at its first time check


def rows_of(prefix: str, note: str) -> list[list[str]]:
    return [[f"{prefix}-{n:05d}", "2024-03-01T10:00:00Z", note] for n in range(ROWS)]


# Byte for byte the same length and layout: the second file's rows start where the first's
# do, so a Range read of the wrong version yields whole, valid rows of the other file.
FIRST = csv_bytes(rows_of("P", "first"))
SECOND = csv_bytes(rows_of("Q", "other"))
assert len(FIRST) == len(SECOND)


class ObjectReads:
    """The GetObject requests `s3` sends for `key`, each as {VersionId, IfMatch, Range} (the
    ones it carries), in order; safe for a client used from several threads."""

    def __init__(self, s3: Any, key: str) -> None:
        self.key = key
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        s3.meta.events.register("provide-client-params.s3.GetObject", self._record)

    def _record(self, params: dict[str, Any], **_kwargs: Any) -> None:
        if params.get("Key") == self.key:
            with self._lock:
                self.requests.append({name: params[name] for name in PINS if name in params})

    def ranged(self) -> list[dict[str, str]]:
        """The requests that read from a byte past the start (a continuation, a reopen)."""
        return [request for request in self.requests if "Range" in request]

    def versions(self) -> set[str | None]:
        """Every VersionId asked for (None: a request that named none)."""
        return {request.get("VersionId") for request in self.requests}
