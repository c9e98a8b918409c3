"""The local stack: the whole pipeline on one machine, on loopback, in memory.

moto in server mode stands in for AWS, and the bundled template is deployed into it by
the same code as `ingest deploy`. What moto's CloudFormation does not do, this module does
itself, here and nowhere else:

- moto does not apply the bucket's NotificationConfiguration nor its VersioningConfiguration
  from a template: versioning is turned on and the S3 → SQS notification is put through the
  API, which moto's server does deliver. Its events then name the object's version
  (`versionId`), as AWS's do, through moto_server's fix: the versioned read is the one that
  runs here;
- moto runs no Lambda code without Docker: the API handler (`lambdas/api/`) is served
  over HTTP on 127.0.0.1 by `api_server.ApiServer`, and the ingest handler
  (`lambdas/ingest/`) is called by `worker.QueueWorker`, which plays the SQS event
  source mapping. Both are configured from the deployed functions' own environment;
- moto plays the event source mapping too, its own way: each message sent to the queue
  makes it receive a batch of whatever is visible, fail to invoke the function (no
  Docker) and put the batch back, one receive spent. Under a burst of uploads a waiting
  message is spent that way up to maxReceiveCount and moved to the dead-letter queue
  without ever being ingested; so the deployed mapping is disabled here, and the worker
  is the only consumer of the queue;
- moto checks neither presigned URL signatures nor expiry nor `x-amz-checksum-sha256`; the
  ingest handler recomputes the checksum itself, on AWS as here;
- moto's CloudFormation skips bucket and queue policies and function URLs (the template
  keeps them for AWS; `CreateFunctionUrl=false` here).

Everything lives in the moto process's memory and is gone when the stack stops.

`WorkerOptions` is the one door for tests into how the ingest handler runs here: settings
over the function's environment (a shorter LEASE_GRACE_MS or CONTINUE_MARGIN_MS), a
shorter function timeout, several invocations at once, and a hook that wraps the boto3
clients the handler is given (fault injection: the handler's code is never replaced).
`ingest_worker` builds the same worker for another process, which a test may kill.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingestcli.errors import UsageError

if TYPE_CHECKING:
    import socket

    from ingestcli.local.ports import Listeners
    from ingestcli.local.worker import QueueWorker

REGION = "us-east-1"
STACK_NAME = "ingest-local"
DEFAULT_MOTO_PORT = 4566
DEFAULT_API_PORT = 4567
# Suffix of the uploads the template's notification sends to the queue.
UPLOAD_SUFFIX = ".csv"


@dataclass(frozen=True)
class WorkerOptions:
    """How the local stack runs the ingest handler on the queue. The defaults are the
    deployed function's own: its environment and timeout, the event source mapping's batch
    size, the queue's visibility timeout; one invocation at a time."""

    # Variables laid over the function's environment (e.g. LEASE_GRACE_MS, CONTINUE_MARGIN_MS).
    environment: Mapping[str, str] = field(default_factory=dict)
    # The function's timeout, which each invocation's remaining time counts down from.
    timeout_seconds: float | None = None
    # Invocations at once, as Lambda runs up to the mapping's maximum concurrency.
    concurrency: int = 1
    # Seconds before a failed message is seen again (AWS: the queue's visibility timeout).
    retry_after: int = 1
    # (service name, boto3 client) -> the client the handler gets: "s3", "dynamodb", "sqs".
    wrap_client: Callable[[str, Any], Any] | None = None


@dataclass
class LocalStack:
    """A running local stack: moto's process, the API server and the queue worker."""

    endpoint: str
    api_url: str
    outputs: dict[str, str]
    worker: QueueWorker | None = None
    _stops: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def start_worker(self, options: WorkerOptions | None = None) -> QueueWorker:
        """Stop the stack's queue worker, if one runs, and start a new one."""
        if self.worker is not None:
            self.worker.stop()
        self.worker = ingest_worker(self.endpoint, self.outputs, options or WorkerOptions())
        self.worker.start()
        self._stops.append(self.worker.stop)
        return self.worker

    def stop(self) -> None:
        """Stop what start_local_stack started, last started first; nothing else."""
        while self._stops:
            stop = self._stops.pop()
            with contextlib.suppress(Exception):
                stop()

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def session() -> Any:
    """A boto3 session for the local stack: fixed dummy credentials, one region."""
    import boto3

    from ingestcli.services.session import LOCAL_CREDENTIALS

    return boto3.Session(region_name=REGION, **LOCAL_CREDENTIALS)


def start_local_stack(
    moto_port: int | None = None,
    api_port: int = 0,
    *,
    listeners: Listeners | None = None,
    on_step: Callable[[str], None] = lambda _step: None,
    on_event: Callable[[Any], None] = lambda _event: None,
    worker: WorkerOptions | None = WorkerOptions(),
) -> LocalStack:
    """Take both ports first (`listeners`, which it then owns, or the ports given: 0, any
    free; a busy one raises PortUnavailable before anything starts), start moto, deploy the
    template into it, wire what moto skips, serve the API and run the worker (`worker=None`:
    none; `stack.start_worker` starts one later). On any failure, what was started is
    stopped again."""
    import importlib.util

    from ingestcli.local.moto_server import spawn
    from ingestcli.local.ports import reserve_ports

    if importlib.util.find_spec("moto") is None:
        if listeners is not None:
            listeners.close()
        raise UsageError("the local stack needs moto: pip install 'ingest[local]'")
    listeners = listeners or reserve_ports(moto_port or 0, api_port)
    stack = LocalStack("", "", {})
    stack._stops.append(listeners.close)  # if the API server never took its socket
    try:
        on_step("starting moto on 127.0.0.1")
        process, stack.endpoint = spawn(listener=listeners.moto)
        stack._stops.append(lambda: _terminate(process))
        clients = _Clients(stack.endpoint)
        on_step("deploying the bundled template")
        stack.outputs = _deploy(clients, stack.endpoint, on_event)
        _version_bucket(clients, stack.outputs)
        _disable_moto_mapping(clients, stack.outputs)
        on_step("sending the bucket's upload events to the queue")
        _notify_queue(clients, stack.outputs)
        on_step("serving the API handler on 127.0.0.1")
        stack.api_url = _serve_api(clients, stack, listeners.api)
        if worker is not None:
            on_step("running the ingest handler on the queue")
            stack.start_worker(worker)
    except BaseException:
        stack.stop()
        raise
    return stack


class _Clients:
    def __init__(self, endpoint: str, pool: int | None = None) -> None:
        from botocore.config import Config

        self._session, self._endpoint, self._made = session(), endpoint, {}
        self._config = Config(max_pool_connections=pool) if pool else None

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._made:
            name = {"lambda_": "lambda", "cfn": "cloudformation"}.get(service, service)
            self._made[service] = self._session.client(
                name, endpoint_url=self._endpoint, config=self._config
            )
        return self._made[service]


def _terminate(process: Any) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except Exception:
        process.kill()


def _deploy(clients: _Clients, endpoint: str, on_event: Callable[[Any], None]) -> dict[str, str]:
    from ingestcli.deploy.executor import DeployExecutor
    from ingestcli.deploy.planner import DeployPlanner
    from ingestcli.deploy.stack import stack_outputs

    plan = DeployPlanner(clients.cfn, clients.s3, clients.sts).plan(
        STACK_NAME, {}, endpoint_url=endpoint
    )
    executor = DeployExecutor(clients.cfn, clients.s3, poll_seconds=0.2)
    change_set = executor.prepare(plan)
    for event in executor.execute(change_set):
        on_event(event)
    return stack_outputs(clients.cfn, STACK_NAME)


def _disable_moto_mapping(clients: _Clients, outputs: dict[str, str]) -> None:
    """Stop moto's own stand-in for the event source mapping (see the module's docstring);
    the worker reads the mapping's batch size all the same."""
    function = outputs["IngestFunction"]
    mappings = clients.lambda_.list_event_source_mappings(FunctionName=function)
    for mapping in mappings.get("EventSourceMappings", []):
        clients.lambda_.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def _version_bucket(clients: _Clients, outputs: dict[str, str]) -> None:
    """The template's VersioningConfiguration, put through the API: every upload is then
    read by the version its event names, as on AWS."""
    clients.s3.put_bucket_versioning(
        Bucket=outputs["UploadsBucket"], VersioningConfiguration={"Status": "Enabled"}
    )


def _notify_queue(clients: _Clients, outputs: dict[str, str]) -> None:
    """The template's NotificationConfiguration, put through the API."""
    queue_arn = clients.sqs.get_queue_attributes(
        QueueUrl=outputs["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    clients.s3.put_bucket_notification_configuration(
        Bucket=outputs["UploadsBucket"],
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "suffix", "Value": UPLOAD_SUFFIX}]}
                    },
                }
            ]
        },
    )


def _function_environment(clients: _Clients, name: str) -> tuple[dict[str, str], dict]:
    configuration = clients.lambda_.get_function_configuration(FunctionName=name)
    return dict(configuration.get("Environment", {}).get("Variables", {})), configuration


def _serve_api(clients: _Clients, stack: LocalStack, listener: socket.socket) -> str:
    from ingestcli.lambdas.api.routes import Api, Settings
    from ingestcli.local.api_server import ApiServer

    variables, _configuration = _function_environment(clients, stack.outputs["ApiFunction"])
    settings = Settings.from_environment(variables)
    api = Api(clients.s3, clients.dynamodb, clients.sts, settings)
    server = ApiServer(api.handler, listener=listener)
    url = server.start()
    stack._stops.append(server.stop)
    return url


def ingest_worker(
    endpoint: str, outputs: Mapping[str, str], options: WorkerOptions | None = None
) -> QueueWorker:
    """A queue worker (not started) that runs the ingest handler as the deployed function
    would: its environment, timeout and batch size, read from the stack at `endpoint`."""
    from ingestcli.lambdas.ingest.handler import pool_size
    from ingestcli.lambdas.ingest.ingestor import Ingestor
    from ingestcli.lambdas.ingest.settings import Settings
    from ingestcli.local.worker import QueueWorker

    options = options or WorkerOptions()
    clients = _Clients(endpoint)
    function = outputs["IngestFunction"]
    variables, configuration = _function_environment(clients, function)
    settings = Settings.from_environment(variables | dict(options.environment))
    wrap = options.wrap_client or (lambda _service, client: client)
    # One set of clients for every invocation at once, each pool as the function's own.
    pooled = _Clients(endpoint, pool=pool_size(settings) * options.concurrency)
    ingestor = Ingestor(
        wrap("s3", pooled.s3),
        wrap("dynamodb", pooled.dynamodb),
        wrap("sqs", pooled.sqs),
        settings,
    )
    mappings = clients.lambda_.list_event_source_mappings(FunctionName=function)
    batch_size = next(
        (mapping["BatchSize"] for mapping in mappings.get("EventSourceMappings", [])), 1
    )
    return QueueWorker(
        clients.sqs,
        settings.queue_url,
        ingestor.handle_batch,
        batch_size=batch_size,
        timeout_seconds=options.timeout_seconds or configuration.get("Timeout", 300),
        retry_after=options.retry_after,
        concurrency=options.concurrency,
    )
