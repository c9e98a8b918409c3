"""Upload tokens are never kept or logged in clear: not in a table, not in the bucket, not in
a log record of any logger (ours, the AWS SDK's, the root's), and the CLI prints one once.

A token's "secret" is its last part. Besides the whole token, every 8-character piece of the
secret is looked for (48 random bits each: a chance match is about one in 10^14 per place),
so a secret stored or logged cut, padded or wrapped is caught too, as are the token's hex
and base64 forms (tests/support/token_leaks.py). What the local API server logs, over real
HTTP, is checked in tests/e2e/test_security_tokens_local_api.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.lambdas.api.routes import Api
from ingestcli.services import config
from support.api_calls import altered, call, declare
from support.names import BUCKET, PROVIDERS, UPLOADS
from support.template import make_table
from support.tenants import World, make_world
from support.token_leaks import give_away, logged_text, logger_names


def everything_stored(clients: Any) -> str:
    """Every attribute of every item of both tables, and every object, key and metadata."""
    parts = []
    for table in (PROVIDERS, UPLOADS):
        parts.append(json.dumps(clients.dynamodb.scan(TableName=table, ConsistentRead=True)))
    for listed in clients.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        found = clients.s3.get_object(Bucket=BUCKET, Key=listed["Key"])
        parts += [listed["Key"], json.dumps(found["Metadata"]), found["Body"].read().decode()]
    return "\n".join(parts)


def misuse(world: World, token: str) -> None:
    """API calls that carry the token where it does not belong, and one that fails inside."""
    api = world.api
    call(api, "GET", "/uploads", token, query=f"token={token}&limit=5")
    call(api, "GET", f"/uploads/{token}", token)
    call(api, "GET", f"/{token}", token)
    call(api, "DELETE", "/uploads", token)
    call(api, "POST", "/uploads", token, body=declare(token=token, authorization=token))
    call(api, "POST", "/uploads", token, body=declare(size=token))
    call(api, "POST", "/uploads", token, body=f"{{{token}")
    call(api, "GET", "/uploads", headers={"authorization": f"Bearer {altered(token)}"})
    call(api, "GET", "/uploads", headers={"authorization": f"Basic {token}"})
    broken = Api(
        world.clients.s3,
        world.clients.dynamodb,
        world.sts,
        dataclasses.replace(api.settings, uploads_table="no-such-table"),
    )
    assert call(broken, "POST", "/uploads", token, body=declare())[0] in (401, 500)


def test_no_token_is_stored_in_clear_anywhere(clients) -> None:
    world = make_world(clients)
    issued = [world["alpha"].token, world["bravo"].token]
    issued.append(world.registry.rotate("bravo"))
    for token in (world["alpha"].token, issued[-1]):
        misuse(world, token)
    stored = everything_stored(clients)
    assert "token_sha256" in stored  # the hashes are there, the tokens are not
    assert give_away(issued, stored) == []


def test_no_token_reaches_a_log_record(clients, logs) -> None:
    world = make_world(clients)
    issued = [world["alpha"].token, world["bravo"].token]
    issued.append(world.registry.rotate("bravo"))
    world.registry.revoke("alpha")
    issued.append(world.registry.rotate("bravo"))
    for token in issued:
        misuse(world, token)
    for token in issued:
        for path in ("/uploads", f"/uploads/{world['bravo'].finished}"):
            call(world.api, "GET", path, token)
    names = logger_names(logs)
    assert "ingest.api" in names and any(name.startswith("botocore") for name in names)
    assert give_away(issued, logged_text(logs)) == []


@pytest.mark.usefixtures("wide_console")
def test_the_cli_prints_a_token_once_and_never_lists_it(
    clients, logs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    make_table(clients.dynamodb, PROVIDERS, "ProvidersTable")
    profile = config.save_outputs("default", {"ProvidersTable": PROVIDERS})
    runner = CliRunner()

    def ingest(*arguments: str) -> Any:
        result = runner.invoke(app, list(arguments), env={"NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        return result

    added = ingest("provider", "add", "alpha", "--format", "json")
    alpha = json.loads(added.stdout)["token"]
    assert json.loads(added.stdout) == {"provider_id": "alpha", "token": alpha}
    assert added.stdout.count(alpha) == 1 and alpha not in added.stderr

    text = ingest("provider", "add", "bravo")  # for people: the token alone on stdout
    bravo = text.stdout.strip()
    assert bravo.startswith("ingest.bravo.") and bravo not in text.stderr

    rotated = ingest("provider", "rotate", "bravo", "--format", "json")
    new_bravo = json.loads(rotated.stdout)["token"]
    assert rotated.stdout.count(new_bravo) == 1 and new_bravo not in rotated.stderr

    issued = [alpha, bravo, new_bravo]
    for arguments in (("--format", "json"), ()):
        listed = ingest("provider", "list", *arguments)
        assert "alpha" in listed.stdout and "bravo" in listed.stdout
        assert give_away(issued, listed.stdout + listed.stderr) == []
        assert "sha256" not in listed.stdout
    listed = json.loads(ingest("provider", "list", "--format", "json").stdout)
    assert [sorted(provider) for provider in listed] == [
        ["created_at", "provider_id", "status", "time_zone", "updated_at"]
    ] * 2
    stored = clients.dynamodb.scan(TableName=PROVIDERS, ConsistentRead=True)["Items"]
    assert not any(item["token_sha256"]["S"] in json.dumps(listed) for item in stored)
    assert give_away(issued, json.dumps(stored)) == []
    assert give_away(issued, profile.read_text("utf-8")) == []  # the operator's profile
    assert give_away(issued, logged_text(logs)) == []
