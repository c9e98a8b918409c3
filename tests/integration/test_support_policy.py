"""docs/support-policy.json grants support staff exactly what their commands call, no more.

The commands' cores (support.records, support.report, support.uploads, each checking the
provider in the providers table first, and stack.stack_outputs to find the resources) run
against a stack deployed into moto while every AWS operation is recorded; each call must be
allowed by one of the policy's statements once its placeholders are filled from that stack,
and each statement must be used. The placeholders name the template's resources and
outputs, so a renamed resource breaks this test, not production.
(What can be read off the policy file alone: tests/unit/test_support_policy_file.py.)
"""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from ingestcli.core.layout import report_key
from ingestcli.core.ledger import UploadLedger
from ingestcli.deploy.stack import stack_outputs
from ingestcli.errors import NotFound
from ingestcli.services.providers import ProviderRegistry, UnknownProvider
from ingestcli.services.support import ProvidersTable, records, report, uploads
from support.iam_policy import as_list, conditions_hold, filled, statements_for
from support.names import STACK
from support.records import item

# Operations whose IAM action is not named after them.
ACTIONS = {"ListObjectsV2": "s3:ListBucket", "ListParts": "s3:ListMultipartUploadParts"}


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


@pytest.fixture
def support_session(deployed: dict[str, str], clients: Any) -> tuple[Recorder, dict[str, str]]:
    """The support commands' cores run against the deployed stack, every call recorded."""
    clients.dynamodb.put_item(
        TableName=deployed["RecordsTable"], Item=item("MRN1", "2024-03-01T10:00:00Z")
    )
    ProviderRegistry(clients.dynamodb, deployed["ProvidersTable"]).add("acme")
    UploadLedger(clients.dynamodb, deployed["UploadsTable"]).register(  # its URL ran out unused
        "acme", "u1", key="acme/uploads/2024/03/01/u1.csv", expires_at="2024-03-01T00:05:00.000Z"
    )
    clients.s3.put_object(
        Bucket=deployed["UploadsBucket"], Key=report_key("acme", "u1"), Body=b'{"rows": 0}'
    )
    # An upload in parts whose multipart upload the bucket's rule aborted (ListParts: gone).
    in_parts = "acme/uploads/2024/03/02/u3.csv"
    opened = clients.s3.create_multipart_upload(Bucket=deployed["UploadsBucket"], Key=in_parts)
    UploadLedger(clients.dynamodb, deployed["UploadsTable"]).register(
        "acme", "u3", key=in_parts, expires_at="2024-03-09T00:00:00.000Z", part_size=5 << 20
    )
    UploadLedger(clients.dynamodb, deployed["UploadsTable"]).open_multipart(
        "acme", "u3", opened["UploadId"]
    )
    clients.s3.abort_multipart_upload(
        Bucket=deployed["UploadsBucket"], Key=in_parts, UploadId=opened["UploadId"]
    )
    stack_id = clients.cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackId"]
    account = clients.sts.get_caller_identity()["Account"]
    recorder = Recorder(clients.cfn, clients.dynamodb, clients.s3)

    outputs = stack_outputs(clients.cfn, STACK)
    providers = ProvidersTable(clients.dynamodb, outputs["ProvidersTable"])
    records_table, bucket = outputs["RecordsTable"], outputs["UploadsBucket"]
    found = records(clients.dynamodb, records_table, "acme", "MRN1", providers=providers)
    assert len(list(found)) == 1
    bounded = records(
        clients.dynamodb,
        records_table,
        "acme",
        "MRN1",
        since="2024-03-01",
        limit=1,
        providers=providers,
    )
    assert len(list(bounded)) == 1
    with pytest.raises(UnknownProvider):
        records(clients.dynamodb, records_table, "nosuch", "MRN1", providers=providers)
    assert report(clients.s3, bucket, "acme", "u1", providers=providers) == {"rows": 0}
    with pytest.raises(NotFound):
        report(clients.s3, bucket, "acme", "u2", providers=providers)
    listed = uploads(
        clients.dynamodb,
        outputs["UploadsTable"],
        "acme",
        10,
        providers=providers,
        s3=clients.s3,
        bucket=bucket,
    )
    # expired: a ListObjectsV2 of its own key found nothing; abandoned: ListParts found its
    # multipart upload gone, and that listing nothing at its key
    assert {u["upload_id"]: u["status"] for u in listed} == {"u1": "expired", "u3": "abandoned"}

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
            for statement in statements_for(values)
            if action in as_list(statement["Action"])
            and conditions_hold(statement, params)
            and any(
                fnmatch.fnmatchcase(arn, filled(resource, values))
                for resource in as_list(statement["Resource"])
            )
        ]
        assert allowing, f"{action} on {arn} is not allowed"
        used.add(action)
    applied = statements_for(values)
    granted = {action for statement in applied for action in as_list(statement["Action"])}
    assert granted == used
    # Records and uploads are read from their own tables, each under its own statement, and
    # the providers table only item by item: support staff never list it.
    tables = {params["TableName"] for action, params in recorder.calls if action.endswith("Query")}
    assert tables == {values["RecordsTable"], values["UploadsTable"]}
    checked = [params for action, params in recorder.calls if action == "dynamodb:GetItem"]
    assert {params["TableName"] for params in checked} == {values["ProvidersTable"]}
    assert len(checked) == 6  # once per read: 3 of records (one unknown), 2 reports, uploads
