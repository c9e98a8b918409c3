"""`ingest destroy --dry-run` as an operator runs it, over real HTTP to a moto server on
loopback: it shows what would go and what keeps its data, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.local.moto_server import spawn
from support.console import set_console_width

UPLOADS_BUCKET = "ops-dry-destroy-uploads-123456789012-us-east-1"


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
        assert f"  kept: AWS::S3::Bucket {UPLOADS_BUCKET}" in lines
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


def test_a_dry_run_of_a_missing_stack_is_one_line(operator) -> None:
    result = operator("destroy", "--stack-name", "ops-dry-none", "--dry-run")
    assert result.exit_code == 1
    assert result.stderr == "error: stack ops-dry-none does not exist: run ingest deploy\n"
