"""`ingest upload` with several files or a folder, against `ingest local up --detach`: each
file goes the way one file goes (check, URL, PUT, wait), a few at a time, and one table (or
one JSON document) says how each ended; the exit code is the most serious of theirs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli_process import Run, detached_local_stack

pytestmark = pytest.mark.xdist_group("upload_many")

UPLOAD_ID = r"\d{8}T\d{9}Z-[a-z2-7]{10}"
HEADER = "medical_record_number,date_time,note\n"
FILES = {
    "a.csv": HEADER + "A-1,2024-03-01T10:00:00Z,a\nA-2,2024-03-01T11:00:00Z,b\n",
    "b.csv": HEADER + "B-1,2024-03-01T10:00:00Z,a\nSECRET-MRN,2024-02-30T10:00:00Z,c\n",
    "c.csv": "medical_record_number,note\nC-1,a\n",  # no date_time column: refused
    "notes.txt": "not a CSV file",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("home")
    (folder / "visits").mkdir()
    for name, body in FILES.items():
        (folder / "visits" / name).write_text(body)
    (folder / "many").mkdir()
    rows = "".join(f"M-{n},2024-03-01T10:00:00Z,{n}\n" for n in range(3_000))
    for number in range(5):
        (folder / "many" / f"f{number}.csv").write_text(HEADER + rows)
    return folder


@pytest.fixture(scope="module")
def acme(run: Run) -> Iterator[dict[str, str]]:
    with detached_local_stack(run):
        added = run("provider", "add", "acme", "--profile", "local", "--format", "json")
        assert added.returncode == 0, added.stderr
        yield {"INGEST_TOKEN": json.loads(added.stdout)["token"], "INGEST_PROFILE": "local"}


def test_a_folder_is_sent_file_by_file_and_summed_up_in_one_table(
    run: Run, acme: dict[str, str]
) -> None:
    sent = run("upload", "visits", "--allow-invalid", env=acme)
    assert sent.returncode == 1, sent.stderr  # b.csv has a rejected row
    found = re.fullmatch(
        rf"File +Upload id +Status +Rows +Written +Rejected +Duplicates +Note *\n"
        rf"visits/a\.csv +({UPLOAD_ID}) +✔ succeeded +2 +2 +0 +0 *\n"
        rf"visits/b\.csv +({UPLOAD_ID}) +⚠ partial +2 +1 +1 +0 *\n"
        r"visits/c\.csv +✘ refused +0 +header refused \(missing_column\); nothing "
        r"sent *\n"
        r"3 files: 1 succeeded, 1 partial, 1 refused\n",
        sent.stdout,
    )
    assert found, sent.stdout
    assert sorted(sent.stderr.splitlines()) == [
        f"Sent visits/a.csv as {found[1]}",
        f"Sent visits/b.csv as {found[2]}",
    ]
    assert "SECRET-MRN" not in sent.stdout + sent.stderr


def test_json_is_one_document_for_many_files(run: Run, acme: dict[str, str]) -> None:
    sent = run(
        "upload", "visits/c.csv", "visits/a.csv", "--format", "json", "--jobs", "1", env=acme
    )
    assert sent.returncode == 1, sent.stderr  # c.csv refused
    (refused, written) = json.loads(sent.stdout)["uploads"]
    assert refused == {
        "file": "visits/c.csv",
        "upload_id": None,
        "key": None,
        "status": "refused",
        "rows": 0,
        "valid": 0,
        "invalid": 0,
        "header_error": refused["header_error"],
        "errors_truncated": False,
        "error_counts": {"missing_column": 1},
    }
    assert refused["header_error"]["code"] == "missing_column"
    assert (written["file"], written["status"], written["written"]) == (
        "visits/a.csv",
        "succeeded",
        2,
    )
    assert re.fullmatch(UPLOAD_ID, written["upload_id"])


def test_files_that_cannot_be_sent_send_nothing(run: Run, acme: dict[str, str]) -> None:
    before = run("uploads", "--format", "json", env=acme).stdout
    missing = run("upload", "visits/a.csv", "nowhere.csv", env=acme)
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == "error: nowhere.csv does not exist or is not a file: check the path\n"
    twice = run("upload", "visits", "visits/a.csv", env=acme)
    assert (twice.returncode, twice.stderr) == (
        2, "error: visits/a.csv is given twice: each file is sent once\n",
    )  # fmt: skip
    url = run("upload", "visits/a.csv", "visits/b.csv", "--url", "https://example.com/x")
    assert (url.returncode, url.stdout) == (2, "")
    assert (
        url.stderr == "error: --url takes one file: a URL from `ingest presign` holds one upload\n"
    )
    assert run("uploads", "--format", "json", env=acme).stdout == before


def test_ctrl_c_stops_every_file_where_it_is_and_shows_how_far_each_got(
    home: Path, acme: dict[str, str]
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INGEST_"))}
    environment |= {"XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
                    "COLUMNS": "200", "NO_COLOR": "1", **acme}  # fmt: skip
    ingest = str(Path(sys.executable).parent / "ingest")
    process = subprocess.Popen(
        [ingest, "upload", "many", "--jobs", "1"],
        cwd=home, env=environment, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    first = process.stderr.readline()  # the first file is sent; its report is waited for
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    upload_id = re.fullmatch(rf"Sent many/f0\.csv as ({UPLOAD_ID})\n", first)
    assert upload_id, first
    assert err == "error: interrupted: each file stopped where it was; see how far above\n"
    lines = [line.rstrip() for line in out.splitlines()]
    assert re.fullmatch(
        rf"many/f0\.csv +{upload_id[1]} +… (pending|processing) +interrupted while waiting: "
        "the file was sent",
        lines[1],
    ), lines
    for number in range(1, 5):  # never started: nothing asked for, nothing sent
        assert re.fullmatch(rf"many/f{number}\.csv +✘ not sent +interrupted", lines[1 + number])
    status = lines[1].split("… ")[1].split()[0]
    assert lines[6:] == [
        f"5 files: 1 {status}, 4 not sent",
        "Reports still to come, later:",
        f"ingest report {upload_id[1]}",
    ]
