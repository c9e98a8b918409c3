"""The uploaded file as one run reads it: checked against its declared SHA-256, then opened
for validation from its first record or, for a later run, from where the last one stopped.
"""

from __future__ import annotations

import hashlib
from datetime import tzinfo
from typing import Any

from ingestcli.core.aws_errors import is_precondition_failure
from ingestcli.core.contract import ContractViolation
from ingestcli.core.layout import UploadRef
from ingestcli.core.reports import Progress
from ingestcli.core.validate import CsvValidation, Resume
from ingestcli.lambdas.ingest.logs import log
from ingestcli.lambdas.ingest.s3_reader import ObjectReader


class FileRefused(Exception):
    """The whole file is refused (unknown provider, checksum, header): reported, not retried."""

    def __init__(self, code: str, message: str, line: int | None = None, column=None) -> None:
        super().__init__(code)
        self.problem = {"line": line, "column": column, "code": code, "message": message}


class UploadSource:
    def __init__(self, s3: Any, ref: UploadRef) -> None:
        self.s3, self.ref = s3, ref

    def _reader(self, start: int = 0) -> ObjectReader:
        ref = self.ref
        try:
            return ObjectReader(self.s3, ref.bucket, ref.key, ref.version_id, start, etag=ref.etag)
        except Exception as error:
            if not is_precondition_failure(error):
                raise
            raise FileRefused(  # a bucket without versions, and another file at the key
                "file_changed",
                "another file replaced this one at its key while it was being ingested: the "
                "counts cover the rows read before that; upload the file again",
            ) from None

    def check_sha256(self, declared: str | None) -> None:
        """Compare the body with the SHA-256 the provider declared when asking for the URL
        (kept in the uploads table, since S3 may not enforce it): a mismatch is never
        ingested."""
        if declared is None:  # a URL an operator issued by hand pins no checksum
            log("no_declared_checksum", upload_id=self.ref.upload_id)
            return
        body, digest = self._reader(), hashlib.sha256()
        for chunk in iter(lambda: body.read(1 << 20), b""):
            digest.update(chunk)
        if digest.hexdigest() != declared.lower():
            raise FileRefused(
                "checksum_mismatch",
                "the file received differs from the one checked before upload: upload it again",
            )

    def validation(self, progress: Progress, zone: tzinfo | None) -> CsvValidation:
        """The file from its first record, or, for a later run, from where the last one
        stopped: a Range read from that byte, with the header read again from the start."""
        if not progress.next_offset:
            body = self._reader()
            try:
                validation = CsvValidation(body, zone)
            except ContractViolation as violation:
                raise FileRefused(violation.code, violation.message, 1, violation.column) from None
            progress.size, progress.header_end = body.size or 0, validation.header_end or 0
            return validation
        header = CsvValidation(_Prefix(self._reader(), progress.header_end), zone).header
        rest: Any = _Prefix(None, 0)  # nothing is left to read
        if progress.next_offset < progress.size:
            rest = self._reader(progress.next_offset)
        resume = Resume(header, progress.next_offset, progress.next_line)
        return CsvValidation(rest, zone, resume=resume)


class _Prefix:
    """The first `size` bytes of a stream (the header, read again by a later run)."""

    def __init__(self, source: Any, size: int) -> None:
        self._source, self._left = source, size

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._source.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data
