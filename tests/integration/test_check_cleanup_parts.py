"""`ingest check`'s clean-up aborts an upload in parts the canary left open (a check stopped
mid-way), under the canary's prefix only."""

from __future__ import annotations

from typing import Any

from ingestcli.services.check_cleanup import abort_uploads_in_parts
from support.names import BUCKET

CANARY = "ingest-canary-0123456789abcdef"


def test_only_the_canarys_open_uploads_in_parts_are_aborted(clients: Any) -> None:
    s3 = clients.s3
    s3.create_bucket(Bucket=BUCKET)
    opened = {
        key: s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        for key in (f"{CANARY}/uploads/a.csv", f"{CANARY}x/uploads/b.csv", "acme/uploads/c.csv")
    }
    said = abort_uploads_in_parts(s3, BUCKET, CANARY)
    assert said == f"1 unfinished upload(s) in parts under {CANARY}/ aborted"
    left = {entry["Key"] for entry in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])}
    assert left == set(opened) - {f"{CANARY}/uploads/a.csv"}
