"""Destroy as plan and executor on a stack deployed into moto (in-process): the planner
only reads, whatever it is asked; the executor deletes the stack and nothing it retains.
Every CloudFormation operation is recorded through botocore's before-call event."""

from __future__ import annotations

from typing import Any

from ingestcli.deploy.executor import DestroyExecutor
from ingestcli.deploy.planner import DestroyPlanner
from ingestcli.deploy.stack import describe_stack, output_value, stack_outputs
from support.names import STACK
from support.template import RETAINED

READS = {"DescribeStacks", "GetTemplate", "DescribeStackResources"}


def record(client: Any) -> list[str]:
    """The names of the operations the client sends from now on."""
    operations: list[str] = []
    client.meta.events.register(
        "before-call.cloudformation.*",
        lambda model, **_: operations.append(model.name),
    )
    return operations


def test_planning_twice_reads_only_and_changes_nothing(clients, deployed: dict[str, str]) -> None:
    operations = record(clients.cfn)

    first = DestroyPlanner(clients.cfn).plan(STACK)
    second = DestroyPlanner(clients.cfn).plan(STACK)

    assert first == second
    assert set(operations) == READS
    stack = describe_stack(clients.cfn, STACK)
    assert stack is not None and stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack_outputs(clients.cfn, STACK) == deployed
    assert {k.resource.logical_id: k.resource.resource_type for k in first.kept} == RETAINED
    assert {k.resource.logical_id: k.resource.physical_id for k in first.kept} == {
        name: deployed[name] for name in RETAINED
    }
    assert first.stack_id == stack["StackId"]


def test_the_executor_deletes_the_stack_and_keeps_the_data(
    clients, deployed: dict[str, str]
) -> None:
    plan = DestroyPlanner(clients.cfn).plan(STACK)
    operations = record(clients.cfn)

    events = list(DestroyExecutor(clients.cfn, poll_seconds=0).execute(plan))

    assert operations.count("DeleteStack") == 1
    assert set(operations) == {"DescribeStackEvents", "DeleteStack", "DescribeStacks"}
    assert events and events[-1].status == "DELETE_COMPLETE"
    assert describe_stack(clients.cfn, STACK) is None
    assert describe_stack(clients.cfn, plan.stack_id)["StackStatus"] == "DELETE_COMPLETE"
    for bucket in ("UploadsBucket", "AccessLogsBucket"):
        clients.s3.head_bucket(Bucket=deployed[bucket])
    for table in ("RecordsTable", "ProvidersTable", "UploadsTable"):
        clients.dynamodb.describe_table(TableName=deployed[table])
    assert clients.sqs.list_queues().get("QueueUrls", []) == []


def test_an_output_not_saved_is_read_from_the_deployed_stack(
    clients, deployed: dict[str, str]
) -> None:
    operations = record(clients.cfn)
    found = output_value("RecordsTable", saved={}, stack_name=STACK, cfn=lambda: clients.cfn)
    assert found == deployed["RecordsTable"]
    assert operations == ["DescribeStacks"]
