"""Sessions and clients as the CLI makes them, against moto in-process: the account they
are in, and a refusal explained in one line. (Without AWS: tests/unit/test_aws.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from moto import mock_aws

from ingestcli.errors import AwsError
from ingestcli.services.session import account_id, aws_errors
from support.names import ACCOUNT
from support.sessions import make_client, no_aws_settings


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS or ingest settings from the machine: an empty AWS config file, no metadata calls."""
    return no_aws_settings(tmp_path, monkeypatch)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.usefixtures("credentials")
def test_account_id() -> None:
    with mock_aws():
        assert account_id(make_client("sts")) == ACCOUNT


@pytest.mark.usefixtures("credentials")
def test_aws_errors_with_moto() -> None:
    with mock_aws():
        dynamodb = make_client("dynamodb")
        with (
            pytest.raises(AwsError, match=r"^AWS refused DescribeTable: ResourceNotFound"),
            aws_errors(),
        ):
            dynamodb.describe_table(TableName="missing")
