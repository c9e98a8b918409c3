"""`ingest deploy`, `status` and `destroy` as an operator runs them, over real HTTP to a
moto server on loopback (started as the local stack starts it, on a free port)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.local.moto_server import spawn
from support.console import set_console_width

# One worker runs the module: its moto server takes seconds to start, once.
pytestmark = pytest.mark.xdist_group("cli_stack")


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server, endpoint = spawn()
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def operator(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Runs `ingest` with a fresh config folder, pointed at the moto server."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    set_console_width(monkeypatch, 200)
    runner = CliRunner()

    def run(*arguments: str, **kwargs):
        return runner.invoke(app, list(arguments), **kwargs)

    return run


def test_deploy_status_redeploy_destroy(operator, moto_endpoint: str, tmp_path: Path) -> None:
    deployed = operator("deploy", "--stack-name", "ops-first", "--yes")
    assert deployed.exit_code == 0, deployed.output
    assert "CreateFunctionUrl=false" in deployed.stdout
    assert "CREATE_COMPLETE" in deployed.stdout
    config = (tmp_path / "config" / "ingest" / "config.toml").read_text()
    assert 'stack_name = "ops-first"' in config
    assert "endpoint_url" not in config  # it came from the environment, and stays there
    assert 'UploadsBucket = "ops-first-uploads-123456789012-us-east-1"' in config

    status = operator("status", "--format", "json")  # the stack name comes from the profile
    assert status.exit_code == 0, status.output
    document = json.loads(status.stdout)
    assert document["status"] == "CREATE_COMPLETE"
    assert document["outputs"]["UploadsBucket"] == "ops-first-uploads-123456789012-us-east-1"
    assert [queue["name"] for queue in document["queues"]] == ["queue", "dead-letter queue"]

    again = operator("deploy", "--yes")
    assert again.exit_code == 0, again.output
    assert "Lambda code: already uploaded" in again.stdout
    assert "No changes: stack ops-first is up to date." in again.stdout

    changed = operator("deploy", "--yes", "--parameter", "MaxReceiveCount=9")
    assert changed.exit_code == 0, changed.output
    assert "UploadsQueue" in changed.stdout
    assert "UPDATE_COMPLETE" in changed.stdout

    destroyed = operator("destroy", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert "DELETE_COMPLETE" in destroyed.stdout
    assert "kept: AWS::S3::Bucket ops-first-uploads-123456789012-us-east-1" in destroyed.stdout
    assert "delete-table" in destroyed.stdout

    gone = operator("status")
    assert gone.exit_code == 1
    assert gone.stderr.strip() == (
        f"error: stack ops-first does not exist in region us-east-1 (endpoint {moto_endpoint}): "
        "check --region and --stack-name, or create it with `ingest deploy`"
    )


def test_an_endpoint_given_as_option_is_saved_in_the_profile(
    operator, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    deployed = operator(
        "deploy", "--stack-name", "ops-saved", "--endpoint-url", moto_endpoint, "-y"
    )
    assert deployed.exit_code == 0, deployed.output
    status = operator("status")  # no endpoint anywhere but in the profile
    assert status.exit_code == 0, status.output
    assert "Stack ops-saved: CREATE_COMPLETE" in status.stdout


def test_dry_run_changes_nothing(operator) -> None:
    dry = operator("deploy", "--stack-name", "ops-dry", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Add" in dry.stdout and "UploadsBucket" in dry.stdout
    assert "Dry run: the change set was deleted and nothing changed." in dry.stdout
    assert operator("status", "--stack-name", "ops-dry").exit_code == 1


def test_declining_the_prompt_deletes_the_change_set(operator) -> None:
    declined = operator("deploy", "--stack-name", "ops-no", input="n\n")
    assert declined.exit_code == 1
    assert "Cancelled: the change set was deleted and nothing changed." in declined.stdout
    assert operator("status", "--stack-name", "ops-no").exit_code == 1


def test_a_failing_deploy_exits_1_with_the_reason(operator) -> None:
    failed = operator(
        "deploy", "--stack-name", "ops-fail", "--yes", "--parameter", "IngestTimeout=61"
    )
    assert failed.exit_code == 1
    assert failed.stderr.startswith("error: ")
    assert "Traceback" not in failed.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--parameter", "NoSuchThing=1"], "NoSuchThing"),
        (["--parameter", "novalue"], "is not KEY=VALUE"),
        (["--stack-name", "Bad_Name"], "Bad_Name"),
    ],
    ids=["unknown-parameter", "not-key-value", "bad-stack-name"],
)
def test_wrong_deploy_options_end_in_one_line(operator, arguments: list[str], message: str) -> None:
    result = operator("deploy", "--yes", *arguments)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_credentials_is_one_clear_line(
    operator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An AWS profile without keys: boto3 finds no credentials (the instance metadata lookup
    is switched off so nothing leaves loopback)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    config = tmp_path / "aws-config"
    config.write_text("[profile empty]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "empty")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = operator("status", "--stack-name", "ops-nocreds")
    assert result.exit_code == 1
    assert "credentials" in result.stderr
    assert "Traceback" not in result.output


def test_a_loopback_endpoint_without_credentials_signs_with_dummy_ones(
    operator, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    result = operator("status", "--stack-name", "ops-nocreds")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: stack ops-nocreds does not exist in region us-east-1 (endpoint {moto_endpoint}): "
        "check --region and --stack-name, or create it with `ingest deploy`\n"
    )


# `ingest destroy --dry-run`: it shows what would go and what keeps its data, and changes nothing.
DRY_RUN_UPLOADS_BUCKET = "ops-dry-destroy-uploads-123456789012-us-east-1"


def test_a_dry_run_destroy_shows_the_plan_and_changes_nothing(operator, tmp_path: Path) -> None:
    deployed = operator("deploy", "--stack-name", "ops-dry-destroy", "--yes")
    assert deployed.exit_code == 0, deployed.output
    config = tmp_path / "config" / "ingest" / "config.toml"
    saved = config.read_text()

    for arguments in (["--dry-run"], ["--dry-run", "--yes"]):
        dry = operator("destroy", *arguments, input="y\n")  # an answer it must not read
        assert dry.exit_code == 0, dry.output
        lines = dry.stdout.splitlines()
        assert lines[0].startswith("Deleting stack ops-dry-destroy would remove ")
        assert lines[0].endswith("; 5 would keep their data:")
        assert f"  kept: AWS::S3::Bucket {DRY_RUN_UPLOADS_BUCKET}" in lines
        assert lines[-1] == "Dry run: nothing was deleted."
        assert "Delete stack" not in dry.output  # no prompt
        assert "DELETE_" not in dry.output
        assert config.read_text() == saved  # the outputs stay saved

    status = operator("status")
    assert status.exit_code == 0, status.output
    assert "Stack ops-dry-destroy: CREATE_COMPLETE" in status.stdout

    destroyed = operator("destroy", "--yes")  # the real one still works after dry runs
    assert destroyed.exit_code == 0, destroyed.output
    assert "DELETE_COMPLETE" in destroyed.stdout


def test_a_dry_run_of_a_missing_stack_is_one_line(operator, moto_endpoint: str) -> None:
    result = operator("destroy", "--stack-name", "ops-dry-none", "--dry-run")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: stack ops-dry-none does not exist in region us-east-1 (endpoint {moto_endpoint}): "
        "check --region and --stack-name, or create it with `ingest deploy`\n"
    )
