"""Defaults of infra/cloudformation/ingest.yaml that must hold when the stack is abused
(issue 15): a flood of calls to the public URL, patient data left in deleted files, more
writer threads than connections, files at the CSV contract's limits.
"""

from __future__ import annotations

from typing import Any

import pytest

from ingestcli.lambdas.ingest import handler
from ingestcli.lambdas.ingest.settings import Settings
from support.template import template

NO_VALUE = {"Ref": "AWS::NoValue"}

# benchmarks/ingest_memory.py, 4 writers (WriterThreads' default), DynamoDB answering every
# BatchWriteItem after 5 s so the writers' queues fill: 650 rows filling the item to the
# contract's limit, then three 16 MB fields, peaked at 736 MB (the 2,000-row baseline: 58 MB).
MEASURED_PEAK_MB = 736
MARGIN = 2


def parameter(name: str) -> dict[str, Any]:
    return template()["Parameters"][name]


def resource(name: str) -> dict[str, Any]:
    return template()["Resources"][name]


def test_the_api_reserves_concurrency_by_default() -> None:
    found = parameter("ApiReservedConcurrency")
    assert found["Type"] == "Number"
    assert found["MinValue"] <= 0 < found["Default"] <= found["MaxValue"]
    assert template()["Conditions"]["ReserveApiConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ApiReservedConcurrency"}, 0]}]
    }
    reserved = resource("ApiFunction")["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["ReserveApiConcurrency", {"Ref": "ApiReservedConcurrency"}, NO_VALUE]
    }


def lifecycle_rules() -> dict[str, dict[str, Any]]:
    properties = resource("UploadsBucket")["Properties"]
    rules = {}
    for rule in properties["LifecycleConfiguration"]["Rules"]:
        if set(rule) == {"Fn::If"}:
            _, rule, _ = rule["Fn::If"]
        rules[rule["Id"]] = rule
    return rules


@pytest.mark.parametrize(
    ("kind", "folder"), [("checkpoint", "checkpoints"), ("rejects", "rejects")]
)
def test_noncurrent_checkpoints_and_rejects_expire_after_a_day(kind: str, folder: str) -> None:
    """Lifecycle filters take a literal prefix and these keys start with the provider's id,
    so the rule matches the tag the object is written with; the ingest role may set it there
    (a PUT carrying x-amz-tagging needs s3:PutObjectTagging)."""
    [rule] = [
        rule
        for rule in lifecycle_rules().values()
        if rule.get("TagFilters") == [{"Key": "ingest-kind", "Value": kind}]
    ]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert set(rule) == {"Id", "Status", "TagFilters", "NoncurrentVersionExpiration"}
    [statement] = [
        statement
        for policy in resource("IngestFunctionRole")["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "TagCheckpointsAndRejects"
    ]
    assert statement["Action"] == "s3:PutObjectTagging"
    assert {"Fn::Sub": f"${{UploadsBucket.Arn}}/*/{folder}/*"} in statement["Resource"]


def test_uploads_and_reports_keep_their_rules() -> None:
    rules = lifecycle_rules()
    assert set(rules) == {
        "expire-raw-uploads",
        "noncurrent-versions-and-housekeeping",
        "expire-noncurrent-checkpoints",
        "expire-noncurrent-rejects",
    }
    assert rules["expire-raw-uploads"]["TagFilters"] == [{"Key": "ingest-kind", "Value": "upload"}]
    assert rules["expire-raw-uploads"]["ExpirationInDays"] == {"Ref": "UploadExpirationDays"}
    general = rules["noncurrent-versions-and-housekeeping"]
    assert "TagFilters" not in general and "Prefix" not in general
    assert general["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": {"Ref": "NoncurrentVersionExpirationDays"}
    }
    assert parameter("NoncurrentVersionExpirationDays")["Default"] == 365


@pytest.mark.parametrize("writers", [1, parameter("WriterThreads")["Default"], 16, 32])
def test_every_client_of_the_ingest_function_has_a_connection_per_writer_and_more(
    monkeypatch: pytest.MonkeyPatch, writers: int
) -> None:
    assert writers <= parameter("WriterThreads")["MaxValue"] == 32
    for name, value in {
        "UPLOADS_BUCKET": "bucket",
        "RECORDS_TABLE": "records",
        "PROVIDERS_TABLE": "providers",
        "UPLOADS_TABLE": "uploads",
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/queue",
        "WRITER_THREADS": str(writers),
    }.items():
        monkeypatch.setenv(name, value)
    handler.ingestor.cache_clear()
    try:
        ingestor = handler.ingestor()
    finally:
        handler.ingestor.cache_clear()
    assert ingestor.settings.writers == writers
    expected = {1: 10, 4: 10, 16: 20, 32: 36}[writers]  # botocore's default is 10
    for client in (ingestor.s3, ingestor.dynamodb, ingestor.sqs):
        assert client.meta.config.max_pool_connections == expected


def test_the_pool_has_room_for_the_writers_and_the_runs_own_calls() -> None:
    for writers in range(1, 33):
        settings = Settings("b", "r", "p", "u", "q", writers=writers)
        assert handler.pool_size(settings) >= writers + handler.POOL_MARGIN


def test_the_ingest_memory_default_holds_the_measured_peak_with_margin() -> None:
    found = parameter("IngestMemorySize")
    assert found["MinValue"] <= found["Default"] <= found["MaxValue"]
    assert found["Default"] >= MEASURED_PEAK_MB * MARGIN
    assert resource("IngestFunction")["Properties"]["MemorySize"] == {"Ref": "IngestMemorySize"}


def test_each_test_gets_its_own_copy_of_the_template() -> None:
    """A test that edited the shared parse (the function URL branch drops ApiUrl) once broke
    every later reader in the same worker."""
    edited = template()
    edited["Outputs"].clear()
    assert "ApiUrl" in template()["Outputs"]
