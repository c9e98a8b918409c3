"""A missing stack says where it was looked for: the region, and the endpoint when it is not
AWS's own (the local stack, a moto server). CloudFormation's answer is scripted with
botocore's Stubber: no AWS, no moto, no network. On moto, through `ingest status` and
`ingest query`: tests/integration/test_stack_status.py, tests/integration/test_query_cli.py.
"""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ingestcli.cli.exits import EXIT_PROBLEMS, exit_code_for
from ingestcli.deploy.stack import StackNotFound, existing_stack, output_value
from ingestcli.deploy.status import read_status
from support.names import STACK

ADVICE = "check --region and --stack-name, or create it with `ingest deploy`"


def missing(cfn: Any) -> Stubber:
    stub = Stubber(cfn)
    stub.add_client_error(
        "describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist"
    )
    return stub


@pytest.mark.parametrize(
    ("region", "endpoint", "where"),
    [
        ("eu-west-1", None, "in region eu-west-1"),
        ("us-east-1", "https://cloudformation.us-east-1.amazonaws.com", "in region us-east-1"),
        ("cn-north-1", None, "in region cn-north-1"),
        (
            "us-east-1",
            "http://127.0.0.1:4566",
            "in region us-east-1 (endpoint http://127.0.0.1:4566)",
        ),
        (
            "eu-central-1",
            "https://proxy.example.org/aws",
            "in region eu-central-1 (endpoint https://proxy.example.org/aws)",
        ),
    ],
)
def test_the_message_names_the_stack_the_region_and_a_custom_endpoint(
    region: str, endpoint: str | None, where: str
) -> None:
    cfn = boto3.client("cloudformation", region_name=region, endpoint_url=endpoint)
    with missing(cfn), pytest.raises(StackNotFound) as caught:
        existing_stack(cfn, STACK)
    assert str(caught.value) == f"stack {STACK} does not exist {where}: {ADVICE}"
    assert caught.value.region == region
    assert exit_code_for(caught.value) == EXIT_PROBLEMS


def test_status_and_a_stack_output_say_the_same() -> None:
    cfn = boto3.client("cloudformation", region_name="ap-south-1", endpoint_url="http://[::1]:5000")
    expected = (
        f"stack {STACK} does not exist in region ap-south-1 (endpoint http://[::1]:5000): {ADVICE}"
    )
    with missing(cfn), pytest.raises(StackNotFound, match=re.escape(expected)):
        output_value("RecordsTable", saved={}, stack_name=STACK, cfn=lambda: cfn)
    with missing(cfn), pytest.raises(StackNotFound) as caught:
        read_status(cfn, None, STACK)
    assert str(caught.value) == expected


def test_what_a_config_file_sets_is_shown_bounded() -> None:
    message = str(StackNotFound("s" * 500, "us-east-1", "http://" + "e" * 500))
    assert f"stack {'s' * 200} does not exist" in message
    assert f"(endpoint http://{'e' * 193})" in message
    assert message.endswith(ADVICE)
