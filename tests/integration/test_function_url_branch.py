"""The template's function URL branch (`CreateFunctionUrl=true`, the default on AWS) deployed
into moto, the URL made through the Lambda API, and the API handler answering through it.

moto, measured (5.2.5): its CloudFormation skips `AWS::Lambda::Url` with a warning, so the
`ApiUrl` output (`Fn::GetAtt ApiFunctionUrl.FunctionUrl`) fails the stack ("Fn::GetAtt
references undefined resource ApiFunctionUrl"); without that one output the branch deploys,
and both `AWS::Lambda::Permission`s are created. It stores each permission's properties as
given (`FunctionUrlAuthType`, `InvokedViaFunctionUrl` as statement keys), not as the
`Condition` AWS writes. `CreateFunctionUrlConfig` works and answers a URL without the
trailing slash AWS gives; moto never serves that URL, nor runs Lambda code without Docker,
so the handler is called in-process with the deployed function's environment. The rules
AWS enforces on these resources are checked over the template in
tests/unit/test_security_template.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from ingestcli.deploy.stack import stack_outputs
from ingestcli.deploy.template import Template, bundled_template
from ingestcli.lambdas.api import routes
from ingestcli.services.providers import ProviderRegistry
from support.api_calls import call, declare
from support.names import REGION, STACK
from support.template import template

PROVIDER = "acme"
URL_OUTPUT = re.compile(r"\n  ApiUrl:\n    Condition: CreateFunctionUrl\n(    .*\n)+")


def without_url_output(body: str) -> str:
    """The shipped template less its ApiUrl output, the one part moto cannot deploy."""
    cut, count = URL_OUTPUT.subn("\n", body)
    assert count == 1
    return cut


@pytest.fixture
def url_stack(clients, deploy) -> dict[str, Any]:
    variant = Template.parse(without_url_output(bundled_template().body))
    deploy({"CreateFunctionUrl": "true"}, template=variant)
    return stack_outputs(clients.cfn, STACK)


def test_the_variant_deployed_differs_from_the_template_by_the_url_output_only() -> None:
    import yaml

    from support.template import _TaggedLoader

    variant = yaml.load(without_url_output(bundled_template().body), Loader=_TaggedLoader)
    shipped = template()
    assert set(shipped["Outputs"]) - set(variant["Outputs"]) == {"ApiUrl"}
    del shipped["Outputs"]["ApiUrl"]
    assert variant == shipped


def test_the_url_branch_deploys_with_both_invoke_permissions(clients, url_stack) -> None:
    lambdas = boto3.client("lambda", region_name=REGION)
    api_function = url_stack["ApiFunction"]
    resources = clients.cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    created = {r["LogicalResourceId"]: r["ResourceStatus"] for r in resources}
    assert created["ApiFunctionUrlPermission"] == "CREATE_COMPLETE"
    assert created["ApiFunctionUrlInvokePermission"] == "CREATE_COMPLETE"
    assert "ApiFunctionUrl" not in created  # moto skips AWS::Lambda::Url
    policy = json.loads(lambdas.get_policy(FunctionName=api_function)["Policy"])
    arn = lambdas.get_function_configuration(FunctionName=api_function)["FunctionArn"]
    kept = ("Action", "Principal", "Effect", "Resource", "FunctionUrlAuthType")
    statements = [
        {key: value for key, value in statement.items() if key in (*kept, "InvokedViaFunctionUrl")}
        for statement in policy["Statement"]
    ]
    common = {"Principal": "*", "Effect": "Allow", "Resource": arn}
    assert sorted(statements, key=lambda s: s["Action"]) == [
        {"Action": "lambda:InvokeFunction", "InvokedViaFunctionUrl": True, **common},
        {"Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE", **common},
    ]
    # The ingest function is invoked by its event source mapping only: no resource policy.
    with pytest.raises(lambdas.exceptions.ResourceNotFoundException):
        lambdas.get_policy(FunctionName=url_stack["IngestFunction"])


def test_the_url_made_as_the_template_makes_it_serves_the_deployed_api(clients, url_stack) -> None:
    lambdas = boto3.client("lambda", region_name=REGION)
    api_function = url_stack["ApiFunction"]
    url = template()["Resources"]["ApiFunctionUrl"]["Properties"]
    made = lambdas.create_function_url_config(
        FunctionName=api_function, AuthType=url["AuthType"], InvokeMode=url["InvokeMode"]
    )
    found = lambdas.get_function_url_config(FunctionName=api_function)
    assert (found["AuthType"], found["InvokeMode"]) == ("NONE", "BUFFERED")
    assert found["FunctionUrl"] == made["FunctionUrl"]
    assert re.fullmatch(
        r"https://[a-z0-9]{32}\.lambda-url\.us-east-1\.on\.aws/?", made["FunctionUrl"]
    )
    assert found["FunctionArn"].endswith(f":function:{api_function}")

    # What a request to the URL runs: the deployed function's handler, with its environment,
    # handed the payload 2.0 event a function URL sends.
    configuration = lambdas.get_function_configuration(FunctionName=api_function)
    assert configuration["Handler"] == "ingestcli.lambdas.api.handler.handler"
    settings = routes.Settings.from_environment(configuration["Environment"]["Variables"])
    api = routes.Api(clients.s3, clients.dynamodb, clients.sts, settings)
    _, token = ProviderRegistry(clients.dynamodb, settings.providers_table).add(PROVIDER)
    status, answer, _ = call(api, "POST", "/uploads", token, body=declare())
    assert status == 201, answer
    assert answer["key"].startswith(f"{PROVIDER}/uploads/")
    status, answer, _ = call(api, "POST", "/uploads", "not-a-token", body=declare())
    assert status == 401, answer


def test_the_api_function_reserves_its_default_concurrency(clients, url_stack) -> None:
    lambdas = boto3.client("lambda", region_name=REGION)
    default = template()["Parameters"]["ApiReservedConcurrency"]["Default"]
    found = lambdas.get_function_concurrency(FunctionName=url_stack["ApiFunction"])
    assert found["ReservedConcurrentExecutions"] == default > 0
