"""What infra/cloudformation/ingest.yaml grants and sets for files sent in parts (issue 16):
one limit for how long an upload in parts stays open, shared by the bucket's rule and the
API; ListParts for the API and support staff on upload keys only; the signer's kms:Decrypt.

AWS's S3 API reference (botocore's service model carries it): CreateMultipartUpload,
UploadPart and CompleteMultipartUpload are authorised as s3:PutObject, ListParts as
s3:ListMultipartUploadParts; under SSE-KMS, CreateMultipartUpload needs kms:GenerateDataKey,
UploadPart kms:Decrypt, CompleteMultipartUpload (with checksums) and ListParts kms:Decrypt.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from ingestcli.lambdas.api.routes import Settings
from support.iam_policy import statements as support_statements
from support.iam_statements import role_statements
from support.template import template

UPLOAD = "acme/uploads/2026/01/01/20260101T000000000Z-abcdefghij.csv"
NOT_UPLOADS = ("acme/reports/u1.json", "acme/rejects/u1.csv", "acme/checkpoints/u1/1.json")
ENVIRONMENT = {
    "PROVIDERS_TABLE": "p",
    "UPLOADS_TABLE": "u",
    "UPLOADS_BUCKET": "b",
    "SIGNER_ROLE_ARN": "arn:aws:iam::123456789012:role/s",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def by_sid(who: str, kms: bool) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in role_statements(who, kms) if "Sid" in s}


def test_how_long_an_upload_in_parts_stays_open_is_set_once() -> None:
    found = template()
    parameter = found["Parameters"]["IncompleteUploadDays"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 7, 1)
    groups = found["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert any("IncompleteUploadDays" in group["Parameters"] for group in groups)
    uploads = found["Resources"]["UploadsBucket"]["Properties"]
    [rule] = [
        rule
        for rule in uploads["LifecycleConfiguration"]["Rules"]
        if "AbortIncompleteMultipartUpload" in rule
    ]
    assert rule["Id"] == "noncurrent-versions-and-housekeeping"
    assert "TagFilters" not in rule and "Prefix" not in rule  # every key, uploads' too
    assert rule["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": {"Ref": "IncompleteUploadDays"}
    }
    variables = found["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["INCOMPLETE_UPLOAD_DAYS"] == {"Fn::Sub": "${IncompleteUploadDays}"}
    # The API reads it as the template passes it (a string); without it, the same default.
    read = Settings.from_environment(ENVIRONMENT | {"INCOMPLETE_UPLOAD_DAYS": "3"})
    assert read.incomplete_upload_days == 3
    assert Settings.from_environment(ENVIRONMENT).incomplete_upload_days == parameter["Default"]


def test_the_api_role_lists_parts_of_upload_keys_only() -> None:
    for kms in (False, True):
        found = by_sid("api", kms)
        assert found["ListUploadParts"] == {
            "Sid": "ListUploadParts",
            "Effect": "Allow",
            "Action": "s3:ListMultipartUploadParts",
            "Resource": {"Fn::Sub": "${UploadsBucket.Arn}/*/uploads/*"},
        }
        pattern = found["ListUploadParts"]["Resource"]["Fn::Sub"]
        assert fnmatch.fnmatchcase(f"${{UploadsBucket.Arn}}/{UPLOAD}", pattern)
        for key in NOT_UPLOADS:
            assert not fnmatch.fnmatchcase(f"${{UploadsBucket.Arn}}/{key}", pattern), key
        # ListParts of an upload made under the key needs kms:Decrypt: the API has it.
        assert ("Kms" in found) == kms
        if kms:
            assert as_list(found["Kms"]["Action"]) == ["kms:Decrypt"]
    others = [
        (who, s.get("Sid"))
        for who in ("ingest", "signer")
        for s in role_statements(who, True)
        if "s3:ListMultipartUploadParts" in as_list(s["Action"])
    ]
    assert others == []


def test_the_signer_role_opens_sends_and_completes_parts_as_put_and_decrypts_under_kms() -> None:
    found = by_sid("signer", True)
    assert as_list(found["PutUploads"]["Action"]) == ["s3:PutObject", "s3:PutObjectTagging"]
    assert found["PutUploads"]["Resource"] == {"Fn::Sub": "${UploadsBucket.Arn}/*/uploads/*"}
    assert sorted(as_list(found["Kms"]["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert found["Kms"]["Resource"] == {"Ref": "KmsKeyArn"}
    assert set(by_sid("signer", False)) == {"PutUploads"}
    actions = {a for s in role_statements("signer", True) for a in as_list(s["Action"])}
    assert not actions & {"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}


def test_support_staff_list_parts_of_upload_keys_only() -> None:
    (grant,) = [
        s for s in support_statements() if "s3:ListMultipartUploadParts" in as_list(s["Action"])
    ]
    assert grant == {
        "Sid": "ListUploadParts",
        "Effect": "Allow",
        "Action": "s3:ListMultipartUploadParts",
        "Resource": "arn:${AWS::Partition}:s3:::${UploadsBucket}/*/uploads/*",
    }
    bucket = "arn:${AWS::Partition}:s3:::${UploadsBucket}/"
    assert fnmatch.fnmatchcase(bucket + UPLOAD, grant["Resource"])
    assert not any(fnmatch.fnmatchcase(bucket + key, grant["Resource"]) for key in NOT_UPLOADS)
