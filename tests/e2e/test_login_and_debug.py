"""`ingest login` and `ingest --debug` as a provider and a support engineer run them, against
the local stack (`ingest local up --detach`): real HTTP to the API and to moto on loopback.

login checks the token with the API before it saves anything, and afterwards `ingest upload`
needs no INGEST_* variable. --debug shows each AWS call and API request on stderr, with
names, statuses and times, and never a value of the file, the token or a signed URL.
"""

from __future__ import annotations

import csv
import json
import stat
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli_process import INGEST, detached_local_stack, ingest_runner, user_environment
from support.paths import EXAMPLE

# One worker runs the module: its local stack takes seconds to start, once.
pytestmark = pytest.mark.xdist_group("login_and_debug")

PROVIDER = "acme"


class Provider:
    """A provider's shell: its own home, nothing exported; `run` can feed standard input."""

    def __init__(self, home: Path, stack: dict) -> None:
        self.home, self.stack = home, stack
        self.config = home / "config" / "ingest" / "config.toml"
        self.environment = user_environment(home)

    def run(self, *arguments: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*INGEST, *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.environment | env,
            cwd=self.home,
            timeout=120,
        )


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, str]]:
    """The local stack, a provider `acme` onboarded on it, and that provider's token."""
    home = tmp_path_factory.mktemp("provider")
    run = ingest_runner(home)
    with detached_local_stack(run) as stack:
        added = run(
            "provider", "add", PROVIDER, "--timezone", "America/Chicago", "--profile", "local",
            "--format", "json",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        yield Provider(home, stack), json.loads(added.stdout)["token"]


def file_values(path: Path) -> set[str]:
    """Every cell of a CSV file but its header, and each file name: none may reach a log."""
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))[1:]
    return {cell for row in rows for cell in row if len(cell) >= 4}


def test_a_wrong_token_saves_nothing(shell: tuple[Provider, str]) -> None:
    provider, token = shell
    before = provider.config.read_bytes()
    wrong = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    refused = provider.run("login", "--profile", "local", "--token-stdin", stdin=wrong + "\n")
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr == (
        "error: the API did not accept this upload token, so nothing was saved: copy it "
        "again, or ask your operator for a new one\n"
    )
    assert wrong not in refused.stderr
    assert provider.config.read_bytes() == before


def test_login_then_upload_with_no_environment(shell: tuple[Provider, str]) -> None:
    provider, token = shell
    api_url = provider.stack["api_url"]
    logged_in = provider.run(
        "login", "--api-url", api_url, "--profile", "clinic", "--token-stdin", stdin=token + "\n"
    )
    assert logged_in.returncode == 0, logged_in.stderr
    assert logged_in.stdout == (
        "Logged in as acme (time zone America/Chicago); saved to "
        "~/config/ingest/config.toml, profile clinic.\n"
    )
    assert logged_in.stderr == ""
    assert stat.S_IMODE(provider.config.stat().st_mode) == 0o600
    saved = tomllib.loads(provider.config.read_text(encoding="utf-8"))["profiles"]["clinic"]
    assert saved == {"api_url": api_url, "token": token}

    sent = provider.run("upload", str(EXAMPLE), "--profile", "clinic", "--format", "json")
    assert sent.returncode in (0, 1), sent.stderr  # rows written; the example's bad ones not
    assert json.loads(sent.stdout)["provider"] == PROVIDER


def test_debug_shows_calls_and_no_value(shell: tuple[Provider, str]) -> None:
    """An upload (rows written) and a query of those rows, with --debug: the calls are named,
    and not one value of the file, the token or a signed URL's query is on stderr."""
    provider, token = shell
    values = file_values(EXAMPLE)
    mrn = sorted(value for value in values if value.startswith("MRN"))[0]
    sent = provider.run(
        "--debug", "upload", str(EXAMPLE), "--profile", "local", "--format", "json",
        INGEST_TOKEN=token,
    )  # fmt: skip
    assert sent.returncode in (0, 1), sent.stderr
    assert json.loads(sent.stdout)["written"] > 0
    assert "debug: ingestcli.api_client: POST /uploads -> 201" in sent.stderr, sent.stderr

    found = provider.run(
        "query", "--provider", PROVIDER, "--mrn", mrn, "--profile", "local", "--format", "json",
        INGEST_DEBUG="1",
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)  # the rows are there, on stdout
    debug = [line for line in found.stderr.splitlines() if line.startswith("debug: ")]
    assert any(
        line.startswith("debug: ingestcli.aws: dynamodb Query: HTTP 200 in ") for line in debug
    )
    assert all(line.startswith("debug: ingestcli.") for line in found.stderr.splitlines())

    for stderr in (sent.stderr, found.stderr):
        leaked = sorted(value for value in values | {token, str(EXAMPLE)} if value in stderr)
        assert leaked == []
        assert "X-Amz-" not in stderr and "Signature" not in stderr
