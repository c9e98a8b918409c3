"""Every AWS call of the IAM-enforced tier, recorded with botocore events, and what AWS
would authorise for each (support.policy_check.Request): the IAM actions, resources and
condition keys, including what S3 asks of KMS under SSE-KMS and the s3:ListBucket that
turns a missing key's 403 into the 404 the caller saw.

A multipart upload, as AWS's S3 API reference has it: CreateMultipartUpload, UploadPart and
CompleteMultipartUpload are s3:PutObject (a tag given at creation asks s3:PutObjectTagging
too, taken to be as for PutObject: the stricter reading), ListParts is
s3:ListMultipartUploadParts; under SSE-KMS, CreateMultipartUpload needs
kms:GenerateDataKey, UploadPart kms:Decrypt, CompleteMultipartUpload with checksums and
ListParts kms:Decrypt (asked only of an upload S3 still holds: a NoSuchUpload has no key)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.policy_check import Principal, Request


@dataclass
class Call:
    """One operation a client sent: who (access key id), what, and S3's or AWS's answer."""

    service: str
    operation: str
    params: dict[str, Any]
    access_key: str = ""
    status: int = 0

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k in ("TableName", "Key", "Prefix")}
        return f"{self.service}:{self.operation} {shown} -> {self.status}"


@dataclass
class Recorder:
    """Registered on a boto3 session: every call of every client made from it afterwards,
    and the credentials of every role session that an AssumeRole call returned."""

    calls: list[Call] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # access key -> request
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, session: Any) -> None:
        events = session.events
        events.register("before-parameter-build", self._started)
        events.register("before-sign", self._signed)
        events.register("after-call", self._answered)

    def _started(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any):
        call = Call(model.service_model.signing_name, model.name, dict(params))
        context["iam_call"] = call
        with self._lock:
            self.calls.append(call)

    def _signed(self, request: Any, request_signer: Any, signature_version: Any, **_: Any):
        call = request.context.get("iam_call")
        if call is None:
            return
        if "query" in str(signature_version) or "presign" in str(signature_version):
            with self._lock:  # a URL signed here, not a request: its PUT is recorded apart
                if call in self.calls:
                    self.calls.remove(call)
            return
        call.access_key = request_signer._credentials.access_key

    def _answered(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any],
                  **_: Any) -> None:  # fmt: skip
        call = context.get("iam_call")
        if call is None:
            return
        call.status = http_response.status_code
        if call.operation == "AssumeRole" and "Credentials" in parsed:
            self.sessions[parsed["Credentials"]["AccessKeyId"]] = call.params

    def presigned_put(self, url: str, headers: dict[str, str], status: int) -> None:
        """The provider's PUT to a presigned URL (a whole file, or one part of a multipart
        upload), as the session that signed it."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        bucket, key = parts.path.lstrip("/").split("/", 1)
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        operation = "PutObject"
        if "uploadId" in query:
            operation = "UploadPart"
            params |= {"UploadId": query["uploadId"][0], "PartNumber": int(query["partNumber"][0])}
        if "x-amz-tagging" in {name.lower() for name in headers}:
            params["Tagging"] = "signed"
        access_key = query["X-Amz-Credential"][0].split("/")[0]
        with self._lock:
            self.calls.append(Call("s3", operation, params, access_key, status))


@dataclass(frozen=True)
class Where:
    """What the ARNs of a call depend on."""

    region: str
    account: str
    stacks: dict[str, str]  # stack name -> stack id
    kms_key: str = ""  # the bucket's KMS key under SSE-KMS, empty for SSE-S3


def _s3(call: Call, where: Where) -> list[Request]:
    op, p = call.operation, call.params
    bucket = f"arn:aws:s3:::{p['Bucket']}"
    if op in ("ListObjectsV2", "ListObjects"):
        context = {"s3:prefix": p["Prefix"]} if "Prefix" in p else {}
        return [Request("s3:ListBucket", bucket, context)]
    obj = f"{bucket}/{p['Key']}"
    versioned = "VersionId" in p
    kms: list[str] = []
    if op in ("GetObject", "HeadObject"):
        found = [Request("s3:GetObjectVersion" if versioned else "s3:GetObject", obj)]
        if call.status == 404:  # S3 says 404, not 403, only to who may list the bucket
            found.append(Request("s3:ListBucket", bucket))
        kms = ["kms:Decrypt"] if op == "GetObject" and call.status < 300 else []
    elif op in ("PutObject", "CreateMultipartUpload"):
        found = [Request("s3:PutObject", obj)]
        if "Tagging" in p:
            found.append(Request("s3:PutObjectTagging", obj))
        kms = ["kms:GenerateDataKey"]
    elif op in ("UploadPart", "CompleteMultipartUpload"):
        found, kms = [Request("s3:PutObject", obj)], ["kms:Decrypt"]
    elif op == "ListParts":
        found = [Request("s3:ListMultipartUploadParts", obj)]
        kms = ["kms:Decrypt"] if call.status < 300 else []
    elif op == "AbortMultipartUpload":
        found = [Request("s3:AbortMultipartUpload", obj)]
    elif op == "DeleteObject":
        found = [Request("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", obj)]
    else:
        raise NotImplementedError(f"s3:{op}: map it to its IAM actions first")
    if where.kms_key:  # S3 asks KMS on the caller's behalf
        via = {"kms:ViaService": f"s3.{where.region}.amazonaws.com"}
        found += [Request(action, where.kms_key, via) for action in kms]
    return found


def requests_of(call: Call, where: Where) -> list[Request]:
    """The IAM authorisations AWS makes for `call`."""
    svc, op, p = call.service, call.operation, call.params
    head = f"{where.region}:{where.account}"
    if svc == "s3":
        return _s3(call, where)
    if svc == "dynamodb":
        tables = [p["TableName"]] if "TableName" in p else list(p["RequestItems"])
        return [Request(f"dynamodb:{op}", f"arn:aws:dynamodb:{head}:table/{t}") for t in tables]
    if svc == "sqs":
        return [Request(f"sqs:{op}", f"arn:aws:sqs:{head}:{p['QueueUrl'].rsplit('/', 1)[1]}")]
    if svc == "sts":
        return [] if op == "GetCallerIdentity" else [Request(f"sts:{op}", p["RoleArn"])]
    if svc == "logs":
        group = f"arn:aws:logs:{head}:log-group:{p['logGroupName']}"
        return [Request(f"logs:{op}", f"{group}:log-stream:{p['logStreamName']}")]
    if svc == "cloudformation":
        return [Request(f"cloudformation:{op}", where.stacks[p["StackName"]])]
    raise NotImplementedError(f"{svc}:{op}: map it to its IAM actions first")


def denied(
    calls: list[Call],
    principals: dict[str, Principal],
    where: Where,
    key_policy: dict[str, Any] | None = None,
) -> list[tuple[Call, Request, str]]:
    """Every (call, authorisation, who) AWS would refuse, in the order the calls were made."""
    from support.policy_check import allowed

    refused = []
    for call in calls:
        who = principals[call.access_key]
        for request in requests_of(call, where):
            if not allowed(who, request, key_policy):
                refused.append((call, request, who.name))
    return refused
