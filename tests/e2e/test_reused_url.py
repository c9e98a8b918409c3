"""A URL takes one file, and a rotated-out token's URL ingests nothing: the issue's cases,
run as a user runs them, with `ingest` subprocesses against `ingest local up --detach`.

moto honours If-None-Match on PutObject (a second PUT gets 412) but checks no signature, so
a PUT that drops the header is stored as a second object version: that is how a tool that
drops the header, or a URL issued before the rule, is played here.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingestcli.core.status import SECOND_FILE_IGNORED, TOKEN_ROTATED
from ingestcli.services.api_client import ApiClient
from ingestcli.services.upload import UrlAlreadyUsed, put_file
from support.cli_process import Run

pytestmark = pytest.mark.xdist_group("reused_url")

A_FILE = "medical_record_number,date_time,note\nA-1,2024-03-01T10:00:00Z,a\n"
B_FILE = (
    "medical_record_number,date_time,note\nB-1,2024-03-02T10:00:00Z,b\nB-2,2024-03-02T11:00:00Z,b\n"
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("home")
    (folder / "a.csv").write_text(A_FILE)
    (folder / "b.csv").write_text(B_FILE)
    return folder


def report_of(run: Run, provider: str, upload_id: str, until: Callable[[dict], bool]) -> dict:
    """The support view of the report, once `until` holds (the worker ingests in the back)."""
    document: dict[str, Any] = {}
    for _ in range(150):
        shown = run(
            "report", upload_id, "--provider", provider, "--profile", "local", "--format", "json"
        )
        if shown.stdout:  # the report exists (exit 1 when it is a failure)
            document = json.loads(shown.stdout)
            if until(document):
                return document
        time.sleep(0.2)
    raise AssertionError(f"no such report in time: {document}")


def codes(report: dict) -> list[str]:
    return [error["code"] for error in report["errors"]]


def test_a_presigned_url_takes_one_file_the_second_upload_is_refused(
    run: Run, stack: dict, home: Path
) -> None:
    assert run("provider", "add", "globex", "--profile", "local").returncode == 0
    issued = run("presign", "--provider", "globex", "--profile", "local", "--format", "json")
    assert issued.returncode == 0, issued.stderr
    answer = json.loads(issued.stdout)
    url, upload_id = answer["url"], answer["upload_id"]
    assert answer["headers"]["if-none-match"] == "*"

    first = run("upload", "a.csv", "--url", url)
    assert first.returncode == 0, first.stderr
    assert "✔ uploaded" in first.stdout

    second = run("upload", "b.csv", "--url", url)
    assert second.returncode == 1, second.stdout
    assert "uploaded" not in second.stdout
    assert "already used" in second.stderr and "new URL" in second.stderr

    report = report_of(run, "globex", upload_id, lambda found: found["status"] == "succeeded")
    assert (report["rows"], report["written"]) == (1, 1)  # a.csv, whole
    assert SECOND_FILE_IGNORED not in codes(report)  # the second file never reached S3

    # A tool that drops the header: moto stores a second version; it is reported, not read.
    request = urllib.request.Request(
        url, data=B_FILE.encode(), method="PUT", headers={"content-type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # loopback
        assert response.status == 200
    report = report_of(run, "globex", upload_id, lambda found: SECOND_FILE_IGNORED in codes(found))
    assert (report["status"], report["rows"], report["written"]) == ("succeeded", 1, 1)
    listed = run("uploads", "--provider", "globex", "--profile", "local", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    (upload,) = json.loads(listed.stdout)
    assert (upload["status"], upload["extra_versions"]) == ("succeeded", 1)
    shown = run("uploads", "--provider", "globex", "--profile", "local")
    assert SECOND_FILE_IGNORED in shown.stdout
    text = run("report", upload_id, "--provider", "globex", "--profile", "local")
    assert SECOND_FILE_IGNORED in text.stdout and "new URL" in text.stdout
    records = run("query", "--provider", "globex", "--mrn", "B-1", "--profile", "local",
                  "--format", "json")  # fmt: skip
    assert records.returncode == 0, records.stderr
    assert json.loads(records.stdout) == []


def test_a_token_url_takes_one_put_and_after_a_rotate_ingests_nothing(
    run: Run, stack: dict, home: Path
) -> None:
    added = run("provider", "add", "initech", "--profile", "local", "--format", "json")
    assert added.returncode == 0, added.stderr
    token = json.loads(added.stdout)["token"]
    client = ApiClient(stack["api_url"], token)
    body = (home / "b.csv").read_bytes()
    sha256 = hashlib.sha256(body).hexdigest()

    # The token path: its URL takes one PUT too.
    once = client.create_upload("b.csv", len(body), sha256)
    put_file(once["url"], once["headers"], str(home / "b.csv"), len(body))
    with pytest.raises(UrlAlreadyUsed, match="already used"):
        put_file(once["url"], once["headers"], str(home / "b.csv"), len(body))
    first = report_of(run, "initech", once["upload_id"], lambda found: found["status"] != "pending")
    assert (first["status"], first["written"]) == ("succeeded", 2)

    # A URL asked for with the token, used after the token was rotated.
    old = client.create_upload("b.csv", len(body), sha256)
    rotated = run("provider", "rotate", "initech", "--profile", "local")
    assert rotated.returncode == 0, rotated.stderr
    put_file(old["url"], old["headers"], str(home / "b.csv"), len(body))
    report = report_of(run, "initech", old["upload_id"], lambda found: found["status"] != "pending")
    assert (report["status"], report["written"], codes(report)) == ("failed", 0, [TOKEN_ROTATED])
    text = run("report", old["upload_id"], "--provider", "initech", "--profile", "local")
    assert TOKEN_ROTATED in text.stdout and "current token" in text.stdout
