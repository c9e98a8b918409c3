"""The local stack end to end, driven as a user drives it: `ingest` subprocesses against
`ingest local up --detach`, real HTTP on loopback, and `ingest demo` itself.

Every subprocess gets its own XDG folders (so the `local` profile and state file are the
test's) and no AWS credentials, as on a fresh machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ingestcli.core.tokens import new_token, token_hash
from ingestcli.local.service import probe
from support.cli_process import Run, detached_local_stack

# One worker runs the module, in order: the stack is the module's, and the last test takes it
# down (it checks that a second `local up` is refused while the first runs).
pytestmark = pytest.mark.xdist_group("local_stack")


GOOD_FILE = (
    "medical_record_number,date_time,note\n"
    "P-1,2024-03-01T10:00:00Z,first\n"
    "P-1,2024-03-01T23:30:00-05:00,late\n"
    "P-12,2024-03-02T10:00:00Z,another patient\n"
    "P#3,2024-03-02T10:00:00Z,bad MRN\n"
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def stack(run: Run) -> Iterator[dict]:
    with detached_local_stack(run) as document:  # its last test takes it down itself
        assert document["endpoint_answers"]
        yield document


def test_provider_upload_query_report_through_the_local_stack(
    run: Run, stack: dict, home: Path
) -> None:
    added = run("provider", "add", "acme", "--profile", "local", "--format", "json")
    assert added.returncode == 0, added.stderr
    token = json.loads(added.stdout)["token"]
    (home / "visits.csv").write_text(GOOD_FILE)
    provider = {"INGEST_TOKEN": token, "INGEST_PROFILE": "local"}

    refused = run("upload", "visits.csv", env=provider)
    assert refused.returncode == 1
    assert "--allow-invalid" in refused.stderr

    sent = run("upload", "visits.csv", "--allow-invalid", "--format", "json", env=provider)
    assert sent.returncode == 1, sent.stderr  # a row was rejected
    report = json.loads(sent.stdout)
    assert report["key"].startswith("acme/uploads/")
    assert (report["status"], report["rows"], report["written"], report["rejected"]) == (
        "partial",
        4,
        3,
        1,
    )

    found = run("query", "--provider", "acme", "--mrn", "P-1", "--format", "json", env=provider)
    assert found.returncode == 0, found.stderr
    records = json.loads(found.stdout)
    assert [record["date_time"] for record in records] == [
        "2024-03-01T10:00:00.000000Z",
        "2024-03-02T04:30:00.000000Z",
    ]
    assert {record["upload_id"] for record in records} == {report["upload_id"]}

    support = run(
        "report", report["upload_id"], "--provider", "acme", "--format", "json", env=provider
    )
    assert support.returncode == 1, support.stderr  # partial: the same rule as upload's
    assert json.loads(support.stdout) == report

    listed = run("uploads", "--format", "json", env=provider)
    assert listed.returncode == 0, listed.stderr
    assert [upload["upload_id"] for upload in json.loads(listed.stdout)] == [report["upload_id"]]


def test_an_operator_url_handed_over_out_of_band_uploads_and_is_ingested(
    run: Run, stack: dict, home: Path
) -> None:
    assert run("provider", "add", "globex", "--profile", "local").returncode == 0
    issued = run(
        "presign", "--provider", "globex", "--filename", "labs.csv", "--profile", "local",
        "--format", "json",
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    answer = json.loads(issued.stdout)
    assert answer["key"].startswith("globex/uploads/")
    (home / "labs.csv").write_text(GOOD_FILE.replace("P#3", "P-3"))

    sent = run("upload", "labs.csv", "--url", answer["url"])

    assert sent.returncode == 0, sent.stderr
    assert "uploaded" in sent.stdout
    for _ in range(100):
        shown = run(
            "report", answer["upload_id"], "--provider", "globex", "--profile", "local",
            "--format", "json",
        )  # fmt: skip
        if shown.stdout:  # the report exists
            break
        time.sleep(0.2)
    report = json.loads(shown.stdout)
    assert (report["status"], report["written"], report["key"]) == (
        "succeeded",
        4,
        answer["key"],
    )

    # moto does not check signatures, so a URL edited to another key still stores the
    # object; the pipeline still never ingests a key no URL was issued for.
    forged_id = answer["upload_id"][:-1] + ("x" if answer["upload_id"][-1] != "x" else "y")
    assert run("upload", "labs.csv", "--url", answer["url"].replace(
        answer["upload_id"], forged_id
    )).returncode == 0  # fmt: skip
    for _ in range(100):
        forged = run(
            "report", forged_id, "--provider", "globex", "--profile", "local", "--format", "json"
        )
        if forged.stdout:  # the report exists (a failure: exit 1)
            break
        time.sleep(0.2)
    refused = json.loads(forged.stdout)
    assert (refused["status"], refused["written"]) == ("failed", 0)
    assert [error["code"] for error in refused["errors"]] == ["unknown_upload"]


def test_a_poison_file_ends_in_the_dead_letter_queue_and_status_shows_it(
    run: Run, stack: dict, home: Path
) -> None:
    # A provider whose stored time zone is broken: every attempt at its files fails.
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    profile = (home / "config" / "ingest" / "config.toml").read_text()
    table = next(
        line.split('"')[1] for line in profile.splitlines() if line.startswith("ProvidersTable")
    )
    token = new_token("poison")
    dynamodb.put_item(
        TableName=table,
        Item={
            "providerId": {"S": "poison"},
            "status": {"S": "active"},
            "time_zone": {"S": "Not/A_Zone"},
            "token_sha256": {"S": token_hash(token)},
        },
    )
    (home / "poison.csv").write_text("medical_record_number,date_time\nP1,2024-03-01T10:00:00Z\n")
    provider = {"INGEST_TOKEN": token, "INGEST_PROFILE": "local"}

    sent = run("upload", "poison.csv", "--format", "json", env=provider)

    assert sent.returncode == 1
    report = json.loads(sent.stdout)
    assert report["status"] == "failed"
    assert report["errors"][0]["code"] == "processing_failed"
    status = run("status", "--profile", "local", "--format", "json")
    queues = {queue["name"]: queue for queue in json.loads(status.stdout)["queues"]}
    assert queues["dead-letter queue"]["visible"] == 1
    text = run("status", "--profile", "local")
    assert "dead-letter" in text.stdout


def test_revoke_names_an_unknown_provider_and_wants_yes_without_a_terminal(
    run: Run, stack: dict
) -> None:
    unknown = run("provider", "revoke", "nosuch", "--profile", "local")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "error: no provider 'nosuch': `ingest provider list` shows them"
    )
    assert run("provider", "add", "dormant", "--profile", "local").returncode == 0
    asked = run("provider", "revoke", "dormant", "--profile", "local")  # stdin: no terminal
    assert asked.returncode == 2
    assert "add --yes" in asked.stderr and "Cancelled" not in asked.stdout
    listed = json.loads(run("provider", "list", "--profile", "local", "--format", "json").stdout)
    assert {p["provider_id"]: p["status"] for p in listed}["dormant"] == "active"
    done = run("provider", "revoke", "dormant", "--yes", "--profile", "local")
    assert done.returncode == 0, done.stderr


def test_local_down_stops_every_process_it_started(run: Run, home: Path) -> None:
    second = run("local", "up", "--detach", "--port", "0", "--api-port", "0")
    assert second.returncode == 2  # the module's stack already runs
    assert "ingest local down" in second.stderr

    state = json.loads(run("local", "status", "--format", "json").stdout)
    pid = state["pid"]
    stopped = run("local", "down")

    assert stopped.returncode == 0, stopped.stderr
    assert not _alive(pid)
    assert not probe(state["endpoint"] + "/moto-api/")
    assert not probe(state["api_url"])
    assert json.loads(run("local", "status", "--format", "json").stdout) == {"running": False}
    children = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True)
    assert children.stdout.strip() == ""  # nothing left in the stack's process group


def test_the_demo_runs_end_to_end(run: Run) -> None:
    started = time.monotonic()
    demo = run("demo", timeout=120)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "22 written, 2 rejected" in demo.stdout
    assert "4 records" in demo.stdout
    assert time.monotonic() - started < 60  # the issue asks < 30 s unloaded


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
