"""Sessions, clients and the one-line explanations of AWS errors; never AWS, nor the network:
errors are built by hand or scripted with botocore's Stubber. (The same against moto:
tests/integration/test_aws_moto.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore import exceptions as botocore_errors
from botocore.stub import Stubber

from ingestcli.errors import AwsError, ConfigError
from ingestcli.services.config import Settings
from ingestcli.services.session import (
    AwsTarget,
    account_id,
    aws_errors,
    client,
    endpoint_in_use,
    explain,
    session,
)
from support.sessions import make_client, no_aws_settings

REGION = "us-east-1"
LOCAL = "http://127.0.0.1:4566"


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS or ingest settings from the machine: an empty AWS config file, no metadata calls."""
    return no_aws_settings(tmp_path, monkeypatch)


def client_error(code: str, message: str = "", operation: str = "DescribeStacks") -> Exception:
    return botocore_errors.ClientError({"Error": {"Code": code, "Message": message}}, operation)


# --- targets, sessions and clients -------------------------------------------------------


def test_target_from_settings() -> None:
    settings = Settings(aws_profile="ops", region="eu-west-1", endpoint_url=LOCAL, token="t")
    assert AwsTarget.from_settings(settings) == AwsTarget("ops", "eu-west-1", LOCAL)


def test_importing_the_module_does_not_import_boto3() -> None:
    code = (
        "import sys, ingestcli.services.session; "
        "print(sorted(m for m in sys.modules if 'boto' in m))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_session_uses_the_named_profile_and_region() -> None:
    assert session(AwsTarget(aws_profile="ops")).region_name == "eu-west-1"
    made = session(AwsTarget(aws_profile="ops", region=REGION))
    assert (made.profile_name, made.region_name) == ("ops", REGION)


def test_missing_aws_profile_says_it_looked_for_an_aws_profile(environment: Path) -> None:
    with pytest.raises(AwsError) as raised:
        session(AwsTarget(aws_profile="nope"))
    assert str(raised.value) == (
        f"no AWS profile 'nope' in {environment} or {environment.parent / 'aws-credentials'}: "
        "add it with `aws configure --profile nope` (or `aws configure sso`), or name another "
        "with --aws-profile or AWS_PROFILE; --profile names an ingest profile"
    )


def test_missing_aws_profile_from_the_environment_is_an_aws_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "gone")
    with pytest.raises(AwsError, match=r"^no AWS profile 'gone' in "):
        session(AwsTarget(region=REGION))


def test_missing_aws_profile_names_the_default_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_CONFIG_FILE")
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
    explained = explain(botocore_errors.ProfileNotFound(profile="ops"))
    assert str(explained).startswith(
        "no AWS profile 'ops' in ~/.aws/config or ~/.aws/credentials: add it with "
    )


def test_endpoint_url_reaches_the_client() -> None:
    target = AwsTarget(region=REGION, endpoint_url=LOCAL)
    assert make_client("dynamodb", target).meta.endpoint_url == LOCAL


def test_client_without_endpoint_talks_to_aws() -> None:
    assert make_client("dynamodb").meta.endpoint_url == f"https://dynamodb.{REGION}.amazonaws.com"


def test_client_has_standard_retries_and_timeouts() -> None:
    config = make_client("s3").meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert config.connect_timeout == 10
    assert config.read_timeout == 60


def test_client_region_comes_from_the_target() -> None:
    assert make_client("sqs", AwsTarget(region="ap-south-1")).meta.region_name == "ap-south-1"


def test_client_without_region_is_an_aws_error() -> None:
    target = AwsTarget()
    with pytest.raises(AwsError, match=r"^no AWS region: pass --region or set AWS_REGION$"):
        client(session(target), "cloudformation", target)


def test_client_with_an_invalid_region_is_an_aws_error() -> None:
    target = AwsTarget(region="us east 1")
    with pytest.raises(AwsError, match="'us east 1' is not an AWS region"):
        client(session(target), "s3", target)


def test_client_with_an_unparsable_endpoint_is_a_config_error() -> None:
    target = AwsTarget(region=REGION, endpoint_url="localhost:4566")
    with pytest.raises(ConfigError, match="invalid endpoint URL 'localhost:4566'"):
        client(session(target), "s3", target)


# --- endpoint_in_use ---------------------------------------------------------------------


def test_endpoint_in_use_is_the_targets_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://other:5000")
    assert endpoint_in_use(AwsTarget(endpoint_url=LOCAL)) == LOCAL


def test_endpoint_in_use_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", LOCAL)
    assert endpoint_in_use(AwsTarget()) == LOCAL
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert endpoint_in_use(AwsTarget()) is None


def test_endpoint_in_use_is_none_for_aws_itself() -> None:
    assert endpoint_in_use(AwsTarget(region=REGION)) is None


def test_environment_endpoint_is_what_boto3_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", LOCAL)
    assert make_client("s3").meta.endpoint_url == endpoint_in_use(AwsTarget()) == LOCAL


# --- account_id --------------------------------------------------------------------------


def test_account_id_without_credentials() -> None:
    with pytest.raises(AwsError, match=r"^no AWS credentials found: "):
        account_id(make_client("sts"))


def test_account_id_when_aws_refuses() -> None:
    sts = make_client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error(
            "get_caller_identity",
            service_error_code="ExpiredToken",
            service_message="The security token included in the request is expired",
            http_status_code=403,
        )
        with pytest.raises(AwsError, match=r"^the AWS credentials have expired: "):
            account_id(sts)


# --- explain: errors raised by botocore before or around a call --------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            botocore_errors.NoCredentialsError(),
            "no AWS credentials found: run `aws configure` or `aws sso login`, or set "
            "AWS_PROFILE to a configured profile",
        ),
        (
            botocore_errors.PartialCredentialsError(
                provider="env", cred_var="AWS_SECRET_ACCESS_KEY"
            ),
            "incomplete AWS credentials in env: AWS_SECRET_ACCESS_KEY is missing",
        ),
        (
            botocore_errors.NoRegionError(),
            "no AWS region: pass --region or set AWS_REGION",
        ),
        (
            botocore_errors.EndpointConnectionError(endpoint_url=LOCAL),
            f"cannot connect to {LOCAL}: check the network and the region, or start the local "
            "stack if that endpoint is local",
        ),
        (
            botocore_errors.ConnectTimeoutError(endpoint_url="https://sts.amazonaws.com"),
            "timed out connecting to https://sts.amazonaws.com: check the network, proxy and "
            "region",
        ),
        (
            botocore_errors.ReadTimeoutError(endpoint_url="https://sts.amazonaws.com"),
            "no answer in time from https://sts.amazonaws.com: try again in a moment",
        ),
        (
            botocore_errors.UnauthorizedSSOTokenError(),
            "the AWS SSO session is missing or has expired: run `aws sso login`",
        ),
        (
            botocore_errors.TokenRetrievalError(provider="sso", error_msg="expired"),
            "the AWS SSO session is missing or has expired: run `aws sso login`",
        ),
        (
            botocore_errors.CredentialRetrievalError(provider="custom-process", error_msg="x"),
            "AWS credentials could not be obtained from custom-process: check that profile's "
            "settings, or sign in again",
        ),
        (
            botocore_errors.InvalidRegionError(region_name="mars-1 "),
            "'mars-1 ' is not an AWS region: use a code such as us-east-1",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_explain_botocore_errors(error: Exception, expected: str) -> None:
    explained = explain(error)
    assert isinstance(explained, AwsError)
    assert str(explained) == expected


def test_explain_passes_an_aws_error_through() -> None:
    error = AwsError("already explained")
    assert explain(error) is error


def test_explain_other_botocore_errors_in_one_line() -> None:
    error = botocore_errors.ConnectionClosedError(endpoint_url=LOCAL)
    message = str(explain(error))
    assert message.startswith("AWS call failed: Connection was closed")
    assert "\n" not in message


def test_explain_never_repeats_values_from_invalid_parameters() -> None:
    dynamodb = make_client("dynamodb")
    with pytest.raises(AwsError) as raised, aws_errors():
        dynamodb.get_item(TableName="records", Key="MRN-0001")  # a Key must be a map
    assert str(raised.value) == "internal error: an AWS call was built with invalid parameters"


def test_explain_an_unknown_exception_by_its_type_only() -> None:
    assert str(explain(RuntimeError("MRN-0001"))) == "AWS call failed: RuntimeError"


# --- explain: refusals from AWS (ClientError) --------------------------------------------

DENIAL = (
    "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
    "cloudformation:CreateChangeSet on resource: arn:aws:cloudformation:us-east-1:"
    "123456789012:stack/ingest/* because no identity-based policy allows the "
    "cloudformation:CreateChangeSet action"
)


def test_denied_names_the_iam_action_and_nothing_else() -> None:
    message = str(explain(client_error("AccessDenied", DENIAL, "CreateChangeSet")))
    assert message == (
        "AWS denied cloudformation:CreateChangeSet: your credentials lack that permission"
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDenied", "Access Denied"),
        ("AccessDeniedException", ""),
        ("UnauthorizedOperation", "You are not authorized to perform this operation."),
        ("403", "Forbidden"),
    ],
)
def test_denied_without_an_action_names_the_operation(code: str, message: str) -> None:
    assert str(explain(client_error(code, message, "PutObject"))) == (
        "AWS denied PutObject: your credentials lack that permission"
    )


@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException"])
def test_expired_credentials(code: str) -> None:
    assert str(explain(client_error(code, "The security token is expired"))) == (
        "the AWS credentials have expired: sign in again (`aws sso login`) or refresh them"
    )


@pytest.mark.parametrize(
    "code", ["InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId"]
)
def test_unrecognised_credentials(code: str) -> None:
    assert str(explain(client_error(code, "The security token included is invalid."))) == (
        f"AWS does not recognise these credentials ({code}): check the access key or AWS "
        "profile in use"
    )


def test_clock_skew() -> None:
    assert str(explain(client_error("RequestTimeTooSkewed", "skewed", "PutObject"))) == (
        "AWS refused PutObject: this machine's clock is wrong; set it right"
    )


def test_throttling_after_the_retries() -> None:
    assert str(explain(client_error("ThrottlingException", "Rate exceeded", "Query"))) == (
        "AWS is throttling Query: try again in a moment"
    )


def test_missing_stack() -> None:
    error = client_error("ValidationError", "Stack with id ingest does not exist")
    assert str(explain(error)) == (
        "Stack with id ingest does not exist: check the stack name, region and AWS profile"
    )


def test_other_validation_errors_are_shown_as_aws_gives_them() -> None:
    error = client_error("ValidationError", "Template format error", "CreateChangeSet")
    assert str(explain(error)) == (
        "AWS refused CreateChangeSet: ValidationError: Template format error"
    )


def test_unknown_refusal_in_one_line() -> None:
    error = client_error("ResourceNotFoundException", "Requested resource\nnot found", "Query")
    assert str(explain(error)) == (
        "AWS refused Query: ResourceNotFoundException: Requested resource not found"
    )


def test_unknown_refusal_without_a_message() -> None:
    assert str(explain(client_error("404", "", "HeadObject"))) == "AWS refused HeadObject: 404"


def test_refusal_inside_a_boto3_transfer_error() -> None:
    try:
        try:
            raise client_error("AccessDenied", "Access Denied", "PutObject")
        except botocore_errors.ClientError as error:
            raise S3UploadFailedError(f"Failed to upload /tmp/x.zip to b/k: {error}") from None
    except S3UploadFailedError as wrapped:
        # from None hides the cause from tracebacks but keeps it as __context__
        assert (
            str(explain(wrapped)) == "AWS denied PutObject: your credentials lack that permission"
        )


# --- aws_errors --------------------------------------------------------------------------


def test_aws_errors_explains_a_stubbed_refusal() -> None:
    cloudformation = make_client("cloudformation")
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            service_message="Stack with id ingest does not exist",
            http_status_code=400,
        )
        with (
            pytest.raises(AwsError, match=r"^Stack with id ingest does not exist: ") as raised,
            aws_errors(),
        ):
            cloudformation.describe_stacks(StackName="ingest")
    assert isinstance(raised.value.__cause__, botocore_errors.ClientError)


def test_aws_errors_as_a_decorator() -> None:
    @aws_errors()
    def deploy() -> None:
        raise client_error("AccessDenied", DENIAL, "CreateChangeSet")

    with pytest.raises(AwsError, match=r"^AWS denied cloudformation:CreateChangeSet: "):
        deploy()


def test_aws_errors_leaves_other_errors_alone() -> None:
    with pytest.raises(KeyError), aws_errors():
        raise KeyError("not an AWS error")


def test_aws_errors_passes_results_through() -> None:
    with aws_errors():
        value = 1
    assert value == 1


def test_messages_are_one_line_without_traceback() -> None:
    errors = [
        client_error("Weird", "first\nsecond\ttab", "Op"),
        botocore_errors.NoCredentialsError(),
        botocore_errors.EndpointConnectionError(endpoint_url=LOCAL),
    ]
    for error in errors:
        message = str(explain(error))
        assert "\n" not in message
        assert "Traceback" not in message
