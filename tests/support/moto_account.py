"""A fresh moto account in-process, and `ingest deploy`'s core run against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from support.names import LOCAL_ENDPOINT, REGION, STACK

SERVICES = ("cloudformation", "s3", "sts", "sqs", "dynamodb")


@dataclass(frozen=True)
class Clients:
    cfn: Any
    s3: Any
    sts: Any
    sqs: Any
    dynamodb: Any


@cache
def _models() -> Any:
    """One botocore loader for every account of the run: it keeps the service models it has
    parsed (some 0.2 s of JSON for these five clients, otherwise paid again per account, as
    moto gives each `mock_aws` block a new default session)."""
    from botocore.loaders import create_loader

    return create_loader()


def _session() -> Any:
    """A new boto3 session, as `boto3.client` would make under moto (credentials, region and
    config read afresh), that only shares the parsed service models."""
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    core.register_component("data_loader", _models())
    return boto3.Session(botocore_session=core)


@contextmanager
def moto_account() -> Iterator[Clients]:
    """boto3 clients of a fresh, empty moto account in us-east-1, for the `with` block."""
    from moto import mock_aws

    from ingestcli.local.moto_server import apply_fixes

    apply_fixes()
    with mock_aws():
        session = _session()
        yield Clients(*(session.client(service, region_name=REGION) for service in SERVICES))


@dataclass(frozen=True)
class Deployment:
    plan: Any
    change_set: Any
    events: list[Any]


def deployer(clients: Clients) -> Callable[..., Deployment]:
    """Runs `ingest deploy`'s core against moto the way the CLI does, a dry run included."""
    from ingestcli.deploy.executor import DeployExecutor
    from ingestcli.deploy.planner import DeployPlanner

    def run(
        parameters: dict[str, str] | None = None,
        *,
        template: Any = None,
        endpoint_url: str | None = LOCAL_ENDPOINT,
        dry_run: bool = False,
    ) -> Deployment:
        planner = DeployPlanner(clients.cfn, clients.s3, clients.sts, template=template)
        plan = planner.plan(STACK, parameters, endpoint_url=endpoint_url, dry_run=dry_run)
        executor = DeployExecutor(clients.cfn, clients.s3, poll_seconds=0)
        change_set = executor.prepare(plan)
        events = list(executor.execute(change_set)) if change_set.executable else []
        return Deployment(plan, change_set, events)

    return run
