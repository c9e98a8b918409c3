"""The security rules of DESIGN.md ("Security"), read off infra/cloudformation/ingest.yaml.

IAM: every statement of every role, inline policy and managed policy of the template, of
docs/support-policy.json and of the session policy the API signs uploads under, names its
actions (no `*`) and scopes its resources (no bare `*`; a wildcard only below a bucket or
stack name). Storage: every bucket blocks public access, refuses plain HTTP and TLS < 1.2,
encrypts, and takes no ACLs; the uploads bucket keeps versions; every table is encrypted,
recoverable to a point in time, protected from deletion and retained with the stack. Logs
expire; queues are encrypted. `Fn::If` values are checked in both branches.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ingestcli.lambdas.api.signer import session_policy
from support.paths import SUPPORT_POLICY
from support.template import template

NO_VALUE = {"Ref": "AWS::NoValue"}

# (where, Sid) -> why a statement may name Resource "*". None today: every action the
# functions and support staff use can be scoped to a resource. An entry here must exist.
WILDCARD_RESOURCE_EXCEPTIONS: dict[tuple[str, str], str] = {}

# The only grants to everyone ("*"): the API's public function URL. It is unauthenticated by
# design (FunctionUrlAuthType NONE): providers hold no AWS credentials, and the function
# checks their bearer token itself. Deny statements with Principal "*" restrict everyone and
# are not grants.
PUBLIC_PERMISSIONS = {
    "ApiFunctionUrlPermission": ("lambda:InvokeFunctionUrl", "FunctionUrlAuthType", "NONE"),
    "ApiFunctionUrlInvokePermission": ("lambda:InvokeFunction", "InvokedViaFunctionUrl", True),
}


def resources(kind: str | None = None) -> dict[str, dict[str, Any]]:
    found = template()["Resources"]
    return {name: body for name, body in found.items() if kind in (None, body["Type"])}


def branches(value: Any) -> list[Any]:
    """A value with every `Fn::If` at its top replaced by each of its branches, in turn."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, yes, no = value["Fn::If"]
        return [*branches(yes), *branches(no)]
    return [value]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy document's statements, conditional ones in both forms, AWS::NoValue dropped."""
    found = []
    for statement in as_list(document["Statement"]):
        found += [branch for branch in branches(statement) if branch != NO_VALUE]
    return found


def iam_policies() -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, policy document) of every identity policy: the template's, support's, and the
    session policy the API assumes the signer role with."""
    for name, body in resources("AWS::IAM::Role").items():
        for policy in body["Properties"].get("Policies", []):
            yield f"{name}.{policy['PolicyName']}", policy["PolicyDocument"]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, body in resources(kind).items():
            yield name, body["Properties"]["PolicyDocument"]
    yield "docs/support-policy.json", json.loads(SUPPORT_POLICY.read_text("utf-8"))
    role = "arn:aws:iam::123456789012:role/signer"
    key = "acme/uploads/2026/01/01/20260101T000000000Z-abcdefghij.csv"
    yield "api.session_policy", session_policy(role, "bucket", key)
    kms = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    yield "api.session_policy.multipart", session_policy(role, "bucket", key, kms, multipart=True)


IAM_STATEMENTS = [
    (f"{where} {statement.get('Sid', index)}", where, statement)
    for where, document in iam_policies()
    for index, statement in enumerate(statements(document))
]


def resource_text(resource: Any) -> str:
    """A resource as written: a plain ARN, a !Sub template, or the !Ref/!GetAtt it names."""
    if isinstance(resource, str):
        return resource
    if set(resource) == {"Fn::Sub"}:
        return resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else ""
    assert set(resource) <= {"Ref", "Fn::GetAtt"}, resource
    return ""  # a whole resource of the template, or a parameter (the KMS key's ARN)


def test_the_policies_checked_are_all_there() -> None:
    wheres = {where for _, where, _ in IAM_STATEMENTS}
    assert {
        "IngestFunctionRole.ingest",
        "ApiFunctionRole.api",
        "UploadSignerRole.put-uploads",
        "ApiAssumeSignerPolicy",
        "docs/support-policy.json",
        "api.session_policy",
        "api.session_policy.multipart",
    } <= wheres
    assert len(IAM_STATEMENTS) > 20


@pytest.mark.parametrize(
    ("where", "statement"),
    [(where, statement) for _, where, statement in IAM_STATEMENTS],
    ids=[name for name, _, _ in IAM_STATEMENTS],
)
def test_an_iam_statement_names_its_actions_and_scopes_its_resources(
    where: str, statement: dict[str, Any]
) -> None:
    assert statement["Effect"] == "Allow"
    assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
    actions = as_list(statement["Action"])
    assert actions and all(isinstance(action, str) for action in actions)
    assert all("*" not in action and ":" in action for action in actions), actions
    for resource in as_list(statement["Resource"]):
        text = resource_text(resource)
        if text == "*":
            assert (where, statement.get("Sid", "")) in WILDCARD_RESOURCE_EXCEPTIONS
            continue
        # A wildcard only in the path below a bucket, stack or key: never in the ARN's
        # service, region, account or resource name.
        assert "*" not in text.split("/", 1)[0], text
        if isinstance(resource, str) or "Fn::Sub" in resource:
            assert text.startswith(("arn:", "${")), text


def test_every_wildcard_resource_exception_is_still_needed() -> None:
    used = {
        (where, statement.get("Sid", ""))
        for _, where, statement in IAM_STATEMENTS
        if "*" in as_list(statement["Resource"])
    }
    assert set(WILDCARD_RESOURCE_EXCEPTIONS) == used


def test_roles_trust_only_lambda_or_the_api_role() -> None:
    for name, body in resources("AWS::IAM::Role").items():
        for statement in statements(body["Properties"]["AssumeRolePolicyDocument"]):
            assert statement["Action"] == "sts:AssumeRole", name
            principal = statement["Principal"]
            assert principal in (
                {"Service": "lambda.amazonaws.com"},
                {"AWS": {"Fn::GetAtt": "ApiFunctionRole.Arn"}},
            ), name


def _principals(value: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, the mapping holding it) of every Principal anywhere below `value`."""
    if isinstance(value, dict):
        if "Principal" in value:
            yield where, value
        for key, inner in value.items():
            yield from _principals(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _principals(inner, f"{where}[{index}]")


def _is_everyone(principal: Any) -> bool:
    if isinstance(principal, dict):
        return any(_is_everyone(value) for value in principal.values())
    return "*" in as_list(principal)


def test_the_public_function_url_is_the_only_grant_to_everyone() -> None:
    public_grants = []
    for name, body in resources().items():
        for where, holder in _principals(body, name):
            if _is_everyone(holder["Principal"]) and holder.get("Effect", "Allow") == "Allow":
                public_grants.append(name)
                assert where == f"{name}.Properties", where  # a Lambda permission, not a policy
    assert sorted(public_grants) == sorted(PUBLIC_PERMISSIONS)
    for name, (action, key, value) in PUBLIC_PERMISSIONS.items():
        body = resources()[name]
        assert body["Type"] == "AWS::Lambda::Permission"
        assert body["Condition"] == "CreateFunctionUrl"
        properties = body["Properties"]
        assert (properties["Action"], properties[key]) == (action, value)
        assert properties["FunctionName"] == {"Ref": "ApiFunction"}
    url = resources("AWS::Lambda::Url")
    assert list(url) == ["ApiFunctionUrl"]
    assert url["ApiFunctionUrl"]["Properties"]["TargetFunctionArn"] == {
        "Fn::GetAtt": "ApiFunction.Arn"
    }


# --------------------------------------------------------------------------- buckets

BUCKETS = sorted(resources("AWS::S3::Bucket"))


def bucket_policy(bucket: str) -> list[dict[str, Any]]:
    [policy] = [
        body["Properties"]["PolicyDocument"]
        for body in resources("AWS::S3::BucketPolicy").values()
        if body["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    return statements(policy)


def denies_everyone_everything_when(statements: list[dict[str, Any]], bucket: str) -> list:
    """The conditions under which the policy denies every S3 action on the bucket and all its
    objects, to everyone."""
    whole = [{"Fn::GetAtt": f"{bucket}.Arn"}, {"Fn::Sub": f"${{{bucket}.Arn}}/*"}]
    return [
        statement["Condition"]
        for statement in statements
        if statement["Effect"] == "Deny"
        and statement["Principal"] == "*"
        and "s3:*" in as_list(statement["Action"])
        and all(part in as_list(statement["Resource"]) for part in whole)
    ]


def test_every_bucket_is_checked() -> None:
    assert BUCKETS == ["AccessLogsBucket", "UploadsBucket"]


@pytest.mark.parametrize("bucket", BUCKETS)
def test_a_bucket_refuses_plain_http_and_old_tls(bucket: str) -> None:
    conditions = denies_everyone_everything_when(bucket_policy(bucket), bucket)
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert any(
        str(condition.get("NumericLessThan", {}).get("s3:TlsVersion")) == "1.2"
        for condition in conditions
    ), conditions


@pytest.mark.parametrize("bucket", BUCKETS)
def test_a_bucket_blocks_public_access_encrypts_and_takes_no_acls(bucket: str) -> None:
    body = resources()[bucket]
    properties = body["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules
    for rule in rules:
        for default in branches(rule["ServerSideEncryptionByDefault"]):
            assert default["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse")
            if default["SSEAlgorithm"] != "AES256":
                assert default["KMSMasterKeyID"] == {"Ref": "KmsKeyArn"}
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "AccessControl" not in properties
    assert body["DeletionPolicy"] == body["UpdateReplacePolicy"] == "Retain"


def test_the_uploads_bucket_keeps_versions_and_logs_access() -> None:
    properties = resources()["UploadsBucket"]["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    logging = properties["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}


# --------------------------------------------------------------------------- tables, logs, queues


@pytest.mark.parametrize("table", sorted(resources("AWS::DynamoDB::Table")))
def test_a_table_is_encrypted_recoverable_protected_and_retained(table: str) -> None:
    body = resources()[table]
    properties = body["Properties"]
    for sse in branches(properties["SSESpecification"]):
        assert sse["SSEEnabled"] is True
        if "SSEType" in sse:
            assert (sse["SSEType"], sse["KMSMasterKeyId"]) == ("KMS", {"Ref": "KmsKeyArn"})
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["DeletionProtectionEnabled"] is True
    assert body["DeletionPolicy"] == body["UpdateReplacePolicy"] == "Retain"


def test_the_tables_checked_are_all_three() -> None:
    assert sorted(resources("AWS::DynamoDB::Table")) == [
        "ProvidersTable",
        "RecordsTable",
        "UploadsTable",
    ]


def test_every_log_group_expires_and_every_function_logs_into_one() -> None:
    groups = resources("AWS::Logs::LogGroup")
    assert groups
    parameter = template()["Parameters"]["LogRetentionInDays"]
    assert parameter["Default"] in parameter["AllowedValues"]
    assert all(isinstance(days, int) and days > 0 for days in parameter["AllowedValues"])
    for body in groups.values():
        assert body["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    functions = resources("AWS::Lambda::Function")
    assert functions
    for name, body in functions.items():  # else Lambda makes /aws/lambda/<name>, kept forever
        assert body["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in groups, name


@pytest.mark.parametrize("queue", sorted(resources("AWS::SQS::Queue")))
def test_a_queue_is_encrypted_and_refuses_plain_http(queue: str) -> None:
    properties = resources()[queue]["Properties"]
    assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties
    policies = [
        body["Properties"]["PolicyDocument"]
        for body in resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue} in body["Properties"]["Queues"]
    ]
    assert any(
        statement["Effect"] == "Deny"
        and statement["Principal"] == "*"
        and statement["Action"] == "sqs:*"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for policy in policies
        for statement in statements(policy)
    )


# --------------------------------------------------------------------------- the API role


def api_statements() -> dict[str, dict[str, Any]]:
    [document] = [document for where, document in iam_policies() if where == "ApiFunctionRole.api"]
    return {statement["Sid"]: statement for statement in statements(document)}


def test_the_api_role_may_list_upload_keys_but_never_read_an_upload() -> None:
    """An upload shows as expired only when no file is at its key: the API lists that one key
    (ListObjectsV2, prefix = the key), and may not read the file, which holds patient data."""
    found = api_statements()
    assert found["ListUploadKeys"] == {
        "Sid": "ListUploadKeys",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": {"Fn::GetAtt": "UploadsBucket.Arn"},
        "Condition": {"StringLike": {"s3:prefix": "*/uploads/*"}},
    }
    listing = [s for s in found.values() if "s3:ListBucket" in as_list(s["Action"])]
    prefixes = sorted(s["Condition"]["StringLike"]["s3:prefix"] for s in listing)
    assert prefixes == ["*/reports/*", "*/uploads/*"]  # never the whole bucket
    pattern = found["ListUploadKeys"]["Condition"]["StringLike"]["s3:prefix"]
    key = "acme/uploads/2026/01/01/20260101T000000000Z-abcdefghij.csv"
    assert fnmatch.fnmatchcase(key, pattern)
    for prefix in ("", "acme/", "acme/rejects/x.csv", "acme/checkpoints/x", "acme/reports/x"):
        assert not fnmatch.fnmatchcase(prefix, pattern), prefix
    readable = [
        resource_text(resource)
        for statement in found.values()
        if {"s3:GetObject", "s3:GetObjectVersion"} & set(as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
    ]
    assert readable == ["${UploadsBucket.Arn}/*/reports/*"]


def test_the_api_role_may_update_uploads_to_abandon_them() -> None:
    actions = as_list(api_statements()["TrackUploads"]["Action"])
    assert sorted(actions) == [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]
    assert api_statements()["TrackUploads"]["Resource"] == {"Fn::GetAtt": "UploadsTable.Arn"}


def test_the_ingest_role_may_note_progress_on_the_uploads_table() -> None:
    [document] = [d for where, d in iam_policies() if where == "IngestFunctionRole.ingest"]
    [track] = [s for s in statements(document) if s.get("Sid") == "TrackUploads"]
    assert "dynamodb:UpdateItem" in as_list(track["Action"])
    assert track["Resource"] == {"Fn::GetAtt": "UploadsTable.Arn"}


# --------------------------------------------------------------------------- the function URL


def test_the_function_url_and_its_two_permissions_follow_aws_rules() -> None:
    """AWS's rules for a public function URL (Lambda guide, "Control access to Lambda function
    URLs"; CloudFormation's AWS::Lambda::Permission): with AuthType NONE, the function's
    resource policy must allow everyone lambda:InvokeFunctionUrl under FunctionUrlAuthType
    NONE and, for URLs made since October 2025, lambda:InvokeFunction too. That second grant is
    limited by InvokedViaFunctionUrl, so nobody may call Invoke on the function directly.
    FunctionUrlAuthType is valid with InvokeFunctionUrl only, InvokedViaFunctionUrl with
    InvokeFunction only; a permission matches the URL only with the same function and
    qualifier. All three, and the ApiUrl output, exist only with CreateFunctionUrl."""
    found = resources()
    url = found["ApiFunctionUrl"]
    assert url["Condition"] == "CreateFunctionUrl"
    assert url["Properties"] == {
        "TargetFunctionArn": {"Fn::GetAtt": "ApiFunction.Arn"},
        "AuthType": "NONE",
        "InvokeMode": "BUFFERED",  # a response of at most 6 MB, as the API's are
    }
    public = {
        "FunctionName": {"Ref": "ApiFunction"},
        "Principal": "*",
    }
    assert found["ApiFunctionUrlPermission"]["Properties"] == public | {
        "Action": "lambda:InvokeFunctionUrl",
        "FunctionUrlAuthType": url["Properties"]["AuthType"],
    }
    assert found["ApiFunctionUrlInvokePermission"]["Properties"] == public | {
        "Action": "lambda:InvokeFunction",
        "InvokedViaFunctionUrl": True,
    }
    for name in ("ApiFunctionUrlPermission", "ApiFunctionUrlInvokePermission"):
        assert found[name]["Condition"] == "CreateFunctionUrl"
    everyone_may_invoke = [
        name
        for name, body in resources("AWS::Lambda::Permission").items()
        if body["Properties"]["Action"] == "lambda:InvokeFunction"
        and body["Properties"]["Principal"] == "*"
    ]
    assert everyone_may_invoke == ["ApiFunctionUrlInvokePermission"]
    output = template()["Outputs"]["ApiUrl"]
    assert output == {
        "Condition": "CreateFunctionUrl",
        "Description": output["Description"],
        "Value": {"Fn::GetAtt": "ApiFunctionUrl.FunctionUrl"},
    }
    condition = template()["Conditions"]["CreateFunctionUrl"]
    assert condition == {"Fn::Equals": [{"Ref": "CreateFunctionUrl"}, "true"]}
    assert template()["Parameters"]["CreateFunctionUrl"]["Default"] == "true"
