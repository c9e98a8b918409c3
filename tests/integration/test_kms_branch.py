"""The template's KMS branch (`KmsKeyArn` set) deployed into moto: a provider's presigned PUT
and its ingest go through, and what they store is encrypted under that key.

On AWS a session policy intersects with the role's policy, so the signer's session must
itself allow `kms:GenerateDataKey` on the key, or every SSE-KMS PUT is refused. moto never
evaluates session policies nor KMS rules (../shared/MOTO.md): the PUT would pass here either
way, so the session policy the API assumed the signer role with is checked as sent.

moto, measured: its CloudFormation sets the bucket's default encryption (aws:kms and the key;
BucketKeyEnabled reads False) and objects put without SSE headers take it; it stores, and
HeadObject shows, any key id, even one that does not exist or is disabled; it records no
KMSKeyArn on the functions.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import boto3
import pytest
import requests

from ingestcli.lambdas.api import routes
from ingestcli.lambdas.ingest import settings as ingest_settings
from ingestcli.lambdas.ingest.ingestor import Ingestor
from ingestcli.services.providers import ProviderRegistry
from support.api_calls import RecordingSts, call, declare
from support.ingest_events import FakeContext, csv_bytes, lambda_event, s3_event_body, sqs_record
from support.names import BUCKET, REGION

PROVIDER = "acme"
BODY = csv_bytes([["A1", "2024-03-01T10:00:00Z", "x"], ["B#", "2024-03-01", "y"]])


def environment(function: str) -> dict[str, str]:
    found = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=function
    )
    return found["Environment"]["Variables"]


@pytest.fixture
def kms_stack(clients, deploy) -> dict[str, Any]:
    """The stack deployed with a moto KMS key as KmsKeyArn, and its outputs."""
    from ingestcli.deploy.stack import stack_outputs
    from support.names import STACK

    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]
    deploy({"KmsKeyArn": key["Arn"]})
    return {"key": key, "outputs": stack_outputs(clients.cfn, STACK)}


def assert_encrypted_under(s3: Any, key: str, kms_key_arn: str) -> None:
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == kms_key_arn


def test_with_a_kms_key_a_put_and_its_ingest_are_stored_under_that_key(clients, kms_stack) -> None:
    kms_key_arn, outputs = kms_stack["key"]["Arn"], kms_stack["outputs"]
    assert outputs["UploadsBucket"] == BUCKET
    encryption = clients.s3.get_bucket_encryption(Bucket=BUCKET)
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": kms_key_arn,
    }

    # The API function as deployed: its settings read from the function's environment.
    api_environment = environment(outputs["ApiFunction"])
    assert api_environment["KMS_KEY_ARN"] == kms_key_arn
    settings = routes.Settings.from_environment(api_environment)
    assert settings.kms_key_arn == kms_key_arn
    sts = RecordingSts(clients.sts)
    api = routes.Api(clients.s3, clients.dynamodb, sts, settings)
    _, token = ProviderRegistry(clients.dynamodb, settings.providers_table).add(PROVIDER)

    status, answer, _ = call(api, "POST", "/uploads", token, body=declare(BODY))
    assert status == 201, answer

    # The signer's session: the one key's PUT, and the data key under exactly that KMS key.
    [(request, _)] = sts.calls
    assert request["RoleArn"] == outputs["SignerRoleArn"]
    policy = json.loads(request["Policy"])
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert set(by_sid) == {"PutOneUpload", "EncryptOneUpload"}
    assert by_sid["PutOneUpload"]["Resource"] == f"arn:aws:s3:::{BUCKET}/{answer['key']}"
    assert by_sid["EncryptOneUpload"] == {
        "Sid": "EncryptOneUpload",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey"],
        "Resource": kms_key_arn,
    }

    # The provider's PUT, as a client sends it (moto in-process answers amazonaws.com).
    sent = requests.put(answer["url"], data=BODY, headers=answer["headers"], timeout=10)
    assert sent.status_code == 200, sent.text
    assert sent.headers["x-amz-server-side-encryption"] == "aws:kms"
    assert_encrypted_under(clients.s3, answer["key"], kms_key_arn)

    # The ingest function as deployed, handed the S3 event of that upload.
    ingest_environment = environment(outputs["IngestFunction"])
    ingestor = Ingestor(
        clients.s3,
        clients.dynamodb,
        clients.sqs,
        ingest_settings.Settings.from_environment(ingest_environment),
    )
    event = lambda_event(sqs_record(s3_event_body(answer["key"])))
    assert ingestor.handle_batch(event, FakeContext()) == {"batchItemFailures": []}

    upload_id = answer["upload_id"]
    report_key = f"{PROVIDER}/reports/{upload_id}.json"
    report = json.loads(clients.s3.get_object(Bucket=BUCKET, Key=report_key)["Body"].read())
    assert (report["status"], report["rows"], report["written"], report["rejected"]) == (
        "partial",
        2,
        1,
        1,
    )
    assert_encrypted_under(clients.s3, report_key, kms_key_arn)
    assert_encrypted_under(clients.s3, f"{PROVIDER}/rejects/{upload_id}.csv", kms_key_arn)


def test_the_template_grants_the_roles_the_kms_actions_on_that_key(clients, kms_stack) -> None:
    """What the deployed roles may do with the key: the signer makes data keys (the PUT) and
    reads them back (the parts of a multipart upload, its completion), the ingest function
    reads uploads and writes reports, the API function reads reports and lists parts."""
    kms_key_arn, outputs = kms_stack["key"]["Arn"], kms_stack["outputs"]
    iam = boto3.client("iam", region_name=REGION)
    roles = {outputs["SignerRoleArn"].rsplit("/", 1)[1]: ["kms:Decrypt", "kms:GenerateDataKey"]}
    lambdas = boto3.client("lambda", region_name=REGION)
    for function, actions in (
        (outputs["IngestFunction"], ["kms:Decrypt", "kms:GenerateDataKey"]),
        (outputs["ApiFunction"], ["kms:Decrypt"]),
    ):
        role_arn = lambdas.get_function_configuration(FunctionName=function)["Role"]
        roles[role_arn.rsplit("/", 1)[1]] = actions
    for role, actions in roles.items():
        granted = []
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(document, str):  # moto stores some as Python reprs (MOTO.md)
                document = ast.literal_eval(document)
            for statement in document["Statement"]:
                if statement.get("Sid") == "Kms":
                    assert statement["Resource"] == kms_key_arn
                    found = statement["Action"]
                    granted += found if isinstance(found, list) else [found]
        assert sorted(granted) == actions, role


def test_without_a_kms_key_the_api_gets_an_empty_key_and_signs_as_before(clients, deploy) -> None:
    from ingestcli.deploy.stack import stack_outputs
    from support.names import STACK

    deploy()
    api_environment = environment(stack_outputs(clients.cfn, STACK)["ApiFunction"])
    assert api_environment["KMS_KEY_ARN"] == ""
    assert routes.Settings.from_environment(api_environment).kms_key_arn == ""
