"""The multipart part of the IAM-enforced tier: a file sent in parts through the API's routes,
under the roles the stack gives (support.iam_enforced), every call recorded.

The API opens the upload with a signer session (CreateMultipartUpload), hands out a URL per
part, and the parts go up to those URLs as a provider sends them (presigned UploadPart, as
the session that signed them); GET .../parts lists them with the API's own role (ListParts)
and completing lists them again and completes with a signer session. A second upload is
opened and then aborted with the admin's credentials, standing in for the bucket's
AbortIncompleteMultipartUpload rule (moto runs no lifecycle rule), so that its status, asked
of ListParts, shows as abandoned.

The file is two parts, as S3 takes them: the first exactly 5 MiB (S3's smallest part but the
last; moto refuses smaller ones at completion, EntityTooSmall), the last a few rows. Its rows
carry long notes, so that 5 MiB is a dozen rows, each item under DynamoDB's 400 KB: the
ingest function reads the completed object and writes every row in one run.

ACTIONS: single actions the tier takes out of a statement, with the operations each must
then refuse (all of them, as AWS's S3 API reference maps them; see support.iam_calls).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import requests

from ingestcli.core.multipart import MIN_PART_BYTES
from support.api_calls import declare, event
from support.iam_statements import DEPLOYS
from support.ingest_events import csv_bytes

NOTE_BYTES = 380_000  # each row's item stays under the contract's 400 KB
BIG_ROWS = MIN_PART_BYTES // NOTE_BYTES + 1  # enough to pass the first part's 5 MiB
TAIL_ROWS = 3


def body() -> bytes:
    """The file: BIG_ROWS rows of long notes, then TAIL_ROWS short ones."""
    rows = [
        [f"P{n:05d}", f"2024-03-02T10:{n:02d}:00Z", chr(ord("a") + n % 26) * NOTE_BYTES]
        for n in range(BIG_ROWS)
    ]
    rows += [[f"Q{n:05d}", f"2024-03-02T11:{n:02d}:00Z", "tail"] for n in range(TAIL_ROWS)]
    return csv_bytes(rows)


BODY = body()
ROWS = BIG_ROWS + TAIL_ROWS
PARTS = [BODY[:MIN_PART_BYTES], BODY[MIN_PART_BYTES:]]
assert 0 < len(PARTS[1]) < MIN_PART_BYTES, len(BODY)


def api_call(api: Any, method: str, path: str, token: str, **parts: Any) -> tuple[int, Any]:
    answer = api.invoke(event(method, path, token, **parts))
    return answer["statusCode"], json.loads(answer["body"])


def send_in_parts(stack: Any, api: Any, token: str) -> dict[str, Any]:
    """Open, send both parts, list them, complete: what each step answered."""
    got: dict[str, Any] = {}
    declared = declare(BODY, "large.csv", part_size=MIN_PART_BYTES)
    got["open"] = api_call(api, "POST", "/uploads", token, body=declared)
    upload_id = got["open"][1]["upload_id"]
    asked = [
        {"part_number": n, "sha256": hashlib.sha256(part).hexdigest()}
        for n, part in enumerate(PARTS, 1)
    ]
    got["urls"] = api_call(api, "POST", f"/uploads/{upload_id}/parts", token, body={"parts": asked})
    sent = []
    for part in got["urls"][1]["parts"]:
        url, headers = part["url"], part["headers"]
        answer = requests.put(url, data=PARTS[part["part_number"] - 1], headers=headers, timeout=60)
        stack.recorder.presigned_put(url, headers, answer.status_code)
        sent.append(answer.status_code)
    got["sent"] = sent
    got["listed"] = api_call(api, "GET", f"/uploads/{upload_id}/parts", token)
    got["complete"] = api_call(api, "POST", f"/uploads/{upload_id}/complete", token)
    got["upload_id"], got["key"] = upload_id, got["open"][1]["key"]
    return got


def abort_one(stack: Any, api: Any, token: str) -> dict[str, Any]:
    """An upload in parts opened, then aborted as the bucket's rule would; its parts as the
    API shows them then (its status: in the API's list and support staff's)."""
    got: dict[str, Any] = {}
    declared = declare(BODY, "given-up.csv", part_size=MIN_PART_BYTES)
    got["open"] = api_call(api, "POST", "/uploads", token, body=declared)
    upload_id, key = got["open"][1]["upload_id"], got["open"][1]["key"]
    s3 = stack.client("s3")  # the admin: not recorded, as S3's own lifecycle is not
    (opened,) = s3.list_multipart_uploads(Bucket=stack.outputs["UploadsBucket"], Prefix=key)[
        "Uploads"
    ]
    s3.abort_multipart_upload(
        Bucket=stack.outputs["UploadsBucket"], Key=key, UploadId=opened["UploadId"]
    )
    got["parts"] = api_call(api, "GET", f"/uploads/{upload_id}/parts", token)
    got["upload_id"] = upload_id
    return got


SENDS = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
OPENS = {"PutObject", "CreateMultipartUpload"}  # a tag and a data key: given at the opening
DECRYPTS = {"UploadPart", "CompleteMultipartUpload"}
ACTIONS = [  # (deploy, "who:statement", action, operations it must refuse)
    *[
        found
        for deploy in DEPLOYS
        for found in (
            (deploy, "signer:PutUploads", "s3:PutObject", SENDS),
            (deploy, "signer-session:PutOneUpload", "s3:PutObject", SENDS),
            (deploy, "signer:PutUploads", "s3:PutObjectTagging", OPENS),
            (deploy, "api:ListUploadParts", "s3:ListMultipartUploadParts", {"ListParts"}),
            (deploy, "support:ListUploadParts", "s3:ListMultipartUploadParts", {"ListParts"}),
        )
    ],
    ("kms", "signer:Kms", "kms:GenerateDataKey", OPENS),
    ("kms", "signer:Kms", "kms:Decrypt", DECRYPTS),
    ("kms", "signer-session:EncryptOneUpload", "kms:Decrypt", DECRYPTS),
    ("kms", "api:Kms", "kms:Decrypt", {"GetObject", "ListParts"}),
]
