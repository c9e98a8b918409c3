"""The Lambda code `ingest deploy` ships: the zip, and the artifact bucket that holds it.

The zip is built from the installed package, the same bytes every time, and stored under
its SHA-256: an unchanged build is never uploaded again and never makes CloudFormation
update the functions. It holds only our own code; the Lambda runtime already ships boto3
and python-dateutil.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ingestcli.errors import DeployError
from ingestcli.services.session import aws_errors

if TYPE_CHECKING:
    from botocore.client import BaseClient

PACKAGE = "ingestcli"
# What the handlers need: the package marker, the shared core and the handlers themselves.
FOLDERS = ("core", "lambdas")
# The earliest time a zip entry can record: no build date leaks into the bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # a regular file, rw-r--r--, whatever the checkout's umask
UNIX = 3  # the "made by" system; the default depends on the building OS
# Stored, not deflated: deflate output may differ between zlib builds (zlib-ng, say), and a
# few dozen kilobytes of source need no compression.
COMPRESSION = zipfile.ZIP_STORED


@dataclass(frozen=True)
class LambdaArtifact:
    """The zip and the content hash that names it."""

    content: bytes = field(repr=False)
    sha256: str
    files: tuple[str, ...]

    @property
    def key(self) -> str:
        """The S3 key: content-addressed, so a new build always gets a new key."""
        return f"lambda/{self.sha256}.zip"


def lambda_sources(package: Traversable | None = None) -> list[tuple[str, bytes]]:
    """(name in the zip, bytes) for every file the Lambda needs, sorted by name.

    Found through importlib.resources, so it works from a source checkout and from an
    installed wheel alike; `package` lets a test build from a copy.
    """
    root = package if package is not None else files(PACKAGE)
    chosen = [(f"{PACKAGE}/__init__.py", root / "__init__.py")]
    for folder in FOLDERS:
        chosen += [(f"{PACKAGE}/{name}", entry) for name, entry in _python_files(root, folder)]
    return sorted((name, entry.read_bytes()) for name, entry in chosen)


def _python_files(root: Traversable, folder: str) -> Iterator[tuple[str, Traversable]]:
    """Every .py file below `folder`, by its path from the package root (caches skipped)."""
    for entry in (root / folder).iterdir():
        if entry.is_dir() and entry.name != "__pycache__":
            yield from _python_files(root, f"{folder}/{entry.name}")
        elif entry.is_file() and entry.name.endswith(".py"):
            yield f"{folder}/{entry.name}", entry


def build_lambda_zip(package: Traversable | None = None) -> LambdaArtifact:
    """Zip the Lambda sources with fixed names, order, times, modes and compression."""
    buffer = io.BytesIO()
    sources = lambda_sources(package)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in sources:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = COMPRESSION
            info.create_system = UNIX
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, data)
    content = buffer.getvalue()
    return LambdaArtifact(
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        files=tuple(name for name, _ in sources),
    )


@dataclass(frozen=True)
class EnsureArtifactBucket:
    """A deploy step: create the artifact bucket, unless it is there already."""

    bucket: str
    region: str
    account: str
    exists: bool  # True: nothing to do


@dataclass(frozen=True)
class UploadArtifact:
    """A deploy step: upload this build's zip, unless this very build is there already."""

    bucket: str
    key: str
    account: str
    artifact: LambdaArtifact
    exists: bool  # True: this very build is there already, so the upload is skipped


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _exists(head: Callable[..., object], bucket: str, **names: str) -> bool:
    """A HEAD request's answer as a bool; 403 means the bucket is not ours to use."""
    try:
        head(Bucket=bucket, **names)
    except ClientError as error:
        if _code(error) == "403":
            raise DeployError(
                f"artifact bucket {bucket} is not usable: it belongs to another account, "
                "or these credentials may not read it"
            ) from None
        if _code(error) in ("404", "NoSuchBucket", "NoSuchKey"):
            return False
        raise
    return True


def plan_artifact(
    s3: BaseClient, artifact: LambdaArtifact, account: str, region: str
) -> tuple[EnsureArtifactBucket, UploadArtifact]:
    """Whether the bucket and this build's key exist; reads only.

    The bucket name is predictable, so anyone could create it first: every call names the
    expected owner, and a bucket of another account is refused rather than trusted with code.
    """
    bucket = f"ingest-artifacts-{account}-{region}"
    with aws_errors():
        bucket_exists = _exists(s3.head_bucket, bucket, ExpectedBucketOwner=account)
        uploaded = bucket_exists and _exists(
            s3.head_object, bucket, Key=artifact.key, ExpectedBucketOwner=account
        )
    return (
        EnsureArtifactBucket(bucket, region, account, bucket_exists),
        UploadArtifact(bucket, artifact.key, account, artifact, uploaded),
    )


def ensure_bucket(s3: BaseClient, step: EnsureArtifactBucket) -> None:
    """Create the artifact bucket private, owner-enforced, encrypted (SSE-S3) and versioned."""
    if step.exists:
        return
    location = {"LocationConstraint": step.region}
    where = {} if step.region == "us-east-1" else {"CreateBucketConfiguration": location}
    owned = {"Bucket": step.bucket, "ExpectedBucketOwner": step.account}
    with aws_errors():
        try:
            s3.create_bucket(Bucket=step.bucket, ObjectOwnership="BucketOwnerEnforced", **where)
        except ClientError as error:
            if _code(error) == "BucketAlreadyExists":
                raise DeployError(
                    f"artifact bucket name {step.bucket} is taken by another account"
                ) from None
            if _code(error) != "BucketAlreadyOwnedByYou":
                raise
        s3.put_public_access_block(
            **owned,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            **owned,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_versioning(**owned, VersioningConfiguration={"Status": "Enabled"})


def upload(s3: BaseClient, step: UploadArtifact) -> None:
    """Put the zip under its key, with a checksum S3 verifies on arrival."""
    if step.exists:
        return
    checksum = base64.b64encode(bytes.fromhex(step.artifact.sha256)).decode("ascii")
    with aws_errors():
        s3.put_object(
            Bucket=step.bucket,
            Key=step.key,
            Body=step.artifact.content,
            ContentType="application/zip",
            ChecksumSHA256=checksum,
            ExpectedBucketOwner=step.account,
        )
