"""An upload's report: what the ingest Lambda counts as it goes, the document it writes at
the end, and the one way the API and support staff read that document back.

The report (DESIGN.md) keeps `rows == written + rejected + duplicates` always, lists the
first MAX_REPORTED_ERRORS problems, counts every problem by code (`error_counts`), and lives
at <provider>/reports/<upload_id>.json. It stays under 1 MB whatever the file (a function
URL answers at most 6 MB): the list is capped, each listed error is bounded (bounded.py),
and the counts have one entry per code. What the Lambda keeps while it runs is bounded
the same way, so its memory does not grow with the number of errors.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ingestcli.core.bounded import cut_message, cut_name
from ingestcli.core.layout import UploadRef, report_key
from ingestcli.core.status import UploadStatus

MAX_REPORTED_ERRORS = 1000
COUNTS = ("rows", "written", "rejected", "duplicates")  # rows == the other three


@dataclass
class Progress:
    """What is known of an upload so far; saved as its checkpoint between invocations."""

    started_at: str
    next_offset: int = 0  # the byte the next run reads on from (0: none has stopped yet)
    next_line: int = 0  # the line its record starts at
    size: int = 0  # bytes in the file
    header_end: int = 0  # bytes of the file up to the end of its header record
    rows: int = 0
    written: int = 0
    rejected: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_counts: dict[str, int] = field(default_factory=dict)  # every error, by code
    generation: int = 0  # how many times it was saved; names the files saved beside it
    rejects_parts: list[int] = field(default_factory=list)  # generations that saved rejects

    def add_errors(self, problems: list[dict[str, Any]]) -> None:
        """Count every problem; keep the first MAX_REPORTED_ERRORS, each bounded."""
        counts = self.error_counts
        for problem in problems:
            code = problem["code"]
            counts[code] = counts.get(code, 0) + 1
        room = MAX_REPORTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(map(bounded_error, problems[:room]))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Progress:
        return cls(**json.loads(text))


def build_report(
    ref: UploadRef, progress: Progress, finished_at: str, failure: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The upload report of DESIGN.md; `rows == written + rejected + duplicates` always."""
    if failure is not None:
        status = UploadStatus.FAILED
    elif progress.rejected == 0:
        status = UploadStatus.SUCCEEDED
    else:
        status = UploadStatus.PARTIAL if progress.written else UploadStatus.FAILED
    errors = ([bounded_error(failure)] if failure else []) + progress.errors
    counts = dict(progress.error_counts)
    if failure:  # a file refused whole: its one problem counts too
        counts[failure["code"]] = counts.get(failure["code"], 0) + 1
    return {
        "upload_id": ref.upload_id,
        "provider": ref.provider,
        "key": ref.key,
        "status": status,
        "rows": progress.rows,
        "written": progress.written,
        "rejected": progress.rejected,
        "duplicates": progress.duplicates,
        "errors": errors[:MAX_REPORTED_ERRORS],
        "error_counts": counts,
        "started_at": progress.started_at,
        "finished_at": finished_at,
    }


def bounded_error(problem: dict[str, Any]) -> dict[str, Any]:
    """An error as a report lists it: its column name and message cut to bounded lengths,
    whoever built it (the validator's are short already; a service's message may not be)."""
    bounded = {**problem, "message": cut_message(str(problem.get("message") or ""))}
    if problem.get("column") is not None:
        bounded["column"] = cut_name(str(problem["column"]))
    return bounded


def read_report(s3: Any, bucket: str, provider: str, upload_id: str) -> dict[str, Any] | None:
    """The upload's report, or None before there is one.

    Listed before it is read: without s3:ListBucket on the key, S3 answers a GET of a
    missing object with 403, not 404, and a listing can be allowed for */reports/* only.
    """
    key = report_key(provider, upload_id)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    if not any(found["Key"] == key for found in listed.get("Contents", [])):
        return None
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
