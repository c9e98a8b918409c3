"""Where an upload's pieces live in the bucket, and the documents the ingest Lambda keeps.

Keys are chosen by the server (the API), so a key that does not have the shape below was
not made by us: it is never ingested. The provider is read from the key, never the file.

    <provider>/uploads/YYYY/MM/DD/<upload_id>.csv   the file as sent
    <provider>/reports/<upload_id>.json             its report
    <provider>/rejects/<upload_id>.csv              its refused rows, as sent
    <provider>/checkpoints/<upload_id>.json         progress of a file still being ingested
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import IO, Any

PROVIDER_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
UPLOAD_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
UPLOAD_KEY = re.compile(
    r"(?P<provider>[^/]+)/uploads/(?P<year>\d{4})/(?P<month>0[1-9]|1[0-2])/"
    r"(?P<day>0[1-9]|[12]\d|3[01])/(?P<upload_id>[^/]+)\.csv",
    re.ASCII,
)
MAX_REPORTED_ERRORS = 1000
CONTINUATION = "ingest_continuation"


@dataclass(frozen=True)
class UploadRef:
    """One uploaded object, as named by an S3 event or a continuation message."""

    bucket: str
    key: str
    version_id: str | None
    provider: str
    upload_id: str

    def path(self, kind: str, suffix: str) -> str:
        return f"{self.provider}/{kind}/{self.upload_id}{suffix}"

    @property
    def report_key(self) -> str:
        return self.path("reports", ".json")

    @property
    def rejects_key(self) -> str:
        return self.path("rejects", ".csv")

    @property
    def checkpoint_key(self) -> str:
        return self.path("checkpoints", ".json")


def parse_upload_key(bucket: str, key: str, version_id: str | None = None) -> UploadRef | None:
    """The upload a key names, or None when the key is not an upload the API could have made."""
    match = UPLOAD_KEY.fullmatch(key)
    if not match:
        return None
    provider, upload_id = match["provider"], match["upload_id"]
    if not PROVIDER_ID.fullmatch(provider) or not UPLOAD_ID.fullmatch(upload_id):
        return None
    return UploadRef(bucket, key, version_id, provider, upload_id)


def objects_in_message(body: str) -> list[tuple[str, str, str | None]]:
    """(bucket, key, version) of each object a queue message names: an S3 event, or our own
    message that continues an upload. S3 test events name none; S3 sends keys URL-encoded."""
    message = json.loads(body)
    if CONTINUATION in message:
        named = message[CONTINUATION]
        return [(named["bucket"], named["key"], named.get("version_id"))]
    objects = []
    for record in message.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        key = urllib.parse.unquote_plus(s3["object"]["key"])
        objects.append((s3["bucket"]["name"], key, s3["object"].get("versionId")))
    return objects


def continuation_message(ref: UploadRef) -> str:
    named = {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id}
    return json.dumps({CONTINUATION: named})


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
    generation: int = 0  # how many times it was saved; names the files saved beside it
    rejects_parts: list[int] = field(default_factory=list)  # generations that saved rejects

    def add_errors(self, problems: list[dict[str, Any]]) -> None:
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(problems[: max(room, 0)])

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Progress:
        return cls(**json.loads(text))


def report(
    ref: UploadRef, progress: Progress, finished_at: str, failure: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The upload report of DESIGN.md; `rows == written + rejected + duplicates` always."""
    if failure is not None:
        status = "failed"
    elif progress.rejected == 0:
        status = "succeeded"
    else:
        status = "partial" if progress.written else "failed"
    errors = ([failure] if failure else []) + progress.errors
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
        "started_at": progress.started_at,
        "finished_at": finished_at,
    }


class RejectsBuffer:
    """Refused rows as sent, with their line and problems, as CSV: in memory while small,
    then in a temporary file, so a file of bad rows cannot exhaust the Lambda's memory."""

    def __init__(self, header: tuple[str, ...] | None) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - kept open
        # Bytes that were not UTF-8 come back as they were sent.
        self._text = io.TextIOWrapper(
            self._file, encoding="utf-8", errors="surrogateescape", newline="", write_through=True
        )
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self.count = 0
        self._header = header

    def add(self, line: int, problems: list[dict[str, Any]], fields: list[str]) -> None:
        columns = "; ".join(problem["column"] or "" for problem in problems)
        codes = "; ".join(problem["code"] for problem in problems)
        messages = "; ".join(problem["message"] for problem in problems)
        self._writer.writerow([line, columns, codes, messages, *fields])
        self.count += 1

    def header_row(self) -> str:
        columns = ["line", "column", "code", "message", *(self._header or ())]
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerow(columns)
        return text.getvalue()

    def rewound(self) -> IO[bytes]:
        """The rows written so far, as bytes from the start, for an upload."""
        self._text.flush()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()
