"""The ingest Lambda: every uploaded row written to DynamoDB, or accounted for in a report.

SQS delivers S3 events (at least once); each names an uploaded CSV. The file is checked
against its declared SHA-256, streamed through the same validator as `ingest validate`,
and its valid rows are written with BatchWriteItem. The report says what became of every
row. A file too large for one run is saved at a checkpoint (the byte and line its next
record starts at) and continued by a message to the queue; the next run reads on from that
byte. Processing an upload again never changes the table or the report: rows are idempotent
puts (ingested_at is fixed when an upload starts), a finished upload is skipped, and a lease
in the uploads table lets one run at a time work on an upload, so a duplicate delivery that
arrives mid-way is dropped rather than racing the run that holds it.

Logs carry ids, counts, durations and error codes, never a value from a file.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import tzinfo
from typing import Any, Protocol

from ingestcli.core.aws_errors import error_name
from ingestcli.core.clock import Clock, epoch_ms, timestamp, utc_now
from ingestcli.core.contract import sort_key, to_item
from ingestcli.core.date_time import resolve_time_zone
from ingestcli.core.layout import UploadRef, parse_upload_key
from ingestcli.core.ledger import UploadLedger
from ingestcli.core.providers_table import ACTIVE, read_provider
from ingestcli.core.reports import Progress, build_report
from ingestcli.core.status import UploadStatus
from ingestcli.lambdas.ingest.admission import Admission, check_token
from ingestcli.lambdas.ingest.checkpoints import CheckpointStore
from ingestcli.lambdas.ingest.logs import log
from ingestcli.lambdas.ingest.messages import continuation_message, objects_in_message
from ingestcli.lambdas.ingest.progress_notes import ProgressNotes
from ingestcli.lambdas.ingest.refused import Refusals, RefusedRow, key_digest
from ingestcli.lambdas.ingest.rejects import RejectsBuffer
from ingestcli.lambdas.ingest.seen_keys import SeenKeys
from ingestcli.lambdas.ingest.settings import Settings
from ingestcli.lambdas.ingest.source import FileRefused, UploadSource
from ingestcli.lambdas.ingest.writer import ItemWriter


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Ingestor:
    """Turns queue messages into table items and reports, through injected clients."""

    def __init__(
        self, s3: Any, dynamodb: Any, sqs: Any, settings: Settings, *, clock: Clock = utc_now
    ) -> None:
        self.s3, self.dynamodb, self.sqs, self.settings = s3, dynamodb, sqs, settings
        self.clock = clock
        self.checkpoints = CheckpointStore(s3)
        self.ledger = UploadLedger(dynamodb, settings.uploads_table)

    def handle_batch(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Process each message on its own; report only the failed ones for a retry."""
        failures = []
        for record in event.get("Records", []):
            try:
                self.handle_message(record, context)
            except Exception as error:  # one file's failure must not fail the others
                log("message_failed", message_id=record.get("messageId"), error=error_name(error))
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def handle_message(self, record: dict[str, Any], context: LambdaContext) -> None:
        objects = objects_in_message(record["body"])
        receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        last_attempt = receives >= self.settings.max_receive_count
        for bucket, key, version_id in objects:
            ref = parse_upload_key(bucket, key, version_id)
            if ref is None or bucket != self.settings.bucket:
                log("skipped_object", reason="not_an_upload")  # rejects, reports, strays
                continue
            self.ingest(ref, context, last_attempt=last_attempt)

    def ingest(self, ref: UploadRef, context: LambdaContext, *, last_attempt: bool = False) -> str:
        """Ingest one upload, or the rest of it; returns its status, 'continued', 'done'
        (finished earlier) or 'busy' (another run holds it). On the last attempt a failure
        is reported (the message then goes to the dead-letter queue) before it is raised."""
        started = time.monotonic()
        upload = self.ledger.get(ref.provider, ref.upload_id)
        if upload is None:
            return self._refuse_unregistered(ref)
        admission = Admission(self.s3, self.ledger, self._put_report, self._now)
        ref, upload, skipped = admission.admit(ref, upload)  # one upload id is one file
        if skipped is not None:
            return skipped
        owner, now = uuid.uuid4().hex, epoch_ms(self.clock())
        until = now + context.get_remaining_time_in_millis() + self.settings.lease_grace_ms
        if not self.ledger.acquire(ref.provider, ref.upload_id, owner, now, until):
            log("upload_busy", upload_id=ref.upload_id, provider=ref.provider)
            return "busy"
        run = _Run(owner)
        try:
            outcome = self._ingest_leased(ref, upload, run, context)
        except Exception as error:
            if not last_attempt:
                self.ledger.release(ref.provider, ref.upload_id, owner)
                raise
            # The message goes to the dead-letter queue: tell the provider why.
            outcome = self._finish_failed(ref, run, _failure(error))
            self._log_outcome(outcome, ref, run.progress, started)
            admission.settle(ref)
            raise
        self._log_outcome(outcome, ref, run.progress, started)
        admission.settle(ref)
        return outcome

    def _ingest_leased(
        self, ref: UploadRef, upload: dict[str, Any], run: _Run, context: LambdaContext
    ) -> str:
        if self.checkpoints.exists(ref.bucket, ref.report_key):  # a run died after its report
            document = json.loads(self._s3_bytes(ref.report_key))
            leftover = self.checkpoints.load(ref)
            if leftover is not None:  # it died before removing its checkpoint files
                self.checkpoints.clear(ref, leftover)
            self.ledger.finish(ref.provider, ref.upload_id, run.owner, document)
            return "done"
        run.progress = self.checkpoints.load(ref)
        try:
            provider = self._active_provider(ref.provider)
            if run.progress is None:
                check_token(upload, provider)  # a URL of a rotated-out token ingests nothing
                UploadSource(self.s3, ref).check_sha256(upload.get("sha256"))
                run.progress = Progress(started_at=self._now())
                self.checkpoints.save(ref, run.progress, SeenKeys(), None)  # fixes ingested_at
            return self._stream(ref, run.progress, provider.get("time_zone"), context, run)
        except FileRefused as refused:
            return self._finish_failed(ref, run, refused.problem)

    def _refuse_unregistered(self, ref: UploadRef) -> str:
        """An object no upload URL was issued for: never ingested, and reported once."""
        admission = Admission(self.s3, self.ledger, self._put_report, self._now)
        return admission.refuse_unregistered(ref)

    def _log_outcome(
        self, outcome: str, ref: UploadRef, progress: Progress | None, started: float
    ) -> None:
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

    def _active_provider(self, provider_id: str) -> dict[str, Any]:
        item = read_provider(self.dynamodb, self.settings.providers_table, provider_id)
        if item is None:
            raise FileRefused("unknown_provider", "the provider is not registered")
        if item.get("status") != ACTIVE:
            raise FileRefused("provider_inactive", "the provider's access is revoked")
        return item

    def _s3_bytes(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.settings.bucket, Key=key)["Body"].read()

    def _now(self) -> str:
        return timestamp(self.clock())

    def _stream(
        self,
        ref: UploadRef,
        progress: Progress,
        zone_name: str | None,
        context: LambdaContext,
        run: _Run,
    ) -> str:
        zone: tzinfo | None = resolve_time_zone(zone_name) if zone_name else None
        validation = UploadSource(self.s3, ref).validation(progress, zone)
        header = validation.header
        seen = self.checkpoints.load_keys(ref, progress)
        rejects = RejectsBuffer(header.names)
        refusals = Refusals(self.dynamodb, self.settings.records_table, ref, progress, rejects)
        countdown = self.settings.time_check_every_rows
        notes = ProgressNotes(self.ledger, ref, run.owner, self.settings.progress_every_seconds)
        writer = ItemWriter(
            self.dynamodb, self.settings.records_table, writers=self.settings.writers
        )
        with _counts_true_unless(writer, run), writer:
            for line, fields, mrn, date_time, problems in validation.rows():
                progress.rows += 1
                if problems:
                    found = [problem.as_dict() for problem in problems]
                    rejects.reject(progress, line, found, fields)
                else:
                    digest = key_digest(sort_key(mrn, date_time))
                    if seen.add(digest):
                        progress.written += 1
                    else:
                        progress.duplicates += 1  # the later row wins: the earlier is counted
                    item = to_item(
                        header,
                        fields,
                        mrn,
                        date_time,
                        provider_id=ref.provider,
                        upload_id=ref.upload_id,
                        source_line=line,
                        ingested_at=progress.started_at,
                    )
                    writer.put(item, RefusedRow(line, fields, digest))  # the tag, if refused
                countdown -= 1
                if countdown == 0:
                    countdown = self.settings.time_check_every_rows
                    notes.due(progress, validation)  # a clock read; a note every few seconds
                    if context.get_remaining_time_in_millis() < self.settings.margin_ms:
                        seen = refusals.settle(writer, seen)  # before the checkpoint saves
                        progress.next_offset, progress.next_line = validation.position()
                        notes.note(progress, validation)
                        return self._continue(ref, progress, seen, rejects, run)
            refusals.settle(writer, seen)
        return self._finish(ref, progress, rejects, run)

    def _continue(
        self, ref: UploadRef, progress: Progress, seen: SeenKeys, rejects: RejectsBuffer, run: _Run
    ) -> str:
        """Save where this run stopped, queue a message that picks up from there, and hand
        the lease on so that run need not wait for this one's to run out."""
        self.checkpoints.save(ref, progress, seen, rejects)
        self.sqs.send_message(
            QueueUrl=self.settings.queue_url, MessageBody=continuation_message(ref)
        )
        self.ledger.release(ref.provider, ref.upload_id, run.owner)
        return "continued"

    def _finish(self, ref: UploadRef, progress: Progress, rejects: RejectsBuffer, run: _Run) -> str:
        if progress.rejected:
            self.checkpoints.write_rejects(ref, progress, rejects)
        document = build_report(ref, progress, self._now())
        self._put_report(ref, document)
        self.checkpoints.clear(ref, progress)
        self.ledger.finish(ref.provider, ref.upload_id, run.owner, document)
        return document["status"]

    def _finish_failed(self, ref: UploadRef, run: _Run, problem: dict[str, Any]) -> str:
        """A failed report that counts what this run and the earlier ones got through."""
        progress = run.progress or self.checkpoints.load(ref) or Progress(started_at=self._now())
        document = build_report(ref, progress, self._now(), failure=problem)
        self._put_report(ref, document)
        self.checkpoints.clear(ref, progress)
        self.ledger.finish(ref.provider, ref.upload_id, run.owner, document)
        return UploadStatus.FAILED

    def _put_report(self, ref: UploadRef, document: dict[str, Any]) -> None:
        self.s3.put_object(
            Bucket=ref.bucket,
            Key=ref.report_key,
            Body=json.dumps(document, indent=2).encode(),
            ContentType="application/json",
        )


def _failure(error: Exception) -> dict[str, Any]:
    return {
        "line": None,
        "column": None,
        "code": "processing_failed",
        "message": "the file could not be processed after repeated attempts "
        f"({error_name(error)}); the counts cover the rows ingested before that, though "
        "later rows may be in the table too: upload the file again",
    }


@contextlib.contextmanager
def _counts_true_unless(writer: ItemWriter, run: _Run) -> Iterator[None]:
    """On a failure, keep the run's counts for its report only if every row they count as
    written reached the table (the writer flushed without error, and refused nothing whose
    settling may not have finished); else the checkpoint's, which are settled."""
    try:
        yield
    except Exception:
        if writer.failed or writer.refused:
            run.progress = None
        raise


class _Run:
    """One invocation's hold on an upload: its lease owner id and what it got through."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.progress: Progress | None = None
