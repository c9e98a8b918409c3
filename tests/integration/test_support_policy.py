"""docs/support-policy.json grants support staff exactly what their commands call, no more.

The commands' cores (query.records, query.report, query.uploads, and stack.stack_outputs to
find the resources) run against a stack deployed into moto while every AWS operation is
recorded; each call must be allowed by one of the policy's statements once its placeholders
are filled from that stack, and each statement must be used. The placeholders name the
template's resources and outputs, so a renamed resource breaks this test, not production.
"""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ingestcli.core.ledger import UploadLedger
from ingestcli.deploy.stack import stack_outputs
from ingestcli.errors import NotFound
from ingestcli.services.support import records, report, report_key, uploads
from test_query import item, template

ROOT = Path(__file__).parents[1]
POLICY = ROOT / "docs" / "support-policy.json"
STACK = "ingest-test"  # conftest.STACK
PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackName"}
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# Operations whose IAM action is not named after them.
ACTIONS = {"ListObjectsV2": "s3:ListBucket"}
ARN_SERVICE_TYPES = {"dynamodb": "AWS::DynamoDB::Table", "s3": "AWS::S3::Bucket"}


@cache
def policy() -> dict[str, Any]:
    return json.loads(POLICY.read_text("utf-8"))


def statements() -> list[dict[str, Any]]:
    return policy()["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_the_policy_only_allows_named_actions_on_named_resources() -> None:
    assert policy()["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in statements()]
    assert len(set(sids)) == len(sids)
    for statement in statements():
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert all("*" not in action for action in as_list(statement["Action"]))
        assert all(resource.startswith("arn:") for resource in as_list(statement["Resource"]))


def test_placeholders_name_the_templates_resources_and_outputs() -> None:
    resources, outputs = template()["Resources"], template()["Outputs"]
    for statement in statements():
        for resource in as_list(statement["Resource"]):
            service = PLACEHOLDER.sub("x", resource).split(":")[2]
            for name in PLACEHOLDER.findall(resource):
                if name in PSEUDO:
                    continue
                # Filled from `ingest status` (an output), or by !Sub inside the template.
                assert resources[name]["Type"] == ARN_SERVICE_TYPES[service], resource
                assert outputs[name]["Value"] == {"Ref": name}, name


def test_reports_are_readable_and_listable_but_never_uploads_or_rejects() -> None:
    readable = [
        resource
        for statement in statements()
        if "s3:GetObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    api_grants = template()["Resources"]["ApiFunctionRole"]["Properties"]["Policies"][0]
    api_reports = next(
        grant
        for grant in api_grants["PolicyDocument"]["Statement"]
        if grant.get("Sid") == "ReadReports"
    )
    assert api_reports["Resource"] == {"Fn::Sub": "${UploadsBucket.Arn}/*/reports/*"}
    assert readable == ["arn:${AWS::Partition}:s3:::${UploadsBucket}/*/reports/*"]
    bucket = "arn:${AWS::Partition}:s3:::${UploadsBucket}/"
    for provider in ("acme", "reports"):
        assert fnmatch.fnmatchcase(bucket + report_key(provider, "u1"), readable[0])
        for kind in ("uploads/2024/03/01", "rejects", "checkpoints"):
            assert not fnmatch.fnmatchcase(f"{bucket}{provider}/{kind}/u1.csv", readable[0])
    (listing,) = [s for s in statements() if "s3:ListBucket" in as_list(s["Action"])]
    assert conditions_hold(listing, {"Prefix": report_key("acme", "u1")})
    for prefix in (None, "", "acme/", "acme/uploads/", "acme/rejects/u1.csv"):
        assert not conditions_hold(listing, {"Prefix": prefix}), prefix


class Recorder:
    """Every operation the clients send, as (IAM action, its parameters)."""

    def __init__(self, *clients: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for client in clients:
            prefix = client.meta.service_model.signing_name
            client.meta.events.register(
                "before-parameter-build",
                lambda params, model, prefix=prefix, **_: self.calls.append(
                    (ACTIONS.get(model.name, f"{prefix}:{model.name}"), dict(params))
                ),
            )


def resource_of(action: str, params: dict[str, Any], where: dict[str, str]) -> str:
    """The ARN IAM checks a call against."""
    partition, region, account = where["AWS::Partition"], where["AWS::Region"], where["account"]
    if action.startswith("dynamodb:"):
        return f"arn:{partition}:dynamodb:{region}:{account}:table/{params['TableName']}"
    if action == "s3:ListBucket":
        return f"arn:{partition}:s3:::{params['Bucket']}"
    if action.startswith("s3:"):
        return f"arn:{partition}:s3:::{params['Bucket']}/{params['Key']}"
    return where["stack_id"]


def conditions_hold(statement: dict[str, Any], params: dict[str, Any]) -> bool:
    """The statement's conditions, for the one kind it uses: StringLike on s3:prefix."""
    context = {"s3:prefix": params.get("Prefix")}
    for operator, tests in statement.get("Condition", {}).items():
        assert operator == "StringLike"
        for key, patterns in tests.items():
            value = context[key]
            if value is None or not any(
                fnmatch.fnmatchcase(value, pattern) for pattern in as_list(patterns)
            ):
                return False
    return True


def filled(resource: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], resource)


@pytest.fixture
def support_session(deployed: dict[str, str], clients: Any) -> tuple[Recorder, dict[str, str]]:
    """The support commands' cores run against the deployed stack, every call recorded."""
    clients.dynamodb.put_item(
        TableName=deployed["RecordsTable"], Item=item("MRN1", "2024-03-01T10:00:00Z")
    )
    UploadLedger(clients.dynamodb, deployed["UploadsTable"]).register("acme", "u1")
    clients.s3.put_object(
        Bucket=deployed["UploadsBucket"], Key=report_key("acme", "u1"), Body=b'{"rows": 0}'
    )
    stack_id = clients.cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackId"]
    account = clients.sts.get_caller_identity()["Account"]
    recorder = Recorder(clients.cfn, clients.dynamodb, clients.s3)

    outputs = stack_outputs(clients.cfn, STACK)
    found = records(clients.dynamodb, outputs["RecordsTable"], "acme", "MRN1")
    assert len(list(found)) == 1
    bounded = records(
        clients.dynamodb, outputs["RecordsTable"], "acme", "MRN1", since="2024-03-01", limit=1
    )
    assert len(list(bounded)) == 1
    assert report(clients.s3, outputs["UploadsBucket"], "acme", "u1") == {"rows": 0}
    with pytest.raises(NotFound):
        report(clients.s3, outputs["UploadsBucket"], "acme", "u2")
    assert len(uploads(clients.dynamodb, outputs["UploadsTable"], "acme", 10)) == 1

    values = {
        "AWS::Partition": "aws",
        "AWS::Region": clients.dynamodb.meta.region_name,
        "AWS::AccountId": account,
        "AWS::StackName": STACK,
        **outputs,
    }
    return recorder, values | {"account": account, "stack_id": stack_id}


def test_every_call_is_allowed_and_every_grant_is_used(
    support_session: tuple[Recorder, dict[str, str]],
) -> None:
    recorder, values = support_session
    used: set[str] = set()
    for action, params in recorder.calls:
        arn = resource_of(action, params, values)
        allowing = [
            statement["Sid"]
            for statement in statements()
            if action in as_list(statement["Action"])
            and conditions_hold(statement, params)
            and any(
                fnmatch.fnmatchcase(arn, filled(resource, values))
                for resource in as_list(statement["Resource"])
            )
        ]
        assert allowing, f"{action} on {arn} is not allowed"
        used.add(action)
    granted = {action for statement in statements() for action in as_list(statement["Action"])}
    assert granted == used
    # Records and uploads are read from their own tables, each under its own statement.
    tables = {params["TableName"] for action, params in recorder.calls if action.endswith("Query")}
    assert tables == {values["RecordsTable"], values["UploadsTable"]}
