"""Presigned PUTs for one upload: signed by the signer role under a session policy that
names that one key, with the content type, the SHA-256, the lifecycle tag and
`If-None-Match: *` (one PUT per URL) as signed headers (a checksum in the query string is
not enforced by S3). A multipart upload's session opens, sends parts to and completes that
same one key (all s3:PutObject), and each part URL pins its part's SHA-256 the same way."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

_AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


def is_sha256_hex(value: object) -> bool:
    """Whether a declared checksum (a whole file's or a part's) is a SHA-256 in hex."""
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def checksum_header(sha256: str) -> str:
    """The x-amz-checksum-sha256 value a URL pins for a body of this SHA-256 (hex)."""
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def session_policy(
    role_arn: str, bucket: str, key: str, kms_key_arn: str = "", *, multipart: bool = False
) -> dict[str, Any]:
    """What the signer's session may do: put this one object (with its tag), nothing else;
    with the stack's KMS key (`kms_key_arn`, empty without one), also have S3 make that
    object's data key under it. A session policy intersects with the role's policy, so
    without that statement every SSE-KMS PUT would be refused."""
    partition = role_arn.split(":")[1]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "PutOneUpload",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectTagging"],
            "Resource": f"arn:{partition}:s3:::{bucket}/{key}",
        }
    ]
    if kms_key_arn:
        # A single PUT under SSE-KMS needs only kms:GenerateDataKey (a bucket key does not
        # change that). A multipart upload also needs kms:Decrypt, to read the data key
        # back for each part and to complete: only its sessions are given that.
        actions = ["kms:GenerateDataKey", "kms:Decrypt"] if multipart else ["kms:GenerateDataKey"]
        statements.append(
            {
                "Sid": "EncryptOneUpload",
                "Effect": "Allow",
                "Action": actions,
                "Resource": kms_key_arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def signer_client(
    s3: Any,
    sts: Any,
    *,
    role_arn: str,
    bucket: str,
    key: str,
    provider: str,
    expiry: int,
    kms_key_arn: str = "",
    multipart: bool = False,
) -> Any:
    """An S3 client holding credentials that can put this one key and nothing else, on the
    API's own endpoint (so AWS_ENDPOINT_URL and the local stack are followed)."""
    import boto3
    from botocore.config import Config

    credentials = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName=provider,
        Policy=json.dumps(session_policy(role_arn, bucket, key, kms_key_arn, multipart=multipart)),
        DurationSeconds=max(900, expiry),  # AssumeRole's minimum
    )["Credentials"]
    meta = s3.meta
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


def headers_to_send(url: str, put_headers: dict[str, str], *, part: bool = False) -> dict[str, str]:
    """The headers the PUT must carry: the ones the URL signed. The checksum must be among
    them, and for a whole file the content type and if-none-match too (a checksum moved into
    the query string is not enforced by S3; an unsigned if-none-match could be left out, and
    the URL would take a second file)."""
    query = parse_qs(urlsplit(url).query)
    signed = set(query.get("X-Amz-SignedHeaders", [""])[0].split(";")) - {"host"}
    required = {"x-amz-checksum-sha256"} | (set() if part else {"content-type", "if-none-match"})
    if not required <= signed or not signed <= set(put_headers):
        raise RuntimeError("the presigned URL does not sign the expected headers")
    if not part and "x-amz-tagging" not in signed and "x-amz-tagging" not in query:
        raise RuntimeError("the presigned URL lost the upload tag")
    return {name: value for name, value in put_headers.items() if name in signed}
