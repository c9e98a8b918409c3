"""`ingest check` as an operator runs it against `ingest local up --detach`: every link holds
and the canary leaves nothing behind; with the bucket's notification to the queue removed, it
names that link and exits 1, and still cleans up; a stack that is not there is the first
link broken."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestcli.local.stack import session
from support.cli_process import Run

pytestmark = pytest.mark.xdist_group("check")

CANARY = r"ingest-canary-[a-z0-9]{16}"
UPLOAD_ID = r"\d{8}T\d{9}Z-[a-z2-7]{10}"
PAD = " " * 20  # a "look at:" line is indented under the verdict's text


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def aws(stack: dict) -> Any:
    boto = session()
    return {name: boto.client(name, endpoint_url=stack["endpoint"]) for name in ("s3", "dynamodb")}


def _partition_keys(dynamodb: Any, table: str) -> list[str]:
    """Every providerId in `table` (the local tables are small: a Scan is fine in a test)."""
    items = dynamodb.scan(TableName=table, ProjectionExpression="providerId")["Items"]
    return sorted({item["providerId"]["S"] for item in items})


def _left_behind(aws: Any, outputs: dict[str, str]) -> list[str]:
    """Anything a canary left in the tables or the bucket (every version)."""
    left = [
        provider
        for table in ("ProvidersTable", "RecordsTable", "UploadsTable")
        for provider in _partition_keys(aws["dynamodb"], outputs[table])
        if provider.startswith("ingest-canary-")
    ]
    versions = aws["s3"].list_object_versions(
        Bucket=outputs["UploadsBucket"], Prefix="ingest-canary-"
    )
    left += [v["Key"] for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]]
    return left


def _matches(lines: list[str], patterns: list[str]) -> None:
    assert len(lines) == len(patterns), "\n".join(lines)
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}"


def test_every_link_holds_and_nothing_is_left(run: Run, stack: dict, aws, outputs) -> None:
    checked = run("check", "--profile", "local")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stderr == ""
    api, records = re.escape(stack["api_url"]), re.escape(outputs["RecordsTable"])
    providers = re.escape(outputs["ProvidersTable"])
    _matches(
        checked.stdout.splitlines(),
        [
            rf"Checking stack ingest-local with canary provider {CANARY} \(deleted "
            r"afterwards\), waiting at most 120 s for its report\.",
            r"✔ stack             ingest-local is CREATE_COMPLETE",
            rf"✔ provider          {CANARY} added to {providers} with a fresh token",
            rf"✔ api               {api} \(api_url in profile local\) took the canary's token",
            rf"✔ upload            3 rows sent as upload {UPLOAD_ID}",
            r"✔ report            succeeded: 3 of 3 rows written \(\d+\.\d s\)",
            rf"✔ records           3 of 3 rows came back from {records}",
            rf"✔ parts             3 rows sent in parts as upload {UPLOAD_ID}; succeeded: 3 "
            r"of 3 rows written \(\d+\.\d s\)",
            rf"✔ cleanup provider  provider {CANARY} deleted",
            r"✔ cleanup records   3 record\(s\) deleted",
            r"✔ cleanup uploads   2 upload\(s\) deleted",
            rf"✔ cleanup parts     0 unfinished upload\(s\) in parts under {CANARY}/ aborted",
            rf"✔ cleanup objects   [1-9]\d* object version\(s\) under {CANARY}/ deleted",
            r"Every link holds, and the canary left nothing behind\.",
        ],
    )
    assert _left_behind(aws, outputs) == []


def test_json_lists_every_link(run: Run, stack: dict, aws, outputs) -> None:
    checked = run("check", "--profile", "local", "--format", "json", "--timeout", "60")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    document = json.loads(checked.stdout)
    assert document["ok"] is True
    assert re.fullmatch(CANARY, document["canary"])
    assert re.fullmatch(UPLOAD_ID, document["upload_id"])
    assert [(v["link"], v["state"]) for v in document["links"]] == [
        (link, "holds")
        for link in ("stack", "provider", "api", "upload", "report", "records", "parts")
    ]
    assert [(v["link"], v["state"]) for v in document["cleanup"]] == [
        (f"cleanup {step}", "cleaned")
        for step in ("provider", "records", "uploads", "parts", "objects")
    ]
    assert _left_behind(aws, outputs) == []


@pytest.fixture
def no_notification(aws, outputs) -> Iterator[str]:
    """The bucket with an empty notification configuration; put back afterwards."""
    bucket = outputs["UploadsBucket"]
    saved = aws["s3"].get_bucket_notification_configuration(Bucket=bucket)
    saved.pop("ResponseMetadata", None)
    aws["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    yield bucket
    aws["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=saved)


def test_a_missing_notification_is_named(run: Run, aws, outputs, no_notification: str) -> None:
    checked = run("check", "--profile", "local", "--timeout", "3")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stderr == ""
    bucket = re.escape(no_notification)
    lines = checked.stdout.splitlines()
    _matches(
        lines[5:],
        [
            r"✘ report            no S3 notification to the queue: the file arrived, but no "
            rf"report came within 3 s, and bucket {bucket}'s notification configuration has "
            r"no queue",
            rf"{PAD}look at: the bucket's notification \(`aws s3api "
            rf"get-bucket-notification-configuration --bucket {bucket}`\): it must send "
            r"s3:ObjectCreated:\* for the suffix \.csv to the queue "
            r"arn:aws:sqs:us-east-1:\d{12}:ingest-local-UploadsQueue-\w+; `ingest deploy` puts "
            r"it back",
            r"- records           not reached",
            r"- parts             not reached",
            rf"✔ cleanup provider  provider {CANARY} deleted",
            r"✔ cleanup records   0 record\(s\) deleted",
            r"✔ cleanup uploads   1 upload\(s\) deleted",
            rf"✔ cleanup parts     0 unfinished upload\(s\) in parts under {CANARY}/ aborted",
            rf"✔ cleanup objects   1 object version\(s\) under {CANARY}/ deleted",
            r"Broken link: report \(no S3 notification to the queue\)\.",
        ],
    )
    assert lines[4].startswith("✔ upload ")
    assert _left_behind(aws, outputs) == []


def test_a_missing_stack_is_the_first_link(run: Run, stack: dict) -> None:
    checked = run("check", "--profile", "local", "--stack-name", "nowhere")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    endpoint = re.escape(stack["endpoint"])
    _matches(
        checked.stdout.splitlines(),
        [
            r"✘ stack             stack not found: stack nowhere does not exist in region "
            rf"us-east-1 \(endpoint {endpoint}\): check --region and --stack-name, or create "
            r"it with `ingest deploy`",
            rf"{PAD}look at: --stack-name, --region and --profile",
            *[rf"- {link:<16}  not reached" for link in ("provider", "api", "upload")],
            *[rf"- {link:<16}  not reached" for link in ("report", "records", "parts")],
            r"Broken link: stack \(stack not found\)\.",
        ],
    )
