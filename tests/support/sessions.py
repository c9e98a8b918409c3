"""AWS sessions and clients as the CLI makes them, on a machine with no AWS settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingestcli.services.session import AwsTarget, client, session
from support.names import REGION


def no_aws_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS or ingest settings from the machine: an AWS config file with one profile (`ops`,
    in eu-west-1), no credentials file, no metadata calls. Returns the config file."""
    for variable in list(os.environ):
        if variable.startswith(("AWS_", "INGEST_")):
            monkeypatch.delenv(variable)
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile ops]\nregion = eu-west-1\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return aws_config


def make_client(service: str, target: AwsTarget | None = None):
    target = target or AwsTarget(region=REGION)
    return client(session(target), service, target)
