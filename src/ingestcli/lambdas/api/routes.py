"""The provider API behind the function URL: presigned upload URLs and upload status.

    POST /uploads              {"filename", "size", "sha256"} -> 201 a URL for one PUT
    GET  /uploads?limit=N      -> 200 {"uploads": [...]}, newest first
    GET  /uploads/<upload_id>  -> 200 the upload's report, or its status and progress before
    POST /uploads/<upload_id>/abandon, GET /provider: see lifecycle.py
    POST /uploads with "part_size", POST|GET /uploads/<upload_id>/parts,
    POST /uploads/<upload_id>/complete: a file sent in parts, see multipart.py

Every request carries `Authorization: Bearer <token>`; the token alone decides the provider,
so the provider is never read from the request. The server picks every key. A presigned
URL is signed by the signer role under a session policy for that one key, and pins the
content type, the SHA-256 (as a signed x-amz-checksum-sha256 header, which S3 enforces),
the tag the lifecycle rule expires raw uploads by, and `If-None-Match: *`, so the URL takes
one PUT: a second one gets 412 PreconditionFailed (one upload id is one file). The upload
records a fingerprint of the token that asked for it; once that token is rotated out or
revoked, a file sent to the URL is not ingested (the ingest Lambda checks). Logs carry ids,
routes and status codes; never a token, a file name or a body.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from ingestcli.core.clock import Clock, utc_now
from ingestcli.core.layout import CONTENT_TYPE, ONE_PUT, UPLOAD_TAG, parse_upload_key
from ingestcli.core.ledger import UploadLedger, register_upload
from ingestcli.core.multipart import MAX_PUT_BYTES
from ingestcli.lambdas.api.answers import ApiError
from ingestcli.lambdas.api.answers import respond as _response
from ingestcli.lambdas.api.auth import UNAUTHORIZED, Unauthorized, authenticate
from ingestcli.lambdas.api.lifecycle import Lifecycle, check_upload_id, provider_settings
from ingestcli.lambdas.api.multipart import Multipart
from ingestcli.lambdas.api.signer import (
    checksum_header,
    headers_to_send,
    is_sha256_hex,
    signer_client,
)

logger = logging.getLogger("ingest.api")
logger.setLevel(logging.INFO)

MAX_BODY_BYTES = 16 * 1024
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
# The methods each route takes: a request with another one is answered 405 with these.
ALLOWED = {
    "/provider": "GET",
    "/uploads": "GET, POST",
    "/uploads/{upload_id}": "GET",
    "/uploads/{upload_id}/abandon": "POST",
    "/uploads/{upload_id}/parts": "GET, POST",
    "/uploads/{upload_id}/complete": "POST",
}


@dataclass(frozen=True)
class Settings:
    providers_table: str
    uploads_table: str
    bucket: str
    signer_role_arn: str
    url_expiry_seconds: int = 300
    kms_key_arn: str = ""  # the stack's KMS key (KmsKeyArn), empty without one
    incomplete_upload_days: int = 7  # the bucket's AbortIncompleteMultipartUpload rule

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> Settings:
        """From the function's environment variables (the template sets them)."""
        return cls(
            providers_table=environment["PROVIDERS_TABLE"],
            uploads_table=environment["UPLOADS_TABLE"],
            bucket=environment["UPLOADS_BUCKET"],
            signer_role_arn=environment["SIGNER_ROLE_ARN"],
            url_expiry_seconds=int(environment.get("URL_EXPIRY_SECONDS", "300")),
            kms_key_arn=environment.get("KMS_KEY_ARN", ""),
            incomplete_upload_days=int(environment.get("INCOMPLETE_UPLOAD_DAYS", "7")),
        )


class Api:
    """The routes, over injected boto3 clients (S3, DynamoDB, STS) and clock."""

    def __init__(
        self, s3: Any, dynamodb: Any, sts: Any, settings: Settings, *, clock: Clock = utc_now
    ) -> None:
        self.s3, self.dynamodb, self.sts, self.settings = s3, dynamodb, sts, settings
        self.clock = clock
        self.ledger = UploadLedger(dynamodb, settings.uploads_table)
        self.lifecycle = Lifecycle(self.ledger, s3, settings.bucket)
        self.multipart = Multipart(self)

    def handler(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """One function-URL event (payload 2.0) in, one response out; one log line each."""
        started = time.monotonic()
        method = event.get("requestContext", {}).get("http", {}).get("method", "")
        path = event.get("rawPath", "/").rstrip("/") or "/"
        line: dict[str, Any] = {"event": "request", "method": method, "route": "unknown"}
        try:
            response = self._route(event, method, path, line)
        except Unauthorized:
            document = {"error": {"code": "unauthorized", "message": UNAUTHORIZED}}
            response = _response(401, document)
        except ApiError as error:
            allowed = ALLOWED.get(line["route"], "GET")
            extra = {"allow": allowed} if error.status == 405 else None
            document = {"error": {"code": error.code, "message": error.message}}
            response = _response(error.status, document, extra)
        except Exception as error:
            line["error_type"] = type(error).__name__
            document = {"error": {"code": "internal_error", "message": "internal error"}}
            response = _response(500, document)
        line["status"] = response["statusCode"]
        line["duration_ms"] = round((time.monotonic() - started) * 1000)
        logger.info(json.dumps(line))
        return response

    def _route(self, event: dict, method: str, path: str, line: dict[str, Any]) -> dict:
        headers = event.get("headers") or {}
        caller = authenticate(self.dynamodb, self.settings.providers_table, headers, line)
        provider, parts = caller.provider, path.split("/")
        if path == "/provider":
            line["route"] = "/provider"
            if method == "GET":
                table = self.settings.providers_table
                return _response(200, provider_settings(self.dynamodb, table, provider))
        elif path == "/uploads":
            line["route"] = "/uploads"
            if method == "POST":
                return self._create(provider, _json_body(event), line, caller.token_sha256)
            if method == "GET":
                return self._list(provider, _query(event))
        elif len(parts) == 3 and parts[1] == "uploads":
            line["route"] = "/uploads/{upload_id}"
            if method == "GET":
                upload_id = check_upload_id(parts[2], line)
                return _response(200, self.lifecycle.status(provider, upload_id, self.clock()))
        elif len(parts) == 4 and parts[1] == "uploads" and parts[3] == "abandon":
            line["route"] = "/uploads/{upload_id}/abandon"
            if method == "POST":
                upload_id = check_upload_id(parts[2], line)
                return _response(200, self.lifecycle.abandon(provider, upload_id, self.clock()))
        elif len(parts) == 4 and parts[1] == "uploads" and parts[3] in ("parts", "complete"):
            line["route"] = f"/uploads/{{upload_id}}/{parts[3]}"
            upload_id = check_upload_id(parts[2], line)
            if parts[3] == "parts" and method == "GET":
                return _response(200, self.multipart.stored_parts(provider, upload_id))
            if parts[3] == "parts" and method == "POST":
                body = _json_body(event)
                return _response(200, self.multipart.part_urls(provider, upload_id, body))
            if parts[3] == "complete" and method == "POST":
                return _response(200, self.multipart.complete(provider, upload_id))
        else:
            raise ApiError(404, "not_found", "no such route")
        raise ApiError(405, "method_not_allowed", "that method is not allowed here")

    def _create(
        self, provider: str, body: dict[str, Any], line: dict[str, Any], token_sha256: str
    ) -> dict:
        filename, size, sha256 = body.get("filename"), body.get("size"), body.get("sha256")
        if not isinstance(filename, str):
            raise ApiError(400, "invalid_filename", "filename must be a string")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ApiError(400, "invalid_size", "size must be the file's size in bytes, > 0")
        if not is_sha256_hex(sha256):
            raise ApiError(400, "invalid_sha256", "sha256 must be 64 hexadecimal characters")
        sha256 = sha256.lower()
        if "part_size" in body:
            opened = self.multipart.create(
                provider, filename, size, sha256, body["part_size"], token_sha256
            )
            line["upload_id"] = opened["upload_id"]
            return _response(201, opened)
        if size > MAX_PUT_BYTES:
            raise ApiError(
                413, "file_too_large", f"files over {MAX_PUT_BYTES} bytes: send it in parts"
            )
        settings = self.settings
        upload = register_upload(
            self.ledger,
            provider,
            now=self.clock(),
            expires_in=settings.url_expiry_seconds,
            filename=filename,
            size=size,
            sha256=sha256,
            token_sha256=token_sha256,
        )
        ref = parse_upload_key(settings.bucket, upload.key)
        if ref is None or (ref.provider, ref.upload_id) != (provider, upload.upload_id):
            raise RuntimeError("an upload key the ingest Lambda would not read")
        line["upload_id"] = upload.upload_id
        name = upload.filename or ""
        put_headers = {
            "content-type": CONTENT_TYPE,
            "x-amz-checksum-sha256": checksum_header(sha256),
            "x-amz-tagging": UPLOAD_TAG,
            "x-amz-meta-sha256": sha256,
            "x-amz-meta-filename": name,
            "if-none-match": ONE_PUT,
        }
        signer = signer_client(
            self.s3,
            self.sts,
            role_arn=settings.signer_role_arn,
            bucket=settings.bucket,
            key=upload.key,
            provider=provider,
            expiry=settings.url_expiry_seconds,
            kms_key_arn=settings.kms_key_arn,
        )
        url = signer.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": settings.bucket,
                "Key": upload.key,
                "ContentType": CONTENT_TYPE,
                "ChecksumSHA256": put_headers["x-amz-checksum-sha256"],
                "Tagging": UPLOAD_TAG,
                "Metadata": {"sha256": sha256, "filename": name},
                "IfNoneMatch": ONE_PUT,
            },
            ExpiresIn=settings.url_expiry_seconds,
        )
        document = {
            "upload_id": upload.upload_id,
            "key": upload.key,
            "url": url,
            "headers": headers_to_send(url, put_headers),
            "expires_at": upload.expires_at,
        }
        return _response(201, document)

    def _list(self, provider: str, query: dict[str, str]) -> dict:
        text = query.get("limit", str(DEFAULT_LIMIT))
        if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_LIMIT:
            raise ApiError(400, "invalid_limit", f"limit must be a number from 1 to {MAX_LIMIT}")
        now, found = self.clock(), self.ledger.recent(provider, int(text))
        uploads = [self.lifecycle.summary(item, now) for item in found]
        return _response(200, {"uploads": uploads})


def _json_body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    try:
        data = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_json", "the body is not valid base64") from None
    if len(data) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


def _query(event: dict[str, Any]) -> dict[str, str]:
    found = parse_qs(event.get("rawQueryString") or "", keep_blank_values=True)
    return {name: values[-1] for name, values in found.items()}
