"""A moto server that enforces IAM, in a process of its own, with the patches it needs.

moto (5.2.x) enforces IAM in server mode once INITIAL_NO_AUTH_ACTION_COUNT requests have
been served. Out of the box that enforcement cannot run this stack (../shared/MOTO.md); each
patch below fixes one defect, and tests/e2e/test_iam_enforced_moto_defects.py holds, for
each, a test against an unpatched server that fails once moto fixes it (then drop the patch):

1. `dynamodb`: requests are checked against "*", not the table ARN, so a statement scoped to
   a table never allows (moto/core/responses.py: DynamoHandler has no _determine_resource).
   The same holds for `logs` (the log stream's ARN) and `cloudformation` (the stack's).
2. `trust`: a trust policy naming a role ARN does not match that role's sessions
   (moto/iam/access_control.py compares the session's assumed-role ARN with the role ARN).
3. `cfn_policies`: role policies moto's CloudFormation creates are stored as dicts (shown
   as Python reprs, with None where AWS::NoValue removed a statement), so enforcement ends
   in a 500 (KeyError 'policy_document').
4. `presigned`: a presigned request has no Authorization header and crashes enforcement
   with a 500 (KeyError 'Authorization'). Patched to authorise it as its signer's session;
   its signature is not checked (moto checks no presigned signature anyway).
5. `log_group_arn`: Fn::GetAtt Arn of a log group lacks AWS's trailing ":*", so a policy
   naming it never matches a log stream.

Not patched, worked around (support.iam_enforced): Lambda's REST calls fail their signature
check under enforcement (SignatureDoesNotMatch, even for an admin), and an execution role's
trust policy (a Service principal) cannot be checked, so "the Lambda service" reads the
functions and assumes their roles with enforcement paused (/moto-api/reset-auth).

    python -m support.iam_moto --fd N [--unpatched]   (spawn() starts it)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.paths import TESTS

_SESSION = re.compile(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/[^/]+")


def _without_none(value: Any) -> Any:
    """A policy as CloudFormation would have stored it: AWS::NoValue parts left out."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


def _table_arns(handler: Any) -> list[str]:
    body = getattr(handler, "params", None) or handler._get_params()
    names = [body["TableName"]] if "TableName" in body else list(body.get("RequestItems", {}))
    prefix = f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/"
    return [prefix + name for name in names] or ["*"]


def patch_dynamodb_and_logs() -> None:
    """Defect 1: check a DynamoDB request against each table it names, a logs request
    against its log stream (or log group), a CloudFormation one against its stack."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.dynamodb.responses import DynamoHandler
    from moto.logs.responses import LogsResponse

    check = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def per_table(self: Any, resource: str = "*") -> None:
        for arn in _table_arns(self):
            check(self, arn)

    def log_resource(self: Any) -> str:
        group, stream = self._get_param("logGroupName"), self._get_param("logStreamName")
        arn = f"arn:aws:logs:{self.region}:{self.current_account}:log-group:{group}"
        return f"{arn}:log-stream:{stream}" if stream else arn

    def stack_resource(self: Any) -> str:
        name = self._get_param("StackName")
        try:
            return self.cloudformation_backend.get_stack(name).stack_id if name else "*"
        except Exception:  # no such stack: what moto checks without this patch
            return "*"

    DynamoHandler._authenticate_and_authorize_normal_action = per_table
    LogsResponse._determine_resource = log_resource
    CloudFormationResponse._determine_resource = stack_resource


def patch_trust() -> None:
    """Defect 2: a trust policy naming a role matches that role's sessions."""
    from moto.iam.access_control import IAMPolicyStatement

    original = IAMPolicyStatement._check_principal

    def check(self: Any, principal: str) -> bool:
        session = _SESSION.fullmatch(principal)
        if session and original(self, "arn:{}:iam::{}:role/{}".format(*session.groups())):
            return True
        return original(self, principal)

    IAMPolicyStatement._check_principal = check


def patch_cfn_policies() -> None:
    """Defect 3: role policies are stored as JSON text, whoever creates them."""
    from moto.iam.models import Role

    original = Role.put_policy

    def put_policy(self: Any, policy_name: str, policy_json: Any) -> None:
        if not isinstance(policy_json, str):
            policy_json = json.dumps(_without_none(policy_json))
        original(self, policy_name, policy_json)

    Role.put_policy = put_policy


def patch_presigned() -> None:
    """Defect 4: a presigned request is authorised as the session that signed it."""
    from moto.iam.access_control import IAMRequestBase

    original_init, original_check = IAMRequestBase.__init__, IAMRequestBase.check_signature

    def init(self: Any, account_id: str, method: str, path: str, data: Any, body: Any,
             headers: Any, action: str) -> None:  # fmt: skip
        query = parse_qs(urlsplit(path).query)
        self._presigned = "Authorization" not in headers and "X-Amz-Credential" in query
        if self._presigned:
            headers = dict(headers)
            headers["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={query['X-Amz-Credential'][0]}, "
                f"SignedHeaders={query['X-Amz-SignedHeaders'][0]}, Signature=presigned"
            )
            if "X-Amz-Security-Token" in query:
                headers["X-Amz-Security-Token"] = query["X-Amz-Security-Token"][0]
        original_init(self, account_id, method, path, data, body, headers, action)

    def check_signature(self: Any) -> None:
        if not self._presigned:
            original_check(self)

    IAMRequestBase.__init__ = init
    IAMRequestBase.check_signature = check_signature


def patch_log_group_arn() -> None:
    """Defect 5: Fn::GetAtt Arn of a log group ends with ":*", as on AWS."""
    from moto.logs.models import LogGroup

    original = LogGroup.get_cfn_attribute

    def attribute(self: Any, attribute_name: str) -> str:
        found = original(self, attribute_name)
        return f"{found}:*" if attribute_name == "Arn" else found

    LogGroup.get_cfn_attribute = attribute


PATCHES = {
    "dynamodb": patch_dynamodb_and_logs,
    "trust": patch_trust,
    "cfn_policies": patch_cfn_policies,
    "presigned": patch_presigned,
    "log_group_arn": patch_log_group_arn,
}


def main(argv: list[str] | None = None) -> None:
    """Serve on the socket `--fd`, the patches applied unless `--unpatched`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--unpatched", action="store_true")
    arguments = parser.parse_args(argv)
    if not arguments.unpatched:
        for patch in PATCHES.values():
            patch()
    from ingestcli.local.moto_server import main as serve

    serve(["--fd", str(arguments.fd)])  # the project's fixed server, enforcing from the env


def spawn(no_auth_count: int, *, patched: bool = True) -> tuple[subprocess.Popen, str]:
    """A server that serves `no_auth_count` requests unchecked, then enforces IAM; the
    process and its endpoint once it answers. The caller terminates it."""
    from ingestcli.local.ports import reserve

    listener = reserve(0)
    port = listener.getsockname()[1]
    environment = os.environ | {
        "INITIAL_NO_AUTH_ACTION_COUNT": str(no_auth_count),
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "support.iam_moto", "--fd", str(listener.fileno())]
    try:
        server = subprocess.Popen(
            command + ([] if patched else ["--unpatched"]),
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(listener.fileno(),),
        )
    finally:
        listener.close()
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return server, endpoint
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"the enforcing moto server did not start on {port}") from None
            time.sleep(0.2)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def admin(endpoint: str, region: str) -> dict[str, str]:
    """An IAM user allowed everything, made with the server's 3 unchecked requests; the
    keyword arguments of a boto3 client acting as it."""
    import boto3

    anonymous = {"aws_access_key_id": "AKIAUNCHECKED0000000", "aws_secret_access_key": "x"}
    iam = boto3.client("iam", region_name=region, endpoint_url=endpoint, **anonymous)
    iam.create_user(UserName="deployer")
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    iam.put_user_policy(
        UserName="deployer",
        PolicyName="admin",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    return {
        "region_name": region,
        "endpoint_url": endpoint,
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


ADMIN_REQUESTS = 3  # what admin() sends before enforcement must start


if __name__ == "__main__":
    main()
