"""The moto defects support.iam_moto patches, measured on an unpatched enforcing server.

Each test asserts that a defect is still there. When one fails, moto has fixed that defect:
remove its patch from support.iam_moto (and this test), and run tests/e2e/test_iam_enforced.py.
Measured with moto 5.2.5, boto3/botocore 1.44.8.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from support.iam_moto import ADMIN_REQUESTS, admin, spawn, stop
from support.names import ACCOUNT, REGION

pytestmark = pytest.mark.xdist_group("iam_enforced_moto_defects")

TRUST_ADMIN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/deployer"},
            "Action": "sts:AssumeRole",
        }
    ],
}
TEMPLATE = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": TRUST_ADMIN,
                "Policies": [
                    {
                        "PolicyName": "list",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "s3:ListAllMyBuckets",
                                    "Resource": "*",
                                }
                            ],
                        },
                    }
                ],
            },
        },
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
    },
    "Outputs": {
        "RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
        "GroupArn": {"Value": {"Fn::GetAtt": ["Group", "Arn"]}},
        "GroupName": {"Value": {"Ref": "Group"}},
    },
}


@pytest.fixture(scope="module")
def unpatched() -> Iterator[dict[str, Any]]:
    """An enforcing server without the patches; an admin's client keyword arguments."""
    server, endpoint = spawn(ADMIN_REQUESTS, patched=False)
    try:
        yield admin(endpoint, REGION)
    finally:
        stop(server)


def user_with(kwargs: dict[str, Any], name: str, statement: dict[str, Any]) -> dict[str, Any]:
    """A user holding one statement: client keyword arguments acting as them."""
    iam = boto3.client("iam", **kwargs)
    iam.create_user(UserName=name)
    document = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_user_policy(UserName=name, PolicyName="one", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return kwargs | {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def as_session(kwargs: dict[str, Any], credentials: dict[str, str]) -> dict[str, Any]:
    return kwargs | {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def error_of(call: Any) -> tuple[int, str]:
    """The status and the error's code (botocore cannot parse moto's XML answers to JSON
    services; their code is then only in the text)."""
    with pytest.raises(ClientError) as raised:
        call()
    status = raised.value.response["ResponseMetadata"]["HTTPStatusCode"]
    codes = ("AccessDenied", "SignatureDoesNotMatch", "InternalFailure")
    return status, next((code for code in codes if code in str(raised.value)), str(raised.value))


@pytest.fixture(scope="module")
def small_stack(unpatched: dict[str, Any]) -> dict[str, str]:
    cfn = boto3.client("cloudformation", **unpatched)
    cfn.create_stack(StackName="defects", TemplateBody=json.dumps(TEMPLATE))
    outputs = cfn.describe_stacks(StackName="defects")["Stacks"][0]["Outputs"]
    return {found["OutputKey"]: found["OutputValue"] for found in outputs}


def test_1_dynamodb_is_checked_against_star_not_the_table(unpatched: dict[str, Any]) -> None:
    dynamodb = boto3.client("dynamodb", **unpatched)
    dynamodb.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
    )
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    reader = user_with(unpatched, "reader", {"Effect": "Allow", "Action": "dynamodb:GetItem",
                                             "Resource": arn})  # fmt: skip
    get = boto3.client("dynamodb", **reader).get_item
    assert error_of(lambda: get(TableName="t", Key={"k": {"S": "x"}})) == (403, "AccessDenied")
    # The same request by a user allowed on "*" goes through: only the resource differs.
    anyone = user_with(unpatched, "anyone", {"Effect": "Allow", "Action": "dynamodb:GetItem",
                                             "Resource": "*"})  # fmt: skip
    boto3.client("dynamodb", **anyone).get_item(TableName="t", Key={"k": {"S": "x"}})


def test_1_logs_is_checked_against_star_not_the_log_stream(
    unpatched: dict[str, Any], small_stack: dict[str, str]
) -> None:
    group = small_stack["GroupName"]
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    writer = user_with(unpatched, "writer", {"Effect": "Allow", "Action": "logs:CreateLogStream",
                                             "Resource": arn})  # fmt: skip
    create = boto3.client("logs", **writer).create_log_stream
    status, code = error_of(lambda: create(logGroupName=group, logStreamName="s"))
    assert (status, code) == (403, "AccessDenied")


def test_2_a_trust_policy_naming_a_role_refuses_that_roles_sessions(
    unpatched: dict[str, Any],
) -> None:
    iam, sts = boto3.client("iam", **unpatched), boto3.client("sts", **unpatched)
    first = iam.create_role(RoleName="first", AssumeRolePolicyDocument=json.dumps(TRUST_ADMIN))
    trust_first = {**TRUST_ADMIN, "Statement": [
        {**TRUST_ADMIN["Statement"][0], "Principal": {"AWS": first["Role"]["Arn"]}}]}  # fmt: skip
    second = iam.create_role(RoleName="second", AssumeRolePolicyDocument=json.dumps(trust_first))
    may_assume = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": second["Role"]["Arn"]}
    iam.put_role_policy(
        RoleName="first",
        PolicyName="assume",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [may_assume]}),
    )
    session = sts.assume_role(RoleArn=first["Role"]["Arn"], RoleSessionName="s1")["Credentials"]
    assume = boto3.client("sts", **as_session(unpatched, session)).assume_role
    status, code = error_of(lambda: assume(RoleArn=second["Role"]["Arn"], RoleSessionName="t1"))
    assert (status, code) == (403, "AccessDenied")


def test_3_role_policies_from_cloudformation_break_enforcement(
    unpatched: dict[str, Any], small_stack: dict[str, str]
) -> None:
    iam = boto3.client("iam", **unpatched)
    name = small_stack["RoleArn"].rsplit("/", 1)[1]
    stored = iam.get_role_policy(RoleName=name, PolicyName="list")["PolicyDocument"]
    assert isinstance(stored, str) and stored.startswith("{'Version'")  # a Python repr
    sts = boto3.client("sts", **unpatched)
    session = sts.assume_role(RoleArn=small_stack["RoleArn"], RoleSessionName="s1")["Credentials"]
    listing = boto3.client("s3", **as_session(unpatched, session)).list_buckets
    assert error_of(listing)[0] == 500  # KeyError 'policy_document' in moto


def test_4_a_presigned_request_crashes_enforcement(unpatched: dict[str, Any]) -> None:
    s3 = boto3.client("s3", **unpatched)
    s3.create_bucket(Bucket="bucket-b")
    s3.put_object(Bucket="bucket-b", Key="k", Body=b"x")
    params = {"Bucket": "bucket-b", "Key": "k"}
    url = s3.generate_presigned_url("get_object", Params=params)
    assert requests.get(url, timeout=10).status_code == 500  # KeyError 'Authorization'
    # A part's URL too (a presigned UploadPart, as the API hands out for a file in parts).
    opened = s3.create_multipart_upload(Bucket="bucket-b", Key="p")
    part = params | {"Key": "p", "UploadId": opened["UploadId"], "PartNumber": 1}
    url = s3.generate_presigned_url("upload_part", Params=part)
    assert requests.put(url, data=b"x", timeout=10).status_code == 500


def test_5_a_log_groups_arn_lacks_the_trailing_star(small_stack: dict[str, str]) -> None:
    assert small_stack["GroupArn"].endswith(f":log-group:{small_stack['GroupName']}")


def test_lambdas_rest_calls_fail_their_signature_check(unpatched: dict[str, Any]) -> None:
    """Not patched: the tier reads the functions' configuration with enforcement paused."""
    listing = boto3.client("lambda", **unpatched).list_functions
    assert error_of(listing) == (403, "SignatureDoesNotMatch")
