"""The ingest Lambda: every uploaded row written to DynamoDB, or accounted for in a report.

SQS delivers S3 events (at least once); each names an uploaded CSV. The file is checked
against its declared SHA-256, streamed through the same validator as `ingest validate`,
and its valid rows are written with BatchWriteItem. The report says what became of every
row. A file too large for one run is saved at a checkpoint and continued by a message to
the queue. Processing an upload again never changes the table or the report: rows are
idempotent puts (ingested_at is fixed when an upload starts), and a finished upload is
skipped.

Logs carry ids, counts, durations and error codes, never a value from a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..contract import ContractViolation, resolve_time_zone, sort_key, to_item
from ..validate import CsvValidation
from .checkpoints import CheckpointStore
from .dynamo_writer import ItemWriter
from .seen_keys import SeenKeys
from .uploads import (
    Progress,
    RejectsBuffer,
    UploadRef,
    continuation_message,
    objects_in_message,
    parse_upload_key,
    report,
)

logger = logging.getLogger("ingest")
logger.setLevel(logging.INFO)
TIME_CHECK_EVERY_ROWS = 500


def log(event: str, **fields: Any) -> None:
    """One structured log line: ids, counts, durations and codes only."""
    logger.info(json.dumps({"event": event, **fields}, default=str))


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class FileRefused(Exception):
    """The whole file is refused (unknown provider, checksum, header): reported, not retried."""

    def __init__(self, code: str, message: str, line: int | None = None, column=None) -> None:
        super().__init__(code)
        self.problem = {"line": line, "column": column, "code": code, "message": message}


@dataclass(frozen=True)
class Settings:
    bucket: str
    records_table: str
    providers_table: str
    queue_url: str
    writers: int = 4
    max_receive_count: int = 5
    margin_ms: int = 60_000  # stop and continue in another run when less time is left

    @classmethod
    def from_environment(cls) -> Settings:
        environment = os.environ
        return cls(
            bucket=environment["UPLOADS_BUCKET"],
            records_table=environment["RECORDS_TABLE"],
            providers_table=environment["PROVIDERS_TABLE"],
            queue_url=environment["QUEUE_URL"],
            writers=int(environment.get("WRITER_THREADS", "4")),
            max_receive_count=int(environment.get("MAX_RECEIVE_COUNT", "5")),
            margin_ms=int(environment.get("CONTINUE_MARGIN_MS", "60000")),
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Ingestor:
    """Turns queue messages into table items and reports, through injected clients."""

    def __init__(self, s3: Any, dynamodb: Any, sqs: Any, settings: Settings) -> None:
        self.s3, self.dynamodb, self.sqs, self.settings = s3, dynamodb, sqs, settings
        self.checkpoints = CheckpointStore(s3)

    def handle_batch(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Process each message on its own; report only the failed ones for a retry."""
        failures = []
        for record in event.get("Records", []):
            try:
                self.handle_message(record, context)
            except Exception as error:  # one file's failure must not fail the others
                log("message_failed", message_id=record.get("messageId"), error=_code(error))
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def handle_message(self, record: dict[str, Any], context: LambdaContext) -> None:
        objects = objects_in_message(record["body"])
        receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        for bucket, key, version_id in objects:
            ref = parse_upload_key(bucket, key, version_id)
            if ref is None or bucket != self.settings.bucket:
                log("skipped_object", reason="not_an_upload")  # rejects, reports, strays
                continue
            try:
                self.ingest(ref, context)
            except Exception as error:
                if receives >= self.settings.max_receive_count:
                    # The message goes to the dead-letter queue: tell the provider why.
                    self._finish_failed(ref, None, _failure(error))
                raise

    def ingest(self, ref: UploadRef, context: LambdaContext) -> str:
        """Ingest one upload, or the rest of it; returns its status, or 'continued'."""
        started = time.monotonic()
        if self.checkpoints.exists(ref.bucket, ref.report_key):
            log("already_ingested", upload_id=ref.upload_id, provider=ref.provider)
            return "done"
        progress = self.checkpoints.load(ref)
        try:
            provider = self._active_provider(ref.provider)
            if progress is None:
                self._check_sha256(ref)
                progress = Progress(started_at=_now())
                self.checkpoints.save(ref, progress, SeenKeys(), None)  # fixes ingested_at
            outcome = self._stream(ref, progress, provider.get("time_zone"), context)
        except FileRefused as refused:
            outcome = self._finish_failed(ref, progress, refused.problem)
        log(
            "upload_" + outcome,
            upload_id=ref.upload_id,
            provider=ref.provider,
            rows=progress.rows if progress else 0,
            written=progress.written if progress else 0,
            rejected=progress.rejected if progress else 0,
            duplicates=progress.duplicates if progress else 0,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return outcome

    def _active_provider(self, provider_id: str) -> dict[str, str]:
        answer = self.dynamodb.get_item(
            TableName=self.settings.providers_table,
            Key={"providerId": {"S": provider_id}},
            ConsistentRead=True,
        )
        item = {name: value.get("S", "") for name, value in answer.get("Item", {}).items()}
        if not item:
            raise FileRefused("unknown_provider", "the provider is not registered")
        if item.get("status") != "active":
            raise FileRefused("provider_inactive", "the provider's access is revoked")
        return item

    def _object(self, ref: UploadRef) -> dict[str, Any]:
        version = {"VersionId": ref.version_id} if ref.version_id else {}
        return self.s3.get_object(Bucket=ref.bucket, Key=ref.key, **version)

    def _check_sha256(self, ref: UploadRef) -> None:
        """Compare the body with the SHA-256 declared at upload; a mismatch is never ingested."""
        found = self._object(ref)
        declared = found.get("Metadata", {}).get("sha256")
        if declared is None:
            log("no_declared_checksum", upload_id=ref.upload_id)
            return
        digest = hashlib.sha256()
        for chunk in iter(lambda: found["Body"].read(1 << 20), b""):
            digest.update(chunk)
        if digest.hexdigest() != declared.lower():
            raise FileRefused(
                "checksum_mismatch",
                "the file received differs from the one checked before upload: upload it again",
            )

    def _stream(
        self, ref: UploadRef, progress: Progress, zone_name: str | None, context: LambdaContext
    ) -> str:
        zone = resolve_time_zone(zone_name) if zone_name else None
        try:
            validation = CsvValidation(self._object(ref)["Body"], zone)
        except ContractViolation as violation:
            raise FileRefused(violation.code, violation.message, 1, violation.column) from None
        header = validation.header
        seen = self.checkpoints.load_keys(ref, progress)
        rejects = RejectsBuffer(header.names)
        countdown = TIME_CHECK_EVERY_ROWS
        with ItemWriter(
            self.dynamodb, self.settings.records_table, writers=self.settings.writers
        ) as writer:
            for line, fields, mrn, date_time, problems in validation.rows():
                if line < progress.next_line:
                    continue  # done by an earlier run
                countdown -= 1
                if countdown == 0:
                    countdown = TIME_CHECK_EVERY_ROWS
                    if context.get_remaining_time_in_millis() < self.settings.margin_ms:
                        writer.flush()
                        return self._continue(ref, progress, line, seen, rejects)
                progress.rows += 1
                if problems:
                    found = [problem.as_dict() for problem in problems]
                    progress.rejected += 1
                    progress.add_errors(found)
                    rejects.add(line, found, fields)
                    continue
                key = sort_key(mrn, date_time)
                digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest())
                if seen.add(digest):
                    progress.written += 1
                else:
                    progress.duplicates += 1  # the later row wins: the earlier is the duplicate
                writer.put(
                    to_item(
                        header,
                        fields,
                        mrn,
                        date_time,
                        provider_id=ref.provider,
                        upload_id=ref.upload_id,
                        source_line=line,
                        ingested_at=progress.started_at,
                    )
                )
        return self._finish(ref, progress, rejects)

    def _continue(
        self, ref: UploadRef, progress: Progress, line: int, seen: SeenKeys, rejects: RejectsBuffer
    ) -> str:
        """Save where this run stopped, and queue a message that picks up from there."""
        progress.next_line = line
        self.checkpoints.save(ref, progress, seen, rejects)
        self.sqs.send_message(
            QueueUrl=self.settings.queue_url, MessageBody=continuation_message(ref)
        )
        return "continued"

    def _finish(self, ref: UploadRef, progress: Progress, rejects: RejectsBuffer) -> str:
        if progress.rejected:
            self.checkpoints.write_rejects(ref, progress, rejects)
        document = report(ref, progress, _now())
        self._put_report(ref, document)
        self.checkpoints.clear(ref, progress)
        return document["status"]

    def _finish_failed(
        self, ref: UploadRef, progress: Progress | None, problem: dict[str, Any]
    ) -> str:
        """A failed report that still counts what earlier runs wrote (from the checkpoint)."""
        progress = progress or self.checkpoints.load(ref) or Progress(started_at=_now())
        self._put_report(ref, report(ref, progress, _now(), failure=problem))
        self.checkpoints.clear(ref, progress)
        return "failed"

    def _put_report(self, ref: UploadRef, document: dict[str, Any]) -> None:
        self.s3.put_object(
            Bucket=ref.bucket,
            Key=ref.report_key,
            Body=json.dumps(document, indent=2).encode(),
            ContentType="application/json",
        )


def _code(error: Exception) -> str:
    """An error's code for logs: AWS's error code, or the exception's type."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code", type(error).__name__)
    return type(error).__name__


def _failure(error: Exception) -> dict[str, Any]:
    return {
        "line": None,
        "column": None,
        "code": "processing_failed",
        "message": f"the file could not be processed after repeated attempts ({_code(error)})",
    }


_ingestor: Ingestor | None = None


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (SQS event source mapping with ReportBatchItemFailures)."""
    global _ingestor
    if _ingestor is None:
        import boto3

        _ingestor = Ingestor(
            boto3.client("s3"),
            boto3.client("dynamodb"),
            boto3.client("sqs"),
            Settings.from_environment(),
        )
    return _ingestor.handle_batch(event, context)
