"""Multipart uploads, for files too large for one PUT or one unbroken connection:

    POST /uploads {"filename", "size", "sha256", "part_size"}
                                     -> 201 {"upload_id", "key", "part_size", "parts",
                                             "expires_at"}: an upload opened, no URL yet
    POST /uploads/<id>/parts {"parts": [{"part_number", "sha256"}, ...]}
                                     -> 200 {"parts": [{"part_number", "url", "headers"}],
                                             "expires_at"}: one presigned UploadPart each
    GET  /uploads/<id>/parts         -> 200 {"upload_id", "status", "open", "part_size",
                                             "parts_total", "parts": [{"part_number", "size",
                                             "sha256"}]}: what S3 holds, to resume
    POST /uploads/<id>/complete      -> 200 {"upload_id", "key", "status"}

The server chooses the key, as for one PUT, and opens the multipart upload there with the
signer's credentials, under a session policy naming that one key; each part URL pins that
part's SHA-256 as a signed header (S3 refuses a body that does not match). Completing lists
the parts S3 holds and completes only a whole file: every part present, each of its planned
size (else 409 parts_missing), with `If-None-Match: *`. The whole file's SHA-256, declared
when the upload was opened, is what the ingest Lambda checks, as for one PUT (a multipart
ETag is no MD5). An upload stays open for the bucket's AbortIncompleteMultipartUpload days
(`expires_at`); once S3 aborts it, it shows as abandoned (core/upload_view.py).
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from ingestcli.core.aws_errors import error_code
from ingestcli.core.clock import timestamp
from ingestcli.core.layout import CONTENT_TYPE, ONE_PUT, UPLOAD_TAG
from ingestcli.core.multipart import (
    MAX_PARTS_PER_REQUEST,
    part_count,
    part_span,
    plan_problem,
)
from ingestcli.core.registration import register_upload
from ingestcli.core.status import UploadStatus
from ingestcli.core.upload_view import listed_parts, shown_status
from ingestcli.lambdas.api.answers import ApiError
from ingestcli.lambdas.api.signer import (
    checksum_header,
    headers_to_send,
    is_sha256_hex,
    signer_client,
)

NOT_OPEN = (
    "this upload is no longer open for parts (completed, abandoned, or aborted by the "
    "bucket's rule for unfinished uploads): upload the file again"
)


class Multipart:
    """The multipart routes of one provider's uploads, over the API's clients and settings."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def _signer(self, provider: str, key: str) -> Any:
        settings = self.api.settings
        return signer_client(
            self.api.s3,
            self.api.sts,
            role_arn=settings.signer_role_arn,
            bucket=settings.bucket,
            key=key,
            provider=provider,
            expiry=settings.url_expiry_seconds,
            kms_key_arn=settings.kms_key_arn,
            multipart=True,
        )

    def create(
        self, provider: str, filename: str, size: int, sha256: str, part_size: Any, token: str
    ) -> dict[str, Any]:
        """Register the upload and open its multipart upload at the key chosen for it."""
        if isinstance(part_size, bool) or not isinstance(part_size, int):
            raise ApiError(400, "invalid_part_size", "part_size must be a number of bytes")
        problem = plan_problem(size, part_size)
        if problem:
            raise ApiError(400, "invalid_part_size", problem)
        settings, now = self.api.settings, self.api.clock()
        upload = register_upload(
            self.api.ledger,
            provider,
            now=now,
            expires_in=settings.incomplete_upload_days * 86400,
            filename=filename,
            size=size,
            sha256=sha256,
            token_sha256=token,
            part_size=part_size,
        )
        try:
            opened = self._signer(provider, upload.key).create_multipart_upload(
                Bucket=settings.bucket,
                Key=upload.key,
                ContentType=CONTENT_TYPE,
                Tagging=UPLOAD_TAG,
                Metadata={"sha256": sha256, "filename": upload.filename or ""},
                ChecksumAlgorithm="SHA256",
            )
            self.api.ledger.open_multipart(provider, upload.upload_id, opened["UploadId"])
        except BaseException:
            self.api.ledger.abandon(provider, upload.upload_id)  # never left pending, unopened
            raise
        return {
            "upload_id": upload.upload_id,
            "key": upload.key,
            "part_size": part_size,
            "parts": part_count(size, part_size),
            "expires_at": upload.expires_at,
        }

    def _item(self, provider: str, upload_id: str) -> dict[str, Any]:
        item = self.api.ledger.get(provider, upload_id)
        if item is None:
            raise ApiError(404, "upload_not_found", "no such upload")
        if not item.get("multipart_id"):
            raise ApiError(409, "not_multipart", "this upload takes one PUT, not parts")
        return item

    def part_urls(self, provider: str, upload_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A presigned UploadPart for each part asked for, its SHA-256 pinned."""
        item = self._item(provider, upload_id)
        if item.get("status") != UploadStatus.PENDING:
            raise ApiError(409, "upload_not_open", NOT_OPEN)
        wanted = _wanted_parts(body, part_count(int(item["size"]), int(item["part_size"])))
        settings, key = self.api.settings, str(item["key"])
        signer, urls = self._signer(provider, key), []
        for number, sha256 in wanted:
            checksum = checksum_header(sha256)
            url = signer.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": settings.bucket,
                    "Key": key,
                    "UploadId": item["multipart_id"],
                    "PartNumber": number,
                    "ChecksumSHA256": checksum,
                },
                ExpiresIn=settings.url_expiry_seconds,
            )
            headers = headers_to_send(url, {"x-amz-checksum-sha256": checksum}, part=True)
            urls.append({"part_number": number, "url": url, "headers": headers})
        expires_at = self.api.clock() + timedelta(seconds=settings.url_expiry_seconds)
        return {"parts": urls, "expires_at": timestamp(expires_at)}

    def stored_parts(self, provider: str, upload_id: str) -> dict[str, Any]:
        """The parts S3 holds (number, size, SHA-256 when S3 gives it), to resume by."""
        item = self._item(provider, upload_id)
        lifecycle = self.api.lifecycle
        status = shown_status(item, self.api.clock(), lifecycle.object_exists, lifecycle.open)
        parts = self._listed(item) if status == UploadStatus.PENDING else None
        return {
            "upload_id": upload_id,
            "status": status,
            "open": parts is not None,
            "part_size": int(item["part_size"]),
            "parts_total": part_count(int(item["size"]), int(item["part_size"])),
            "parts": [_shown_part(part) for part in parts or []],
        }

    def _listed(self, item: dict[str, Any]) -> list[dict[str, Any]] | None:
        return listed_parts(
            self.api.s3, self.api.settings.bucket, item["key"], item["multipart_id"]
        )

    def complete(self, provider: str, upload_id: str) -> dict[str, Any]:
        """Complete the upload from the parts S3 holds, once they make the whole file."""
        item = self._item(provider, upload_id)
        key, answer = str(item["key"]), {"upload_id": upload_id, "key": item["key"]}
        parts = self._listed(item) if item.get("status") == UploadStatus.PENDING else None
        if parts is None:
            if self.api.lifecycle.object_exists(key):  # completed before: a retry
                return answer | {"status": item.get("status")}
            raise ApiError(409, "upload_not_open", NOT_OPEN)
        size, part_size = int(item["size"]), int(item["part_size"])
        total = part_count(size, part_size)
        held = {
            part["PartNumber"]: part
            for part in parts
            if part.get("Size") == part_span(size, part_size, part["PartNumber"])[1]
        }
        missing = total - sum(1 for number in range(1, total + 1) if number in held)
        if missing:
            raise ApiError(
                409,
                "parts_missing",
                f"{missing} of {total} parts are not stored whole: send them, then complete",
            )
        listing = [_completed_part(held[number]) for number in range(1, total + 1)]
        try:
            self._signer(provider, key).complete_multipart_upload(
                Bucket=self.api.settings.bucket,
                Key=key,
                UploadId=item["multipart_id"],
                MultipartUpload={"Parts": listing},
                MpuObjectSize=size,
                IfNoneMatch=ONE_PUT,
            )
        except Exception as error:
            if error_code(error) in ("NoSuchUpload", "PreconditionFailed"):
                if self.api.lifecycle.object_exists(key):
                    return answer | {"status": item.get("status")}
                raise ApiError(409, "upload_not_open", NOT_OPEN) from None
            if error_code(error) in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
                raise ApiError(
                    409, "parts_missing", "S3 refused the parts: send them again"
                ) from None
            raise
        return answer | {"status": UploadStatus.PENDING}


def _wanted_parts(body: dict[str, Any], total: int) -> list[tuple[int, str]]:
    """[(part number, SHA-256 hex)] from a request's body, each checked."""
    parts = body.get("parts")
    if not isinstance(parts, list) or not 1 <= len(parts) <= MAX_PARTS_PER_REQUEST:
        raise ApiError(
            400, "invalid_parts", f"parts must be a list of 1 to {MAX_PARTS_PER_REQUEST} parts"
        )
    wanted = []
    for part in parts:
        number = part.get("part_number") if isinstance(part, dict) else None
        sha256 = part.get("sha256") if isinstance(part, dict) else None
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= total:
            raise ApiError(400, "invalid_parts", f"part_number must be from 1 to {total}")
        if not is_sha256_hex(sha256):
            raise ApiError(400, "invalid_parts", "sha256 must be 64 hexadecimal characters")
        wanted.append((number, sha256.lower()))
    return wanted


def _shown_part(part: dict[str, Any]) -> dict[str, Any]:
    checksum = part.get("ChecksumSHA256")
    sha256 = base64.b64decode(checksum).hex() if checksum else None
    return {"part_number": part["PartNumber"], "size": part["Size"], "sha256": sha256}


def _completed_part(part: dict[str, Any]) -> dict[str, Any]:
    """A part as CompleteMultipartUpload takes it: its checksum too when S3 listed one
    (S3 lists it, and requires it, for an upload opened with a checksum algorithm)."""
    done = {"PartNumber": part["PartNumber"], "ETag": part["ETag"]}
    return done | ({"ChecksumSHA256": part["ChecksumSHA256"]} if part.get("ChecksumSHA256") else {})
