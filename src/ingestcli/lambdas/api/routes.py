"""The provider API behind the function URL: presigned upload URLs and upload status.

    POST /uploads              {"filename", "size", "sha256"} -> 201 a URL for one PUT
    GET  /uploads?limit=N      -> 200 {"uploads": [...]}, newest first
    GET  /uploads/<upload_id>  -> 200 the upload's report, or its status while pending

Every request carries `Authorization: Bearer <token>`; the token alone decides the provider,
so the provider is never read from the request. The server picks every key. A presigned
URL is signed by the signer role under a session policy for that one key, and pins the
content type, the SHA-256 (as a signed x-amz-checksum-sha256 header, which S3 enforces)
and the tag the lifecycle rule expires raw uploads by. Logs carry ids, routes and status
codes; never a token, a file name or a body.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingestcli.core import tokens
from ingestcli.core.layout import UPLOAD_ID, parse_upload_key
from ingestcli.core.ledger import UploadLedger, upload_summary

logger = logging.getLogger("ingest.api")
logger.setLevel(logging.INFO)

MAX_UPLOAD_BYTES = 5 * 1024**3  # the largest single PUT S3 takes
MAX_BODY_BYTES = 16 * 1024
MAX_FILENAME_CHARS = 200
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
UPLOAD_TAG = "ingest-kind=upload"  # the lifecycle rule that expires raw uploads matches it
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9 ._()+-]", re.ASCII)
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
UNAUTHORIZED = "a valid upload token is required: Authorization: Bearer <token>"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Settings:
    providers_table: str
    uploads_table: str
    bucket: str
    signer_role_arn: str
    url_expiry_seconds: int = 300

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> Settings:
        """From the function's environment variables (the template sets them)."""
        return cls(
            providers_table=environment["PROVIDERS_TABLE"],
            uploads_table=environment["UPLOADS_TABLE"],
            bucket=environment["UPLOADS_BUCKET"],
            signer_role_arn=environment["SIGNER_ROLE_ARN"],
            url_expiry_seconds=int(environment.get("URL_EXPIRY_SECONDS", "300")),
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_upload_id(now: datetime) -> str:
    """UTC time to the millisecond, then 50 random bits: sorts by time, never collides."""
    stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"
    return f"{stamp}-{''.join(secrets.choice(_BASE32) for _ in range(10))}"


def upload_key(provider: str, upload_id: str, now: datetime) -> str:
    return f"{provider}/uploads/{now:%Y/%m/%d}/{upload_id}.csv"


def safe_filename(name: str) -> str:
    """The base name, in characters safe in an HTTP header and a log: metadata only."""
    base = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", base).strip(" .")
    return cleaned[:MAX_FILENAME_CHARS] or "upload.csv"


def session_policy(role_arn: str, bucket: str, key: str) -> dict[str, Any]:
    """What the signer's session may do: put this one object (with its tag), nothing else."""
    partition = role_arn.split(":")[1]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PutOneUpload",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": f"arn:{partition}:s3:::{bucket}/{key}",
            }
        ],
    }


def _response(status: int, document: Any, headers: dict[str, str] | None = None) -> dict:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"} | (headers or {}),
        "body": json.dumps(document),
    }


class Api:
    """The routes, over injected boto3 clients (S3, DynamoDB, STS)."""

    def __init__(self, s3: Any, dynamodb: Any, sts: Any, settings: Settings) -> None:
        self.s3, self.dynamodb, self.sts, self.settings = s3, dynamodb, sts, settings
        self.ledger = UploadLedger(dynamodb, settings.uploads_table)

    def handler(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """One function-URL event (payload 2.0) in, one response out; one log line each."""
        started = time.monotonic()
        method = event.get("requestContext", {}).get("http", {}).get("method", "")
        path = event.get("rawPath", "/").rstrip("/") or "/"
        line: dict[str, Any] = {"event": "request", "method": method, "route": "unknown"}
        try:
            response = self._route(event, method, path, line)
        except ApiError as error:
            headers = {"allow": "GET, POST" if path == "/uploads" else "GET"}
            extra = headers if error.status == 405 else None
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
        provider = self._authenticate(event.get("headers") or {}, line)
        if path == "/uploads":
            line["route"] = "/uploads"
            if method == "POST":
                return self._create(provider, _json_body(event), line)
            if method == "GET":
                return self._list(provider, _query(event))
        elif path.startswith("/uploads/") and path.count("/") == 2:
            line["route"] = "/uploads/{upload_id}"
            if method == "GET":
                return self._status(provider, path.removeprefix("/uploads/"), line)
        else:
            raise ApiError(404, "not_found", "no such route")
        raise ApiError(405, "method_not_allowed", "that method is not allowed here")

    def _authenticate(self, headers: dict[str, str], line: dict[str, Any]) -> str:
        """The provider the bearer token belongs to; every failure is the same 401."""
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        provider = tokens.provider_of(token) if scheme.lower() == "bearer" else None
        if provider is None:
            line["auth"] = "malformed"
            raise ApiError(401, "unauthorized", UNAUTHORIZED)
        line["provider"] = provider
        item = self.dynamodb.get_item(
            TableName=self.settings.providers_table,
            Key={"providerId": {"S": provider}},
            ConsistentRead=True,
            ProjectionExpression="#s, token_sha256",
            ExpressionAttributeNames={"#s": "status"},
        ).get("Item", {})
        hash_matches = tokens.matches(token, item.get("token_sha256", {}).get("S", ""))
        if not item or item.get("status", {}).get("S") != "active" or not hash_matches:
            line["auth"] = "unknown" if not item else "refused"
            raise ApiError(401, "unauthorized", UNAUTHORIZED)
        return provider

    def _create(self, provider: str, body: dict[str, Any], line: dict[str, Any]) -> dict:
        filename, size, sha256 = body.get("filename"), body.get("size"), body.get("sha256")
        if not isinstance(filename, str):
            raise ApiError(400, "invalid_filename", "filename must be a string")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ApiError(400, "invalid_size", "size must be the file's size in bytes, > 0")
        if size > MAX_UPLOAD_BYTES:
            raise ApiError(413, "file_too_large", f"files over {MAX_UPLOAD_BYTES} bytes")
        if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
            raise ApiError(400, "invalid_sha256", "sha256 must be 64 hexadecimal characters")
        sha256 = sha256.lower()
        now = datetime.now(UTC)
        upload_id = new_upload_id(now)
        key = upload_key(provider, upload_id, now)
        ref = parse_upload_key(self.settings.bucket, key)
        if ref is None or (ref.provider, ref.upload_id) != (provider, upload_id):
            raise RuntimeError("an upload key the ingest Lambda would not read")
        line["upload_id"] = upload_id
        expiry = self.settings.url_expiry_seconds
        expires_at = _iso(now + timedelta(seconds=expiry))
        name = safe_filename(filename)
        self.ledger.register(
            provider,
            upload_id,
            key=key,
            filename=name,
            size=size,
            sha256=sha256,
            created_at=_iso(now),
            expires_at=expires_at,
        )
        put_headers = {
            "content-type": "text/csv",
            "x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(sha256)).decode(),
            "x-amz-tagging": UPLOAD_TAG,
            "x-amz-meta-sha256": sha256,
            "x-amz-meta-filename": name,
        }
        url = self._signer(provider, key).generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.settings.bucket,
                "Key": key,
                "ContentType": put_headers["content-type"],
                "ChecksumSHA256": put_headers["x-amz-checksum-sha256"],
                "Tagging": UPLOAD_TAG,
                "Metadata": {"sha256": sha256, "filename": name},
            },
            ExpiresIn=expiry,
        )
        document = {
            "upload_id": upload_id,
            "key": key,
            "url": url,
            "headers": _headers_to_send(url, put_headers),
            "expires_at": expires_at,
        }
        return _response(201, document)

    def _signer(self, provider: str, key: str) -> Any:
        """An S3 client holding credentials that can put this one key and nothing else, on the
        API's own endpoint (so AWS_ENDPOINT_URL and the local stack are followed)."""
        import boto3
        from botocore.config import Config

        settings = self.settings
        credentials = self.sts.assume_role(
            RoleArn=settings.signer_role_arn,
            RoleSessionName=provider,
            Policy=json.dumps(session_policy(settings.signer_role_arn, settings.bucket, key)),
            DurationSeconds=max(900, settings.url_expiry_seconds),  # AssumeRole's minimum
        )["Credentials"]
        meta = self.s3.meta
        # SigV4 always: a SigV2 URL moves the checksum into the query string, unenforced.
        # On AWS, virtual-hosted addressing gives the regional host (botocore would
        # otherwise presign for the global one, which newer regions refuse).
        options: dict[str, Any] = {"signature_version": "s3v4"}
        if (urlsplit(meta.endpoint_url).hostname or "").endswith(_AWS_DOMAINS):
            options["s3"] = (meta.config.s3 or {}) | {"addressing_style": "virtual"}
        return boto3.client(
            "s3",
            region_name=meta.region_name,
            endpoint_url=meta.endpoint_url,
            config=meta.config.merge(Config(**options)),
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def _list(self, provider: str, query: dict[str, str]) -> dict:
        text = query.get("limit", str(DEFAULT_LIMIT))
        if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_LIMIT:
            raise ApiError(400, "invalid_limit", f"limit must be a number from 1 to {MAX_LIMIT}")
        uploads = [upload_summary(item) for item in self.ledger.recent(provider, int(text))]
        return _response(200, {"uploads": uploads})

    def _status(self, provider: str, upload_id: str, line: dict[str, Any]) -> dict:
        if not UPLOAD_ID.fullmatch(upload_id):
            raise ApiError(400, "invalid_upload_id", "that is not an upload id")
        line["upload_id"] = upload_id
        item = self.ledger.get(provider, upload_id)
        if item is None:
            raise ApiError(404, "upload_not_found", "no such upload")
        report = self._report(f"{provider}/reports/{upload_id}.json")
        if report is not None:
            return _response(200, report)
        return _response(200, {"upload_id": upload_id, "status": item.get("status", "pending")})

    def _report(self, key: str) -> Any:
        """The report, or None before there is one. Listed first: without s3:ListBucket on
        the key, S3 answers a GET of a missing object with 403, not 404."""
        listed = self.s3.list_objects_v2(Bucket=self.settings.bucket, Prefix=key, MaxKeys=1)
        if not any(found["Key"] == key for found in listed.get("Contents", [])):
            return None
        body = self.s3.get_object(Bucket=self.settings.bucket, Key=key)["Body"].read()
        return json.loads(body)


def _headers_to_send(url: str, put_headers: dict[str, str]) -> dict[str, str]:
    """The headers the PUT must carry: the ones the URL signed. Content type and checksum
    must be among them (a checksum moved into the query string is not enforced by S3)."""
    query = parse_qs(urlsplit(url).query)
    signed = set(query.get("X-Amz-SignedHeaders", [""])[0].split(";")) - {"host"}
    if not {"content-type", "x-amz-checksum-sha256"} <= signed or not signed <= set(put_headers):
        raise RuntimeError("the presigned URL does not sign the expected headers")
    if "x-amz-tagging" not in signed and "x-amz-tagging" not in query:
        raise RuntimeError("the presigned URL lost the upload tag")
    return {name: value for name, value in put_headers.items() if name in signed}


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
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


def _query(event: dict[str, Any]) -> dict[str, str]:
    found = parse_qs(event.get("rawQueryString") or "", keep_blank_values=True)
    return {name: values[-1] for name, values in found.items()}


_api: Api | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point; clients come from boto3's own chain (AWS_ENDPOINT_URL included)."""
    global _api
    if _api is None:
        import boto3

        _api = Api(
            boto3.client("s3"),
            boto3.client("dynamodb"),
            boto3.client("sts"),
            Settings.from_environment(),
        )
    return _api.handler(event, context)
