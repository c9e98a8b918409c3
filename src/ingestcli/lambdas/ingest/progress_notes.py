"""How far a run has got, noted in the uploads table as it goes, so the provider can see a
long file move (`GET /uploads/<id>`: rows so far, bytes read so far, the file's size).

A note is one UpdateItem, made only while this run holds the upload's lease (another run
that took it over raises LeaseLost here, and this one stops). Notes come at most every
`every_seconds` of a run, and at each checkpoint; the hot loop pays for them with one
monotonic clock read each time it already asks how much time is left (every
`time_check_every_rows` rows). A note holds counts only, never a value from the file. A note
that fails for another reason is logged and skipped: it is only a display.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from ingestcli.core.aws_errors import error_name
from ingestcli.core.layout import UploadRef
from ingestcli.core.ledger import LeaseLost, UploadLedger
from ingestcli.core.reports import Progress
from ingestcli.lambdas.ingest.logs import log


class Positioned(Protocol):
    def position(self) -> tuple[int, int]: ...


class ProgressNotes:
    """One run's notes of its progress on one upload."""

    def __init__(
        self,
        ledger: UploadLedger,
        ref: UploadRef,
        owner: str,
        every_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger, self.ref, self.owner = ledger, ref, owner
        self.every_seconds, self.clock = every_seconds, clock
        self.next_at = clock() + every_seconds

    def due(self, progress: Progress, validation: Positioned) -> None:
        """Note the progress if the last note (or the run's start) is old enough."""
        if self.clock() >= self.next_at:
            self.note(progress, validation)

    def note(self, progress: Progress, validation: Positioned) -> None:
        """Note the rows counted so far and the byte the next record starts at."""
        read, _line = validation.position()
        self.next_at = self.clock() + self.every_seconds
        ref = self.ref
        try:
            self.ledger.note_progress(
                ref.provider, ref.upload_id, self.owner, progress.rows, read, progress.size
            )
        except LeaseLost:
            log("lease_lost", upload_id=ref.upload_id, provider=ref.provider)
            raise
        except Exception as error:
            log("progress_not_noted", upload_id=ref.upload_id, error=error_name(error))
