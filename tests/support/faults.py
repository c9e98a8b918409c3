"""Faults injected by wrapping real (moto's or the local stack's) boto3 clients: only the
calls a wrapper defines misbehave; the code under test is never mocked."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError

from support.names import KEY


def client_error(code: str, operation: str = "BatchWriteItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)


class Passthrough:
    """A real client, with the calls a subclass defines replaced."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._lock = threading.Lock()  # ItemWriter calls from several threads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class BrokenBody:
    """A response body that delivers `good_bytes`, then fails as a dropped connection does."""

    def __init__(self, body: Any, good_bytes: int, error: Exception) -> None:
        self._body, self._left, self._error = body, good_bytes, error

    def read(self, amt: int | None = None) -> bytes:
        if self._left <= 0:
            raise self._error
        data = self._body.read(self._left if amt is None else min(amt, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._body.close()


class BreakingS3(Passthrough):
    """get_object of the upload answers with a body that breaks partway, on the reads
    numbered in `broken_reads` (the first read of a new upload checks its SHA-256); with
    `reopened_good_bytes`, a read that reopens the object at a byte (Range) gets that many."""

    def __init__(
        self,
        real: Any,
        error: Exception,
        broken_reads: set[int] | None,
        good_bytes: int,
        reopened_good_bytes: int | None = None,
    ) -> None:
        super().__init__(real)
        self.error, self.broken_reads, self.good_bytes = error, broken_reads, good_bytes
        self.reopened_good_bytes = reopened_good_bytes
        self.reads = self.broken = 0
        self.ranges: list[str] = []
        self.key = KEY

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        answer = self._real.get_object(**kwargs)
        if kwargs["Key"] == self.key:
            self.reads += 1
            if "Range" in kwargs:
                self.ranges.append(kwargs["Range"])
            if self.broken_reads is None or self.reads in self.broken_reads:
                self.broken += 1
                good = self.good_bytes
                if "Range" in kwargs and self.reopened_good_bytes is not None:
                    good = self.reopened_good_bytes
                answer["Body"] = BrokenBody(answer["Body"], good, self.error)
        return answer
