"""Whether an object that reached an upload's key is that upload's file, before any run
reads it.

One upload id is one file. A URL signs `If-None-Match: *`, so S3 takes one PUT; but a URL
issued before that rule, or a tool that drops the header where S3 checks no signature (moto),
can still leave a second object version at the key. The first version read is the upload:
its VersionId (from the S3 event, or HeadObject when the event carries none, as on moto) and
its ETag are pinned in the uploads table, and every later run reads that version. Any other
version is never ingested and never skipped silently: it is counted in the uploads table
(`extra_versions`) and its report gains an error with code SECOND_FILE_IGNORED, while the
report keeps the first file's status and counts. The provider is told to send that file
again, with a new URL.

An upload the API issued records a fingerprint of the token that asked for it; a first run
that finds the provider's token changed since (rotated) refuses the file with code
TOKEN_ROTATED. A run that already started goes on: its file arrived while the token was
good. Uploads from `ingest presign` carry no fingerprint and are bound to no token.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ingestcli.core.aws_errors import is_missing
from ingestcli.core.layout import UploadRef
from ingestcli.core.ledger import UploadLedger, token_fingerprint
from ingestcli.core.reports import MAX_REPORTED_ERRORS, Progress, build_report, read_report
from ingestcli.core.status import FINISHED, SECOND_FILE_IGNORED, TOKEN_ROTATED, UploadStatus
from ingestcli.lambdas.ingest.logs import log
from ingestcli.lambdas.ingest.source import FileRefused

SECOND_FILE_MESSAGE = (
    "another file was sent to this upload's URL after the first: it was not ingested (one "
    "upload is one file); upload it again, with a new URL"
)
TOKEN_ROTATED_MESSAGE = (
    "the upload URL was issued for a token that has since been replaced: nothing was "
    "ingested; upload the file again with your current token"
)


def check_token(upload: dict[str, Any], provider: dict[str, Any]) -> None:
    """Refuse (FileRefused TOKEN_ROTATED) a file whose URL came from a token the provider no
    longer has; an upload with no recorded token (an operator's URL) passes."""
    recorded = upload.get("token_fingerprint")
    if recorded and recorded != token_fingerprint(str(provider.get("token_sha256", ""))):
        raise FileRefused(TOKEN_ROTATED, TOKEN_ROTATED_MESSAGE)


class Admission:
    """Pins an upload to its first object version and flags any later one."""

    def __init__(
        self,
        s3: Any,
        ledger: UploadLedger,
        put_report: Callable[[UploadRef, dict[str, Any]], None],
        now: Callable[[], str],
    ) -> None:
        self.s3, self.ledger, self.put_report, self.now = s3, ledger, put_report, now

    def admit(
        self, ref: UploadRef, upload: dict[str, Any]
    ) -> tuple[UploadRef, dict[str, Any], str | None]:
        """The ref pinned to the upload's version, the item, and the outcome when there is
        nothing to ingest: 'done' (the upload's own file, finished) or SECOND_FILE_IGNORED."""
        identity = self._identity(ref)
        if identity is not None and "object_version" not in upload:
            upload = self.ledger.pin_version(ref.provider, ref.upload_id, *identity)
        second = identity is not None and not _same(upload, *identity)
        if second:
            log(SECOND_FILE_IGNORED, upload_id=ref.upload_id, provider=ref.provider)
            upload = self.ledger.note_extra_version(ref.provider, ref.upload_id, _name(identity))
        if upload.get("object_version"):
            ref = dataclasses.replace(ref, version_id=str(upload["object_version"]))
        elif upload.get("object_etag"):  # no versions: every run reads that ETag or nothing
            ref = dataclasses.replace(ref, etag=str(upload["object_etag"]))
        if upload["status"] not in FINISHED:
            return ref, upload, None
        if second:
            self._flag_report(ref)
            return ref, upload, SECOND_FILE_IGNORED
        log("already_ingested", upload_id=ref.upload_id, provider=ref.provider)
        return ref, upload, "done"

    def settle(self, ref: UploadRef) -> None:
        """After a run: if the upload is finished and later versions reached it meanwhile,
        its report says so (whichever of this run and the flagging event comes last does it)."""
        upload = self.ledger.get(ref.provider, ref.upload_id) or {}
        if upload.get("extra_versions") and upload.get("status") in FINISHED:
            self._flag_report(ref)

    def refuse_unregistered(self, ref: UploadRef) -> str:
        """An object no upload URL was issued for: never ingested, and reported once."""
        log("unregistered_upload", upload_id=ref.upload_id, provider=ref.provider)
        if self._report(ref) is None:
            problem = FileRefused(
                "unknown_upload", "no upload URL was issued for this file: upload it with ingest"
            ).problem
            now = self.now()
            self.put_report(ref, build_report(ref, Progress(started_at=now), now, problem))
        return UploadStatus.FAILED

    def _identity(self, ref: UploadRef) -> tuple[str | None, str | None] | None:
        """(VersionId, ETag) of the object the event names: the event's version, else the
        current one. None when it is gone (the run that reads it reports that)."""
        if ref.version_id:
            return ref.version_id, None
        try:
            head = self.s3.head_object(Bucket=ref.bucket, Key=ref.key)
        except Exception as error:
            if is_missing(error):
                return None
            raise
        version = head.get("VersionId")
        return (version if version and version != "null" else None), head.get("ETag")

    def _report(self, ref: UploadRef) -> dict[str, Any] | None:
        return read_report(self.s3, ref.bucket, ref.provider, ref.upload_id)

    def _flag_report(self, ref: UploadRef) -> None:
        """Add the SECOND_FILE_IGNORED error to the finished report, once; its status and
        counts stay the first file's."""
        document = self._report(ref)
        if document is None:
            return
        errors = document.get("errors") or []
        if any(problem.get("code") == SECOND_FILE_IGNORED for problem in errors):
            return
        problem = {"line": None, "column": None, "code": SECOND_FILE_IGNORED}
        document["errors"] = [problem | {"message": SECOND_FILE_MESSAGE}, *errors][
            :MAX_REPORTED_ERRORS
        ]
        if isinstance(document.get("error_counts"), dict):
            counts = document["error_counts"]
            counts[SECOND_FILE_IGNORED] = counts.get(SECOND_FILE_IGNORED, 0) + 1
        self.put_report(ref, document)


def _same(upload: dict[str, Any], version: str | None, etag: str | None) -> bool:
    """Whether the object is the one the upload is pinned to: by version where both have one,
    else by ETag (an unversioned bucket); unknown counts as the same."""
    pinned_version, pinned_etag = upload.get("object_version"), upload.get("object_etag")
    if version and pinned_version:
        return version == pinned_version
    if etag and pinned_etag:
        return etag == pinned_etag
    return True


def _name(identity: tuple[str | None, str | None]) -> str:
    version, etag = identity
    return version or f"etag:{etag}"
