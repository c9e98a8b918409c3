"""How an upload comes to be: the server chooses its id and key, and records it, pending, in
the uploads table (core/ledger.py) before any URL for it is handed out.

The file name a provider gives is kept as metadata only, in characters safe in an HTTP
header and a log; the token that asked for the URL is kept as a short fingerprint, never
the token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ingestcli.core.clock import timestamp
from ingestcli.core.layout import new_upload_id, upload_key

if TYPE_CHECKING:
    from ingestcli.core.ledger import UploadLedger

MAX_FILENAME_CHARS = 200
# Hex characters of a token's SHA-256 an upload keeps: enough to tell one token from the next
# (a 2**-64 chance of two alike), too few to stand for the token's hash anywhere else.
TOKEN_FINGERPRINT_CHARS = 16
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9 ._()+-]", re.ASCII)


@dataclass(frozen=True)
class NewUpload:
    """An upload just registered: where its file goes and until when its URL works."""

    upload_id: str
    key: str
    filename: str | None
    created_at: str
    expires_at: str


def safe_filename(name: str) -> str:
    """The base name, in characters safe in an HTTP header and a log: metadata only."""
    base = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", base).strip(" .")
    return cleaned[:MAX_FILENAME_CHARS] or "upload.csv"


def token_fingerprint(token_sha256: str) -> str:
    """What an upload records of the token that asked for it: the start of its SHA-256 (the
    providers table's token_sha256), never the token."""
    return token_sha256[:TOKEN_FINGERPRINT_CHARS].lower()


def register_upload(
    ledger: UploadLedger,
    provider: str,
    *,
    now: datetime,
    expires_in: int,
    filename: str | None = None,
    size: int | None = None,
    sha256: str | None = None,
    token_sha256: str | None = None,
    part_size: int | None = None,
) -> NewUpload:
    """Choose a new upload's id and key, and record it as pending: the one way an upload
    comes to be, for the API and for an operator's `ingest presign` alike. The API passes
    the SHA-256 of the token it was called with, so the upload ingests nothing once that
    token is rotated out; an operator's URL carries none and is bound to no token. A
    multipart upload records its `part_size`, and its S3 upload id once opened."""
    upload_id = new_upload_id(now)
    upload = NewUpload(
        upload_id=upload_id,
        key=upload_key(provider, upload_id, now),
        filename=safe_filename(filename) if filename is not None else None,
        created_at=timestamp(now),
        expires_at=timestamp(now + timedelta(seconds=expires_in)),
    )
    ledger.register(
        provider,
        upload_id,
        key=upload.key,
        filename=upload.filename,
        size=size,
        sha256=sha256,
        token_fingerprint=token_fingerprint(token_sha256) if token_sha256 else None,
        part_size=part_size,
        created_at=upload.created_at,
        expires_at=upload.expires_at,
    )
    return upload
