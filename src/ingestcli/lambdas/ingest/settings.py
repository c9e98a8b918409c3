"""The ingest function's settings, from the environment variables the template sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    bucket: str
    records_table: str
    providers_table: str
    uploads_table: str
    queue_url: str
    writers: int = 4
    max_receive_count: int = 5
    margin_ms: int = 60_000  # stop and continue in another run when less time is left
    lease_grace_ms: int = 30_000  # a lease outlives its run by this much, for clock skew
    time_check_every_rows: int = 500  # how often a run asks how much time it has left
    progress_every_seconds: float = 2.0  # how often, at most, a run notes its progress

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            bucket=environment["UPLOADS_BUCKET"],
            records_table=environment["RECORDS_TABLE"],
            providers_table=environment["PROVIDERS_TABLE"],
            uploads_table=environment["UPLOADS_TABLE"],
            queue_url=environment["QUEUE_URL"],
            writers=int(environment.get("WRITER_THREADS", "4")),
            max_receive_count=int(environment.get("MAX_RECEIVE_COUNT", "5")),
            margin_ms=int(environment.get("CONTINUE_MARGIN_MS", "60000")),
            lease_grace_ms=int(environment.get("LEASE_GRACE_MS", "30000")),
            progress_every_seconds=float(environment.get("PROGRESS_EVERY_SECONDS", "2")),
        )
