"""What the ingest Lambda leaves for a user to see, and checks on it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

REPORT_FIELDS = {
    "upload_id",
    "provider",
    "key",
    "status",
    "rows",
    "written",
    "rejected",
    "duplicates",
    "errors",
    "error_counts",
    "started_at",
    "finished_at",
}
ERROR_FIELDS = {"line", "column", "code", "message"}
REJECTS_HEADER = ["line", "column", "code", "message"]


def flat(item: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: next(iter(value.values())) for name, value in item.items()}


def assert_counts_add_up(report: dict[str, Any]) -> None:
    assert set(report) == REPORT_FIELDS
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    for error in report["errors"]:
        assert set(error) == ERROR_FIELDS


@dataclass(frozen=True)
class Snapshot:
    """What a user can see of one upload: every item of the table, the report, the rejects."""

    items: list[dict[str, Any]]
    report: bytes | None
    rejects: bytes | None


def comparable(snapshot: Snapshot) -> tuple[list[dict[str, Any]], dict[str, Any], bytes | None]:
    """A snapshot without the times of day a run happened to have, after checking that every
    item of the upload carries one ingested_at taken while the upload was being ingested,
    and that the report matches the table: the items carrying its upload id number
    `written`, and its counts add up."""
    assert snapshot.report is not None
    report = json.loads(snapshot.report)
    carried = [item for item in snapshot.items if item["upload_id"]["S"] == report["upload_id"]]
    assert len(carried) == report["written"], "the report's written is not the table's count"
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    stamps = {item["ingested_at"]["S"] for item in snapshot.items}
    assert len(stamps) <= 1, "an upload's items carry different ingested_at values"
    for stamp in stamps:
        assert report["started_at"] <= stamp <= report["finished_at"]
    items = [{k: v for k, v in item.items() if k != "ingested_at"} for item in snapshot.items]
    times = {k: v for k, v in report.items() if k not in ("started_at", "finished_at")}
    return items, times, snapshot.rejects


def ticking_clock() -> Callable[[], datetime]:
    """A clock for an Ingestor that moves on a millisecond at every reading."""
    start = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    ticks = itertools.count(1)

    def now() -> datetime:
        return start + timedelta(milliseconds=next(ticks))

    return now
