"""The words an upload's status is spelled with, in the uploads table, reports and the API.

A StrEnum, so each member is the plain string stored in DynamoDB and sent as JSON.
"""

from __future__ import annotations

from enum import StrEnum


class UploadStatus(StrEnum):
    PENDING = "pending"  # a URL was issued; nothing has arrived yet
    PROCESSING = "processing"  # an ingest run holds (or held) the upload
    SUCCEEDED = "succeeded"  # every row written
    PARTIAL = "partial"  # some rows written, some rejected
    FAILED = "failed"  # nothing written, or the file was refused
    ABANDONED = "abandoned"  # the provider gave the upload up before its file was sent
    # Derived, never stored: pending, its URL has expired, and no file is at its key.
    EXPIRED = "expired"


FINISHED = frozenset({UploadStatus.SUCCEEDED, UploadStatus.PARTIAL, UploadStatus.FAILED})
# Uploads whose file never reached the bucket (as far as anyone knows yet): a file that still
# lands at an abandoned upload's key is ingested, and its status moves on.
NEVER_ARRIVED = frozenset({UploadStatus.ABANDONED, UploadStatus.EXPIRED})

# The codes an upload is flagged with for what arrived at its key, not for its rows: they name
# the error entry of its report and what `ingest uploads` shows beside its status.
SECOND_FILE_IGNORED = "second_file_ignored"  # one upload id is one file: a later one is not read
TOKEN_ROTATED = "token_rotated"  # its URL came from a token rotated or revoked since
