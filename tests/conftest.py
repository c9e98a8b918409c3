"""Shared fixtures: no test ever reaches real AWS; moto stands in, in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ingestcli.local_moto import apply_fixes

REGION = "us-east-1"
STACK = "ingest-test"
LOCAL_ENDPOINT = "http://127.0.0.1:5000"  # only named, never called: moto runs in-process


def pytest_configure(config: pytest.Config) -> None:
    # moto warns for each resource type its CloudFormation skips (bucket and queue policies).
    config.addinivalue_line("filterwarnings", "ignore:Tried to parse AWS:UserWarning")


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Dummy credentials and region; no profile, config or endpoint from the developer's machine."""
    missing = tmp_path_factory.mktemp("aws") / "missing"
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(missing))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))


@dataclass(frozen=True)
class Clients:
    cfn: Any
    s3: Any
    sts: Any
    sqs: Any
    dynamodb: Any


@pytest.fixture
def clients() -> Iterator[Clients]:
    """boto3 clients of a fresh, empty moto account in us-east-1."""
    apply_fixes()
    with mock_aws():
        yield Clients(
            *(
                boto3.client(service, region_name=REGION)
                for service in ("cloudformation", "s3", "sts", "sqs", "dynamodb")
            )
        )


@dataclass(frozen=True)
class Deployment:
    plan: Any
    change_set: Any
    events: list[Any]


@pytest.fixture
def deploy(clients: Clients) -> Callable[..., Deployment]:
    """Run `ingest deploy`'s core against moto the way cli.py does, a dry run included."""
    from ingestcli.deploy import DeployExecutor, DeployPlanner

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


@pytest.fixture
def deployed(deploy: Callable[..., Deployment], clients: Clients) -> dict[str, str]:
    """A freshly deployed stack's outputs."""
    from ingestcli.stack import stack_outputs

    deploy()
    return stack_outputs(clients.cfn, STACK)
