"""Reading an uploaded object as a stream that survives a dropped connection.

botocore retries a failed request, but not a response body that breaks halfway: a reset
connection in the middle of a 1 GB file would fail the whole run. `ObjectReader` reopens
the object at the byte it had reached (a Range read of the same version, or of the same
ETag when the bucket names no version) and goes on, a few times, with backoff. Given the
upload's ETag, every read is pinned to it from the first: a later run of a bucket without
versions never reads on in another file (S3 answers 412 instead).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from botocore.exceptions import BotoCoreError
from urllib3.exceptions import HTTPError

from ingestcli.core.backoff import backoff_delay, half_to_full

TRANSIENT = (OSError, BotoCoreError, HTTPError)
REOPEN_ATTEMPTS = 4


class ObjectReader:
    """A file-like `read(size)` over one object version, from `start` to its end."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        version_id: str | None = None,
        start: int = 0,
        *,
        etag: str | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self._s3, self._bucket, self._key, self._sleep = s3, bucket, key, sleep
        self._pin: dict[str, str] = (
            {"VersionId": version_id} if version_id else {"IfMatch": etag} if etag else {}
        )
        self._position = start
        self.size: int | None = None
        self._body = self._open()

    def _open(self) -> Any:
        ranged = {"Range": f"bytes={self._position}-"} if self._position else {}
        answer = self._s3.get_object(Bucket=self._bucket, Key=self._key, **self._pin, **ranged)
        if not self._pin and answer.get("ETag"):
            self._pin = {"IfMatch": answer["ETag"]}  # the same bytes, or a clear failure
        if self.size is None:
            self.size = self._position + int(answer.get("ContentLength", 0))
        return answer["Body"]

    def read(self, size: int = -1) -> bytes:
        for attempt in range(REOPEN_ATTEMPTS + 1):
            try:
                data = self._body.read(size if size >= 0 else None)
                self._position += len(data)
                return data
            except TRANSIENT:
                if self.size is not None and self._position >= self.size:
                    return b""  # everything arrived; only the end of the stream broke
                if attempt == REOPEN_ATTEMPTS:
                    raise
                self._sleep(backoff_delay(attempt, base=0.1, cap=2.0, jitter=half_to_full))
                self._close_quietly()
                self._body = self._open()
        raise AssertionError("unreachable")  # pragma: no cover

    def _close_quietly(self) -> None:
        with contextlib.suppress(TRANSIENT):
            self._body.close()

    def close(self) -> None:
        self._close_quietly()
