"""The one place that builds boto3 sessions and clients, and turns AWS errors into one line.

Services take clients as arguments; the CLI builds them here. boto3 is imported only
inside the functions that need it, because importing it costs start-up time on every command.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ingestcli.errors import AwsError, ConfigError
from ingestcli.services import call_log

if TYPE_CHECKING:
    import boto3
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    from ingestcli.services.config import Settings

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
MAX_ATTEMPTS = 5  # in all: the first call and up to four retries, with backoff
T = TypeVar("T")
_END = object()
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}

_DENIED = {
    "403",  # what S3 answers a HEAD request it refuses: no body, so no other code
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"}
_UNRECOGNISED = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthFailure",
}
_CLOCK_SKEW = {"RequestExpired", "RequestTimeTooSkewed", "RequestInTheFuture"}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
}
# IAM's denial message names the action, e.g. "... is not authorized to perform: s3:PutObject".
_DENIED_ACTION = re.compile(r"perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)")


@dataclass(frozen=True)
class AwsTarget:
    """Where AWS calls go; None everywhere leaves each choice to boto3's own chain."""

    aws_profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AwsTarget:
        return cls(settings.aws_profile, settings.region, settings.endpoint_url)


def session(target: AwsTarget) -> boto3.Session:
    """A boto3 session for the target's profile and region; a missing profile is an AwsError."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    if _local_without_credentials(target):
        # moto ignores credentials, but boto3 will not sign without some.
        return boto3.Session(region_name=target.region, **LOCAL_CREDENTIALS)
    try:
        return boto3.Session(profile_name=target.aws_profile, region_name=target.region)
    except ProfileNotFound as error:
        raise explain(error) from error


def _local_without_credentials(target: AwsTarget) -> bool:
    """A loopback endpoint (the local stack) with no AWS profile or keys in the environment."""
    from urllib.parse import urlsplit

    if not target.endpoint_url or target.aws_profile or os.environ.get("AWS_ACCESS_KEY_ID"):
        return False
    host = urlsplit(target.endpoint_url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def client(session: boto3.Session, service: str, target: AwsTarget) -> BaseClient:
    """A client with bounded timeouts and standard retries, pointed at the target's endpoint."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        # SigV4 for S3 always: a presigned SigV2 URL would not bind its signed headers.
        signature_version="s3v4" if service == "s3" else None,
    )
    try:
        made = session.client(
            service, region_name=target.region, endpoint_url=target.endpoint_url, config=config
        )
    except BotoCoreError as error:  # NoRegionError, or AWS_PROFILE naming a missing profile
        raise explain(error) from error
    except ValueError:  # botocore's word for an endpoint URL it cannot parse
        raise ConfigError(
            f"invalid endpoint URL '{target.endpoint_url}': give a full URL such as "
            "http://127.0.0.1:4566"
        ) from None
    if call_log.enabled():
        call_log.log_calls(made)
    return made


def endpoint_in_use(target: AwsTarget) -> str | None:
    """The endpoint every client will use, so deploy can tell it talks to a local stand-in.

    None means AWS itself. Service-specific variables (AWS_ENDPOINT_URL_S3) and endpoints in
    the AWS config file are not looked at.
    """
    if target.endpoint_url:
        return target.endpoint_url
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return os.environ.get("AWS_ENDPOINT_URL") or None


def explain(error: Exception) -> AwsError:
    """One line that says what went wrong with AWS and what to do; no traceback, no data."""
    from boto3.exceptions import Boto3Error
    from botocore import exceptions as botocore_errors

    if isinstance(error, AwsError):
        return error
    if isinstance(error, botocore_errors.ClientError):
        return _explain_refusal(error)
    if isinstance(error, Boto3Error):
        # boto3's S3 transfer raises S3UploadFailedError while handling the ClientError.
        cause = error.__cause__ or error.__context__
        if isinstance(cause, botocore_errors.ClientError | botocore_errors.BotoCoreError):
            return explain(cause)
        return AwsError(f"AWS call failed: {type(error).__name__}")
    if isinstance(error, botocore_errors.ProfileNotFound):
        profile = error.kwargs.get("profile")
        files = " or ".join(
            os.environ.get(variable) or default
            for variable, default in (
                ("AWS_CONFIG_FILE", "~/.aws/config"),
                ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
            )
        )
        return AwsError(
            f"no AWS profile '{profile}' in {files}: add it with `aws configure --profile "
            f"{profile}` (or `aws configure sso`), or name another with --aws-profile or "
            "AWS_PROFILE; --profile names an ingest profile"
        )
    if isinstance(error, botocore_errors.NoCredentialsError):
        return AwsError(
            "no AWS credentials found: run `aws configure` or `aws sso login`, or set "
            "AWS_PROFILE to a configured profile"
        )
    if isinstance(error, botocore_errors.PartialCredentialsError):
        return AwsError(
            f"incomplete AWS credentials in {error.kwargs.get('provider')}: "
            f"{error.kwargs.get('cred_var')} is missing"
        )
    if isinstance(error, botocore_errors.SSOError | botocore_errors.TokenRetrievalError):
        return AwsError("the AWS SSO session is missing or has expired: run `aws sso login`")
    if isinstance(error, botocore_errors.CredentialRetrievalError):
        return AwsError(
            f"AWS credentials could not be obtained from {error.kwargs.get('provider')}: "
            "check that profile's settings, or sign in again"
        )
    if isinstance(error, botocore_errors.NoRegionError):
        return AwsError("no AWS region: pass --region or set AWS_REGION")
    if isinstance(error, botocore_errors.InvalidRegionError):
        return AwsError(
            f"'{error.kwargs.get('region_name')}' is not an AWS region: use a code such as "
            "us-east-1"
        )
    if isinstance(error, botocore_errors.ConnectTimeoutError):
        return AwsError(
            f"timed out connecting to {error.kwargs.get('endpoint_url')}: check the network, "
            "proxy and region"
        )
    if isinstance(error, botocore_errors.ReadTimeoutError):
        return AwsError(
            f"no answer in time from {error.kwargs.get('endpoint_url')}: try again in a moment"
        )
    if isinstance(error, botocore_errors.EndpointConnectionError):
        return AwsError(
            f"cannot connect to {error.kwargs.get('endpoint_url')}: check the network and the "
            "region, or start the local stack if that endpoint is local"
        )
    if isinstance(error, botocore_errors.ParamValidationError):
        # A bug of ours; its report would repeat the values sent, so it is not shown.
        return AwsError("internal error: an AWS call was built with invalid parameters")
    if isinstance(error, botocore_errors.BotoCoreError):
        return AwsError(f"AWS call failed: {_one_line(str(error))}")
    return AwsError(f"AWS call failed: {type(error).__name__}")


def _explain_refusal(error: ClientError) -> AwsError:
    details = error.response.get("Error", {})
    code = details.get("Code", "Unknown")
    message = _one_line(details.get("Message", ""))
    operation = error.operation_name
    if code in _DENIED:
        named = _DENIED_ACTION.search(message)
        action = named.group(1) if named else operation
        return AwsError(f"AWS denied {action}: your credentials lack that permission")
    if code in _EXPIRED:
        return AwsError(
            "the AWS credentials have expired: sign in again (`aws sso login`) or refresh them"
        )
    if code in _UNRECOGNISED:
        return AwsError(
            f"AWS does not recognise these credentials ({code}): check the access key or "
            "AWS profile in use"
        )
    if code in _CLOCK_SKEW:
        return AwsError(f"AWS refused {operation}: this machine's clock is wrong; set it right")
    if code in _THROTTLED:
        return AwsError(f"AWS is throttling {operation}: try again in a moment")
    if code == "ValidationError" and "does not exist" in message:
        return AwsError(f"{message}: check the stack name, region and AWS profile")
    return AwsError(f"AWS refused {operation}: {code}" + (f": {message}" if message else ""))


def _one_line(text: str) -> str:
    return " ".join(text.split())


@contextmanager
def aws_errors() -> Iterator[None]:
    """Re-raise botocore (and boto3) errors as explain(error); usable as a decorator too."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as error:
        raise explain(error) from error


def aws_errors_while(items: Iterator[T]) -> Iterator[T]:
    """The items of a lazy iterator over AWS calls, with its errors re-raised as aws_errors
    does, each time the next item is read."""
    while True:
        with aws_errors():
            item = next(items, _END)
        if item is _END:
            return
        yield item  # type: ignore[misc]


def account_id(sts_client: BaseClient) -> str:
    """The AWS account the credentials belong to; also the cheapest check that they work."""
    with aws_errors():
        return sts_client.get_caller_identity()["Account"]
