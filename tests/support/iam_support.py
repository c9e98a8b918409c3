"""Support staff on the IAM-enforced tier: an IAM user holding only docs/support-policy.json
(its placeholders filled from the deployed stack) runs the support commands' cores."""

from __future__ import annotations

import json
from typing import Any

import boto3

from ingestcli.deploy.stack import stack_outputs
from ingestcli.services.support import ProvidersTable, records, report, uploads
from support.iam_policy import filled_policy
from support.names import ACCOUNT, REGION, STACK
from support.policy_check import Principal


def support_policy(outputs: dict[str, str]) -> dict[str, Any]:
    values = {
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": STACK,
        **outputs,
    }
    return filled_policy(values)


def run_support(stack: Any, provider: str, upload_id: str, mrn: str) -> dict[str, Any]:
    """What `ingest records`, `ingest report` and `ingest uploads` find, as the user."""
    iam = stack.client("iam")
    document = support_policy(stack.outputs)
    iam.create_user(UserName="support")
    iam.put_user_policy(
        UserName="support", PolicyName="support", PolicyDocument=json.dumps(document)
    )
    key = iam.create_access_key(UserName="support")["AccessKey"]
    arn = f"arn:aws:iam::{ACCOUNT}:user/support"
    stack.principals[key["AccessKeyId"]] = Principal("support", arn, ACCOUNT, (document,))
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    stack.recorder.attach(session)
    cfn, dynamodb, s3 = (
        session.client(s, endpoint_url=stack.endpoint) for s in ("cloudformation", "dynamodb", "s3")
    )
    outputs = stack_outputs(cfn, STACK)
    providers = ProvidersTable(dynamodb, outputs["ProvidersTable"])
    bucket = outputs["UploadsBucket"]
    found = list(records(dynamodb, outputs["RecordsTable"], provider, mrn, providers=providers))
    return {
        "key": key["AccessKeyId"],
        "records": len(found),
        "report": report(s3, bucket, provider, upload_id, providers=providers),
        "uploads": uploads(
            dynamodb,
            outputs["UploadsTable"],
            provider,
            10,
            providers=providers,
            s3=s3,
            bucket=bucket,
        ),
    }
