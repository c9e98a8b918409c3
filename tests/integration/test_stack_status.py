"""`ingest status` and `ingest destroy` on a stack deployed into moto: outputs and queue
depths, a destroy that deletes the stack but keeps the data, and a missing stack that says
where it was looked for (a custom endpoint too: tests/unit/test_stack_not_found.py)."""

from __future__ import annotations

from datetime import datetime

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.deploy.executor import DestroyExecutor
from ingestcli.deploy.planner import DestroyPlanner
from ingestcli.deploy.stack import StackNotFound, describe_stack
from ingestcli.deploy.status import read_status
from ingestcli.errors import DeployError
from support.names import REGION, STACK
from support.template import RETAINED


def test_status_reports_outputs_and_queue_depths(clients, deployed: dict[str, str]) -> None:
    queue, dead_letters = deployed["QueueUrl"], deployed["DeadLetterQueueUrl"]
    for number in range(3):
        clients.sqs.send_message(QueueUrl=queue, MessageBody=f"upload {number}")
    clients.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)
    for number in range(2):
        clients.sqs.send_message(QueueUrl=dead_letters, MessageBody=f"poison {number}")

    status = read_status(clients.cfn, clients.sqs, STACK)

    assert status.status == "CREATE_COMPLETE"
    assert status.outputs == deployed
    assert isinstance(status.last_updated, datetime)
    depths = {q.name: (q.url, q.visible, q.in_flight, q.delayed) for q in status.queues}
    assert depths == {"queue": (queue, 2, 1, 0), "dead-letter queue": (dead_letters, 2, 0, 0)}


def test_status_of_a_missing_stack_says_where_it_looked_and_what_to_do(clients) -> None:
    with pytest.raises(StackNotFound) as caught:
        read_status(clients.cfn, clients.sqs, STACK)
    assert str(caught.value) == (
        f"stack {STACK} does not exist in region {REGION}: check --region and --stack-name, "
        "or create it with `ingest deploy`"
    )
    assert (caught.value.stack_name, caught.value.region) == (STACK, REGION)
    assert caught.value.endpoint_url is None  # AWS's own endpoint goes without saying


def test_ingest_status_of_a_stack_in_another_region_names_both(clients, deployed) -> None:
    result = CliRunner().invoke(app, ["status", "--stack-name", STACK, "--region", "eu-west-1"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: stack {STACK} does not exist in region eu-west-1: check --region and "
        "--stack-name, or create it with `ingest deploy`\n"
    )


def test_destroy_deletes_the_stack_and_keeps_the_data(clients, deployed: dict[str, str]) -> None:
    plan = DestroyPlanner(clients.cfn).plan(STACK)

    kept = {k.resource.logical_id: k for k in plan.kept}
    assert {name: k.resource.resource_type for name, k in kept.items()} == RETAINED
    for name in RETAINED:
        assert kept[name].resource.physical_id == deployed[name]
        assert all(deployed[name] in command for command in kept[name].commands)
    assert "--no-deletion-protection-enabled" in kept["RecordsTable"].commands[0]
    assert kept["UploadsBucket"].commands[-1].startswith("aws s3api delete-bucket")
    deleted = {r.logical_id for r in plan.deleted}
    assert {"UploadsQueue", "UploadsDeadLetterQueue", "IngestFunction", "ApiFunction"} <= deleted
    assert not deleted & set(RETAINED)

    events = list(DestroyExecutor(clients.cfn, poll_seconds=0).execute(plan))

    assert events[-1].status == "DELETE_COMPLETE"
    assert describe_stack(clients.cfn, STACK) is None
    for bucket in ("UploadsBucket", "AccessLogsBucket"):
        clients.s3.head_bucket(Bucket=deployed[bucket])
    for table in ("RecordsTable", "ProvidersTable", "UploadsTable"):
        clients.dynamodb.describe_table(TableName=deployed[table])
    assert clients.sqs.list_queues().get("QueueUrls", []) == []


def test_destroy_of_a_missing_stack_says_so(clients) -> None:
    with pytest.raises(DeployError, match=f"^stack {STACK} does not exist in region {REGION}: "):
        DestroyPlanner(clients.cfn).plan(STACK)
