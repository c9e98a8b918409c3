"""The session policy the API assumes the signer role with: one key's PUT, and with the
stack's KMS key, the data key SSE-KMS needs under exactly that key."""

from __future__ import annotations

from ingestcli.lambdas.api.routes import Settings
from ingestcli.lambdas.api.signer import session_policy

ROLE = "arn:aws:iam::123456789012:role/ingest-UploadSignerRole"
KEY = "acme/uploads/2026/01/01/20260101T000000000Z-abcdefghij.csv"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PUT = {
    "Sid": "PutOneUpload",
    "Effect": "Allow",
    "Action": ["s3:PutObject", "s3:PutObjectTagging"],
    "Resource": f"arn:aws:s3:::bucket/{KEY}",
}
ENVIRONMENT = {
    "PROVIDERS_TABLE": "p",
    "UPLOADS_TABLE": "u",
    "UPLOADS_BUCKET": "bucket",
    "SIGNER_ROLE_ARN": ROLE,
}


def test_without_a_kms_key_the_session_may_only_put_the_one_key() -> None:
    expected = {"Version": "2012-10-17", "Statement": [PUT]}
    assert session_policy(ROLE, "bucket", KEY) == expected
    assert session_policy(ROLE, "bucket", KEY, "") == expected


def test_with_a_kms_key_the_session_may_also_make_data_keys_under_that_key_only() -> None:
    assert session_policy(ROLE, "bucket", KEY, KMS_KEY) == {
        "Version": "2012-10-17",
        "Statement": [
            PUT,
            {
                "Sid": "EncryptOneUpload",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey"],  # a single PUT; no kms:Decrypt
                "Resource": KMS_KEY,
            },
        ],
    }


def test_the_partition_follows_the_role() -> None:
    role = "arn:aws-cn:iam::123456789012:role/signer"
    (put,) = session_policy(role, "bucket", KEY)["Statement"]
    assert put["Resource"] == f"arn:aws-cn:s3:::bucket/{KEY}"


def test_the_api_settings_read_the_kms_key_from_the_environment_empty_without_one() -> None:
    assert Settings.from_environment(ENVIRONMENT).kms_key_arn == ""
    assert Settings.from_environment(ENVIRONMENT | {"KMS_KEY_ARN": ""}).kms_key_arn == ""
    with_key = Settings.from_environment(ENVIRONMENT | {"KMS_KEY_ARN": KMS_KEY})
    assert with_key.kms_key_arn == KMS_KEY
