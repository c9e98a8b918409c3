"""`ingest check`'s plan and verdicts without AWS: which stack can be checked and through which
API URL, which link an error breaks, why a report did not come, and that the clean-up can
only ever touch a canary's data. On the local stack: tests/e2e/test_check.py."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.errors import AuthError, AwsError, IngestError
from ingestcli.services.api_client import ApiUnavailable
from ingestcli.services.check import CheckClients, CheckRunner
from ingestcli.services.check_cleanup import (
    NotACanary,
    abort_uploads_in_parts,
    delete_objects,
    delete_partition,
    delete_provider,
    require_canary,
)
from ingestcli.services.check_plan import (
    BROKEN,
    CLEANED,
    HOLDS,
    LEFT,
    NEEDED_OUTPUTS,
    NOT_RUN,
    CheckOutcome,
    Verdict,
    canary_id,
    plan_check,
)
from ingestcli.services.check_verdicts import (
    Broken,
    Observations,
    broken_by,
    no_report,
    notification_problem,
    report_problem,
)
from ingestcli.services.providers import check_provider_id
from ingestcli.services.s3_put import PutFailed

OUTPUTS = {name: f"the-{name}" for name in NEEDED_OUTPUTS}
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ingest-UploadsQueue-X"
KEY = "ingest-canary-abc/uploads/2026/11/30/20261130T120000000Z-abcdefghij.csv"
PLACES = {
    "bucket": "the-bucket",
    "key": KEY,
    "api_url": "https://api.example",
    "queue_arn": QUEUE_ARN,
}


def _stack(status: str = "CREATE_COMPLETE", **outputs: str) -> dict[str, Any]:
    values = OUTPUTS | outputs
    return {
        "StackName": "ingest",
        "StackStatus": status,
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in values.items()],
    }


# ---- the plan


def test_the_stack_output_beats_the_profile_and_an_option_beats_both() -> None:
    stack = _stack(ApiUrl="https://fn.lambda-url.example/")
    profile = ("http://127.0.0.1:4567", "api_url in profile local")
    plan = plan_check(stack, api_url=None, fallback_api_url=profile, timeout=5)
    assert (plan.api_url, plan.api_url_source) == (
        "https://fn.lambda-url.example/",
        "the stack's ApiUrl output",
    )
    given = ("https://other.example", "--api-url")
    plan = plan_check(stack, api_url=given, fallback_api_url=profile, timeout=5)
    assert (plan.api_url, plan.api_url_source) == given
    plan = plan_check(_stack(), api_url=None, fallback_api_url=profile, timeout=5)
    assert (plan.api_url, plan.api_url_source) == profile  # the local stack: no function URL


def test_a_stack_without_an_api_url_breaks_the_first_link() -> None:
    with pytest.raises(Broken) as broken:
        plan_check(_stack(), api_url=None, fallback_api_url=None, timeout=5)
    assert "no ApiUrl output" in broken.value.detail
    assert broken.value.look_at == "pass --api-url with the URL that serves the API"


def test_missing_outputs_and_an_unsettled_stack_are_named() -> None:
    stack = _stack()
    stack["Outputs"] = [o for o in stack["Outputs"] if o["OutputKey"] not in ("QueueUrl",)]
    with pytest.raises(Broken, match=r"^stack ingest lacks the outputs QueueUrl$"):
        plan_check(
            stack, api_url=("https://a.example", "--api-url"), fallback_api_url=None, timeout=5
        )
    with pytest.raises(Broken, match=r"^stack ingest is ROLLBACK_COMPLETE$"):
        plan_check(
            _stack("ROLLBACK_COMPLETE"),
            api_url=("https://a.example", "--api-url"),
            fallback_api_url=None,
            timeout=5,
        )


def test_a_canary_id_is_a_valid_provider_id_of_its_own_prefix() -> None:
    ids = {canary_id() for _ in range(50)}
    assert len(ids) == 50
    for found in ids:
        assert re.fullmatch(r"ingest-canary-[a-z0-9]{16}", found)
        assert check_provider_id(found) == found


# ---- verdicts on errors


def test_each_error_breaks_its_link_with_what_to_look_at() -> None:
    denied = broken_by(
        "provider",
        AwsError("AWS denied dynamodb:PutItem: your credentials lack that permission"),
        {},
    )
    assert denied.detail == (
        "a role denied dynamodb:PutItem: the credentials this command runs with lack it"
    )
    assert "must allow dynamodb:PutItem" in denied.look_at
    failing = broken_by(
        "upload",
        ApiUnavailable("the ingest API at x cannot be reached (HTTP 500: internal error) after 4"),
        PLACES | {"api_logs": "the log group /aws/lambda/api"},
    )
    assert failing.detail.startswith("the API fails: ")
    assert failing.look_at.startswith("the log group /aws/lambda/api (its error_type)")
    unreachable = broken_by(
        "api",
        ApiUnavailable("the ingest API at api.example cannot be reached"),
        PLACES | {"api_url_source": "the stack's ApiUrl output"},
    )
    assert unreachable.detail.startswith("API not reachable: ")
    assert "https://api.example (the stack's ApiUrl output)" in unreachable.look_at
    assert "function URL" in unreachable.look_at
    assert broken_by("records", IngestError("odd"), {}).detail == "odd"
    refused = broken_by("api", AuthError("the API did not accept the upload token"), PLACES)
    assert refused.detail.startswith("token refused: ")
    put = broken_by("upload", PutFailed("S3 refused the file: AccessDenied"), PLACES)
    assert put.detail.startswith("PUT refused: ")
    assert "the-bucket" in put.look_at


# ---- why no report came


def _seen(**changes: Any) -> Observations:
    values: dict[str, Any] = dict(waited=3.0, last_status="pending", object_exists=True)
    values |= dict(notification="", queue_visible=0, queue_in_flight=0)
    values |= dict(dead_letters_before=0, dead_letters_after=0)
    return Observations(**(values | changes))


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"notification": "has no queue"}, "no S3 notification to the queue"),
        ({"last_status": "processing"}, "ingest unfinished"),
        ({"object_exists": False, "notification": "has no queue"}, "the PUT was answered but"),
        ({"dead_letters_after": 2}, "ingest failed"),
        ({"queue_visible": 1}, "the queue holds 1 message(s) that nothing receives"),
        ({"queue_in_flight": 1}, "ingest unfinished"),
        ({}, "no report within 3 s"),
    ],
)
def test_no_report_is_told_apart_by_what_is_seen(changes: dict, cause: str) -> None:
    verdict = no_report(_seen(**changes), PLACES)
    assert verdict.detail.startswith(cause)
    assert verdict.look_at


def test_the_missing_notification_names_the_bucket_and_the_queue() -> None:
    verdict = no_report(_seen(notification="has no queue"), PLACES)
    assert verdict.detail == (
        "no S3 notification to the queue: the file arrived, but no report came within 3 s, "
        "and bucket the-bucket's notification configuration has no queue"
    )
    assert QUEUE_ARN in verdict.look_at and "--bucket the-bucket" in verdict.look_at


def _queue(arn: str = QUEUE_ARN, events: tuple = ("s3:ObjectCreated:*",), **rule: str) -> dict:
    entry: dict[str, Any] = {"QueueArn": arn, "Events": list(events)}
    if rule:
        entry["Filter"] = {
            "Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in rule.items()]}
        }
    return {"QueueConfigurations": [entry]}


def test_a_notification_reaches_the_queue_only_when_all_of_it_fits() -> None:
    assert notification_problem(_queue(suffix=".csv"), QUEUE_ARN, KEY) == ""
    assert notification_problem({}, QUEUE_ARN, KEY) == "has no queue"
    assert notification_problem(_queue("arn:aws:sqs:x"), QUEUE_ARN, KEY) == (
        "sends to another queue only"
    )
    wrong = "does not send ObjectCreated events for *.csv keys to it"
    assert notification_problem(_queue(suffix=".json"), QUEUE_ARN, KEY) == wrong
    assert notification_problem(_queue(prefix="other/"), QUEUE_ARN, KEY) == wrong
    assert notification_problem(_queue(events=("s3:ObjectRemoved:*",)), QUEUE_ARN, KEY) == wrong


def test_a_report_holds_only_with_every_row_written() -> None:
    assert report_problem({"status": "succeeded", "written": 3}, 3, {}) is None
    partial = report_problem(
        {"status": "partial", "written": 2, "error_counts": {"mrn_invalid_characters": 1}}, 3, {}
    )
    assert partial is not None
    assert partial.detail == (
        "ingest failed: the report says partial, 2 of 3 rows written (mrn_invalid_characters)"
    )
    short = report_problem({"status": "succeeded", "written": 2}, 3, {})
    assert short is not None and short.detail.startswith("the upload ended succeeded, 2 of 3")


# ---- the outcome


def test_the_outcome_holds_only_when_every_link_holds_and_all_is_cleaned() -> None:
    outcome = CheckOutcome("ingest", links=[Verdict("stack", HOLDS, "fine")])
    outcome.cleanup.append(Verdict("cleanup objects", CLEANED, "1 deleted"))
    assert outcome.ok and outcome.broken is None
    outcome.cleanup.append(Verdict("cleanup records", LEFT, "AWS denied x: no", "by hand"))
    assert not outcome.ok
    assert outcome.broken is not None and outcome.broken.cause == "AWS denied x"
    outcome.links.append(Verdict("api", BROKEN, "API not reachable: down", "the URL"))
    outcome.links.append(Verdict("upload", NOT_RUN, "not reached"))
    assert outcome.broken.link == "api"
    document = outcome.as_dict()
    assert document["links"][1] == {
        "link": "api",
        "state": "broken",
        "detail": "API not reachable: down",
        "look_at": "the URL",
        "cause": "API not reachable",
    }
    assert "cause" not in document["links"][2]


# ---- the clean-up touches canaries only


class _Untouchable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} called for a provider that is not a canary")


@pytest.mark.parametrize("provider", ["acme", "ingest-canary", "ingest-canary-x/../acme"])
def test_the_clean_up_refuses_anything_but_a_canary_before_any_call(provider: str) -> None:
    with pytest.raises(NotACanary):
        require_canary(provider)
    with pytest.raises(NotACanary):
        delete_provider(_Untouchable(), "t", provider)
    with pytest.raises(NotACanary):
        delete_partition(_Untouchable(), "t", "sortKey", provider, "records")
    with pytest.raises(NotACanary):
        delete_objects(_Untouchable(), "b", provider)
    with pytest.raises(NotACanary):
        abort_uploads_in_parts(_Untouchable(), "b", provider)


def test_a_canary_id_already_taken_is_never_cleaned_up() -> None:
    """The add is conditional: an id that exists breaks the provider link, and the runner
    deletes nothing (the item is not ours). Stubber: any other DynamoDB call fails."""
    dynamodb = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    plan = plan_check(
        _stack(), api_url=("https://api.example", "--api-url"), fallback_api_url=None, timeout=5
    )
    outcome = CheckOutcome("ingest", canary=plan.canary)
    with Stubber(dynamodb) as stub:
        stub.add_client_error("put_item", "ConditionalCheckFailedException", "taken")
        clients = CheckClients(_Untouchable(), _Untouchable(), _Untouchable(), dynamodb)
        CheckRunner(clients, plan, outcome, outcome.links.append).run()
        stub.assert_no_pending_responses()
    assert [(v.link, v.state) for v in outcome.links] == [("provider", BROKEN)] + [
        (link, NOT_RUN) for link in ("api", "upload", "report", "records", "parts")
    ]
    assert outcome.links[0].detail.startswith(f"provider '{plan.canary}' already exists")
    assert outcome.links[0].look_at.startswith("the providers table")
    assert not [v for v in outcome.links if v.link.startswith("cleanup")]


# ---- the command line


@pytest.mark.parametrize("arguments", [["--timeout", "0"], ["--format", "xml"], ["--nope"]])
def test_usage_errors_exit_2_before_any_call(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, ["check", *arguments])
    assert result.exit_code == 2
    assert result.stdout == ""
