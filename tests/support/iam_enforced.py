"""The bundled template deployed into an IAM-enforcing moto server (support.iam_moto) by
`ingest deploy`'s core as an admin user, and the two functions run in-process as Lambda
runs them: their own module's handler, the function's environment, and credentials of the
function's own role (sts.assume_role on the role the function names); the API's signer
sessions are the ones the API itself assumes. Every call is recorded (support.iam_calls).

What stands in for AWS's services, not for our code: "the Lambda service" assumes the
execution roles (their trust policies name lambda.amazonaws.com, which moto cannot check,
so those two AssumeRole calls run in a short window with enforcement off), writes the
invocation logs with the role (CreateLogStream, PutLogEvents) and, for the ingest function,
polls the queue as the event source mapping does (GetQueueAttributes, ReceiveMessage,
DeleteMessage, with the role). S3's notification and versioning, which moto's
CloudFormation ignores, are set through the API as the template declares them.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from support.iam_calls import Recorder, Where
from support.iam_moto import admin
from support.ingest_events import FakeContext
from support.moto_account import Clients, deployer
from support.names import ACCOUNT, REGION, STACK
from support.policy_check import Principal


def _document(found: Any) -> dict[str, Any]:
    return json.loads(found) if isinstance(found, str) else found


@dataclass
class Enforced:
    """A deployed stack on an enforcing server, and who may call it."""

    endpoint: str
    admin: dict[str, Any]  # boto3 client keyword arguments of the deploying admin
    outputs: dict[str, str]
    kms_key: str
    recorder: Recorder = field(default_factory=Recorder)
    principals: dict[str, Principal] = field(default_factory=dict)  # by access key id
    roles: dict[str, str] = field(default_factory=dict)  # "ingest"/"api"/"signer" -> ARN
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # the functions'

    def client(self, service: str) -> Any:
        return boto3.client(service, **self.admin)

    def role_policies(self, role_arn: str) -> tuple[dict[str, Any], ...]:
        iam, name = self.client("iam"), role_arn.rsplit("/", 1)[1]
        return tuple(
            _document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
        )

    def where(self) -> Where:
        stack_id = self.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        return Where(REGION, ACCOUNT, {STACK: stack_id["StackId"]}, self.kms_key)

    def key_policy(self) -> dict[str, Any] | None:
        if not self.kms_key:
            return None
        found = self.client("kms").get_key_policy(KeyId=self.kms_key, PolicyName="default")
        return json.loads(found["Policy"])

    def signer_sessions(self) -> None:
        """Principals of the signer sessions the API assumed, with their session policies."""
        for access_key, request in self.recorder.sessions.items():
            if access_key not in self.principals and request["RoleArn"] == self.roles["signer"]:
                self.principals[access_key] = Principal(
                    "signer",
                    request["RoleArn"],
                    ACCOUNT,
                    self.role_policies(request["RoleArn"]),
                    json.loads(request["Policy"]),
                )

    def assume_execution_roles(self) -> dict[str, dict[str, str]]:
        """The Lambda service's AssumeRole of each function's role, with enforcement paused;
        the functions' configurations are read then too (under enforcement moto refuses
        Lambda's REST calls: SignatureDoesNotMatch, even as the admin user)."""
        lambdas, sts = self.client("lambda"), self.client("sts")
        credentials = {}
        _set_enforcement(self.endpoint, on=False)
        try:
            for name, output in (("ingest", "IngestFunction"), ("api", "ApiFunction")):
                config = lambdas.get_function_configuration(FunctionName=self.outputs[output])
                self.configs[name], self.roles[name] = config, config["Role"]
                found = sts.assume_role(RoleArn=config["Role"], RoleSessionName=f"{name}-fn")
                credentials[name] = found["Credentials"]
        finally:
            _set_enforcement(self.endpoint, on=True)
        self.roles["signer"] = self.outputs["SignerRoleArn"]
        for name, found in credentials.items():
            arn = self.roles[name]
            self.principals[found["AccessKeyId"]] = Principal(
                name, arn, ACCOUNT, self.role_policies(arn)
            )
        return credentials


def _set_enforcement(endpoint: str, *, on: bool) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0" if on else b"inf",
        headers={"Content-Type": "text/plain"},  # a form body would leave request.data empty
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def deploy(endpoint: str, parameters: dict[str, str] | None, *, kms: bool) -> Enforced:
    """The stack deployed as an admin user under enforcement (the server must still have
    its ADMIN_REQUESTS unchecked requests), then the bucket's notification and versioning."""
    kwargs = admin(endpoint, REGION)
    session = boto3.Session(**{k: v for k, v in kwargs.items() if k != "endpoint_url"})
    services = ("cloudformation", "s3", "sts", "sqs", "dynamodb")
    clients = Clients(*(session.client(s, endpoint_url=endpoint) for s in services))
    parameters = dict(parameters or {})
    kms_key = ""
    if kms:
        kms_key = session.client("kms", endpoint_url=endpoint).create_key()["KeyMetadata"]["Arn"]
        parameters["KmsKeyArn"] = kms_key
    deployer(clients)(parameters, endpoint_url=endpoint)
    from ingestcli.deploy.stack import stack_outputs

    outputs = stack_outputs(clients.cfn, STACK)
    bucket = outputs["UploadsBucket"]
    clients.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue = clients.sqs.get_queue_attributes(
        QueueUrl=outputs["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    clients.s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}},
                }
            ]
        },
    )
    return Enforced(endpoint, kwargs, outputs, kms_key)


class Function:
    """One function's execution environment: its handler module, environment and role."""

    def __init__(self, stack: Enforced, name: str, credentials: dict[str, str]) -> None:
        self.stack, self.name = stack, name
        config = stack.configs[name]
        self.environment = config["Environment"]["Variables"] | {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_ENDPOINT_URL": stack.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
        self.group = (
            config.get("LoggingConfig", {}).get("LogGroup")
            or stack.outputs["IngestLogGroup" if name == "ingest" else "ApiLogGroup"]
        )
        self.stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.logs: Any = None

    @contextmanager
    def running(self) -> Iterator[Any]:
        """The handler module, its clients made afresh from this environment and recorded."""
        import importlib

        module = importlib.import_module(f"ingestcli.lambdas.{self.name}.handler")
        cached = module.ingestor if self.name == "ingest" else module.api
        saved = {name: os.environ.get(name) for name in self.environment}
        previous = boto3.DEFAULT_SESSION
        os.environ.update(self.environment)
        boto3.setup_default_session()
        self.stack.recorder.attach(boto3.DEFAULT_SESSION)
        cached.cache_clear()
        try:
            if self.logs is None:  # a new execution environment: its log stream
                self.logs = boto3.client("logs")
                self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
            yield module
        finally:
            cached.cache_clear()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            boto3.DEFAULT_SESSION = previous

    def log(self, message: str) -> None:
        """What the runtime writes for an invocation (no payload, never patient data)."""
        event = {"timestamp": int(time.time() * 1000), "message": message}
        self.logs.put_log_events(
            logGroupName=self.group, logStreamName=self.stream, logEvents=[event]
        )

    def invoke(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        with self.running() as module:
            self.log("START")
            answer = module.handler(event, context if context is not None else FakeContext())
            self.log("END")
            return answer

    def client(self, service: str) -> Any:
        """A client with the function's role, as the Lambda service uses it (recorded)."""
        session = boto3.Session(
            aws_access_key_id=self.environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.environment["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.environment["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )
        self.stack.recorder.attach(session)
        return session.client(service, endpoint_url=self.stack.endpoint)


def poll_queue(ingest: Function, contexts: Iterator[Any], *, runs: int = 20) -> list[dict]:
    """The event source mapping: receive a message with the function's role, invoke the
    handler with it (one message a batch, the template's default), delete it unless the
    handler reports it failed; until the queue is empty. The handler's answers."""
    sqs = ingest.client("sqs")
    queue_url = ingest.environment["QUEUE_URL"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    source = arn["Attributes"]["QueueArn"]
    answers: list[dict] = []
    for _ in range(runs):
        found = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, AttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages", [])
        if not found:
            return answers
        (message,) = found
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": source,
            "awsRegion": REGION,
        }
        answer = ingest.invoke({"Records": [record]}, next(contexts))
        answers.append(answer)
        if not answer["batchItemFailures"]:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError(f"the queue still held messages after {runs} runs")
