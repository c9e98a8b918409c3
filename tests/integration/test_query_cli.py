"""Support staff's reads check the provider first, on moto: `ingest query` as a user runs it,
and the cores of `uploads --provider` and `report --provider`.

A mistyped or revoked provider used to answer "no records for this MRN" (exit 0), which reads
as "this patient has no records"; it is now a usage error (exit 2) that names the provider and
never the MRN. The records and uploads themselves: tests/integration/test_query.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.cli.exits import EXIT_USAGE, exit_code_for
from ingestcli.core.layout import report_key
from ingestcli.core.ledger import UploadLedger
from ingestcli.errors import NotFound
from ingestcli.services import config
from ingestcli.services.providers import ProviderRegistry, ProviderRevoked, UnknownProvider
from ingestcli.services.support import ProvidersTable, records, report, uploads
from support.names import BUCKET, PROVIDER, PROVIDERS, RECORDS, STACK, UPLOADS
from support.records import item
from support.template import make_table

MRN = "MRN1"
UNKNOWN = "nosuch"
UNKNOWN_ERROR = (
    f"error: --provider: no provider '{UNKNOWN}' is registered: check the id "
    "(`ingest provider list` shows them)\n"
)
REVOKED_ERROR = (
    f"error: --provider: provider '{PROVIDER}' is revoked: only an active provider's data is "
    "shown; ask an operator\n"
)
UPLOAD = "01HQZ8T1XK3V7N2M5P9R4S6W0Y"


@pytest.fixture
def tables(clients: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProviderRegistry:
    """The stack's tables and bucket, their names saved as `ingest deploy` saves them, and
    PROVIDER registered; MRN has one record both in PROVIDER's and in UNKNOWN's partition,
    so only the provider check can make a query of UNKNOWN come back empty."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name, logical_id in (
        (RECORDS, "RecordsTable"),
        (PROVIDERS, "ProvidersTable"),
        (UPLOADS, "UploadsTable"),
    ):
        make_table(clients.dynamodb, name, logical_id)
    clients.s3.create_bucket(Bucket=BUCKET)
    config.save_outputs(
        "default",
        {"RecordsTable": RECORDS, "ProvidersTable": PROVIDERS, "UploadsTable": UPLOADS},
    )
    for provider in (PROVIDER, UNKNOWN):
        record = item(MRN, "2024-03-01T10:00:00Z", {"note": "seen"}, provider=provider)
        clients.dynamodb.put_item(TableName=RECORDS, Item=record)
    registry = ProviderRegistry(clients.dynamodb, PROVIDERS)
    registry.add(PROVIDER)
    return registry


def ingest(*arguments: str) -> Any:
    return CliRunner().invoke(app, list(arguments), env={"NO_COLOR": "1"})


# ---------------------------------------------------------------------------- the CLI


def test_an_unknown_provider_is_a_usage_error_that_names_it(tables: ProviderRegistry) -> None:
    result = ingest("query", "--provider", UNKNOWN, "--mrn", MRN)
    assert result.exit_code == EXIT_USAGE
    assert result.stdout == ""
    assert result.stderr == UNKNOWN_ERROR


def test_a_revoked_provider_is_a_usage_error_that_names_it(tables: ProviderRegistry) -> None:
    tables.revoke(PROVIDER)
    for output_format in ("text", "json", "csv"):
        result = ingest("query", "--provider", PROVIDER, "--mrn", MRN, "--format", output_format)
        assert result.exit_code == EXIT_USAGE
        assert result.stdout == ""
        assert result.stderr == REVOKED_ERROR


def test_an_active_provider_without_records_for_the_mrn_is_not_an_error(
    tables: ProviderRegistry,
) -> None:
    result = ingest("query", "--provider", PROVIDER, "--mrn", "MRN2")
    assert result.exit_code == 0
    assert result.stdout == "no records for this MRN\n"
    assert result.stderr == ""
    as_json = ingest("query", "--provider", PROVIDER, "--mrn", "MRN2", "--format", "json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == []


@pytest.mark.usefixtures("wide_console")
def test_text_is_the_default_and_table_still_works(tables: ProviderRegistry) -> None:
    shown = [
        ingest("query", "--provider", PROVIDER, "--mrn", MRN, *extra)
        for extra in ((), ("--format", "text"), ("--format", "table"))
    ]
    assert [result.exit_code for result in shown] == [0, 0, 0]
    assert shown[0].stdout == shown[1].stdout == shown[2].stdout
    assert "2024-03-01T10:00:00" in shown[0].stdout  # how exactly: render/query.py
    assert shown[0].stdout.splitlines()[-1] == "1 record"
    as_json = ingest("query", "--provider", PROVIDER, "--mrn", MRN, "--format", "json")
    assert [record["note"] for record in json.loads(as_json.stdout)] == ["seen"]
    as_csv = ingest("query", "--provider", PROVIDER, "--mrn", MRN, "--format", "csv")
    assert as_csv.stdout.splitlines()[1].startswith(f"{MRN},2024-03-01T10:00:00.000000Z,")


def test_help_offers_text_json_and_csv_and_refuses_anything_else() -> None:
    shown = ingest("query", "--help")
    assert shown.exit_code == 0
    assert "--format <text|json|csv>" in shown.stdout
    assert "[default: text]" in shown.stdout
    refused = ingest("query", "--provider", PROVIDER, "--mrn", MRN, "--format", "tsv")
    assert refused.exit_code == EXIT_USAGE
    assert refused.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--format': 'tsv' is not one of 'text', 'json', 'csv'."
    )


def test_the_providers_table_is_found_from_the_stack_when_not_saved(
    clients: Any, deployed: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))  # as on a support laptop
    stack = ("--stack-name", STACK)
    unknown = ingest("query", "--provider", PROVIDER, "--mrn", MRN, *stack)
    assert unknown.exit_code == EXIT_USAGE
    assert unknown.stderr == UNKNOWN_ERROR.replace(UNKNOWN, PROVIDER)
    ProviderRegistry(clients.dynamodb, deployed["ProvidersTable"]).add(PROVIDER)
    known = ingest("query", "--provider", PROVIDER, "--mrn", MRN, *stack)
    assert (known.exit_code, known.stdout) == (0, "no records for this MRN\n")


def test_a_missing_stack_names_the_region_it_was_looked_for_in(clients: Any) -> None:
    result = ingest("query", "--provider", PROVIDER, "--mrn", MRN, "--region", "eu-west-1")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: stack ingest does not exist in region eu-west-1: check --region and "
        "--stack-name, or create it with `ingest deploy`\n"
    )


# ------------------------------------------------------- the cores of uploads and report


class GetItems:
    """The providers table's GetItems and every other call, in order, as operation names."""

    def __init__(self, *clients: Any) -> None:
        self.names: list[str] = []
        for client in clients:
            client.meta.events.register(
                "before-parameter-build", lambda model, **_: self.names.append(model.name)
            )


@pytest.mark.parametrize("provider", [UNKNOWN, PROVIDER])
def test_uploads_and_reports_of_an_inactive_provider_are_refused_before_they_are_read(
    clients: Any, tables: ProviderRegistry, provider: str
) -> None:
    if provider == PROVIDER:
        tables.revoke(PROVIDER)
    expected = UnknownProvider if provider == UNKNOWN else ProviderRevoked
    UploadLedger(clients.dynamodb, UPLOADS).register(provider, UPLOAD)
    clients.s3.put_object(Bucket=BUCKET, Key=report_key(provider, UPLOAD), Body=b"{}")
    providers = ProvidersTable(clients.dynamodb, PROVIDERS)
    calls = GetItems(clients.dynamodb, clients.s3)
    reads = (
        lambda: uploads(clients.dynamodb, UPLOADS, provider, 5, providers=providers),
        lambda: report(clients.s3, BUCKET, provider, UPLOAD, providers=providers),
        lambda: records(clients.dynamodb, RECORDS, provider, MRN, providers=providers),
    )
    for read in reads:
        with pytest.raises(expected) as caught:
            read()
        assert exit_code_for(caught.value) == EXIT_USAGE
        assert f"'{provider}'" in str(caught.value)
        assert MRN not in str(caught.value)
    assert calls.names == ["GetItem"] * 3


def test_uploads_and_reports_of_an_active_provider_are_read_after_the_check(
    clients: Any, tables: ProviderRegistry
) -> None:
    UploadLedger(clients.dynamodb, UPLOADS).register(PROVIDER, UPLOAD)
    providers = ProvidersTable(clients.dynamodb, PROVIDERS)
    calls = GetItems(clients.dynamodb, clients.s3)
    found = uploads(clients.dynamodb, UPLOADS, PROVIDER, 5, providers=providers)
    assert [upload["upload_id"] for upload in found] == [UPLOAD]
    with pytest.raises(NotFound):  # registered, but no report yet
        report(clients.s3, BUCKET, PROVIDER, UPLOAD, providers=providers)
    assert calls.names == ["GetItem", "Query", "GetItem", "ListObjectsV2"]
