"""`ingest upload` as a provider runs it, against `ingest local up --detach`: the time zone
of the local check, how long it waits, what Ctrl-C does at each step, and one exit-code rule
for `upload` and `report`. Ctrl-C is a real SIGINT to a real `ingest` subprocess; `--debug`
lines on stderr (one per API request) say which step it is at."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestcli.services.api_client import ApiClient
from support.cli_process import Run, read_until, user_environment

pytestmark = pytest.mark.xdist_group("upload_wait")

# The installed `ingest` script, as a user starts it (its entry point catches Ctrl-C during
# the imports too).
CONSOLE_SCRIPT = str(Path(sys.executable).parent / "ingest")
UPLOAD_ID = r"\d{8}T\d{9}Z-[a-z2-7]{10}"
GOOD = "medical_record_number,date_time,note\nA-1,2024-03-01T10:00:00Z,a\n"
NO_OFFSET = "medical_record_number,date_time,note\nA-1,2024-03-01T10:00:00,a\n"
BAD = GOOD + "A-3,2024-02-30T10:00:00Z,c\n"  # an impossible date: rejected by the pipeline


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("home")
    for name, body in (("good.csv", GOOD), ("local.csv", NO_OFFSET), ("bad.csv", BAD)):
        (folder / name).write_text(body)
    for name, count in (("long.csv", 150_000), ("some.csv", 3_000)):
        rows = "".join(f"M-{n},2024-03-01T10:00:00Z,{n}\n" for n in range(count))
        (folder / name).write_text("medical_record_number,date_time,note\n" + rows)
    wide = "".join(f"W-{n},2024-03-01T10:00:00Z,{'x' * 300_000}\n" for n in range(100))
    (folder / "wide.csv").write_text("medical_record_number,date_time,note\n" + wide)
    return folder


def _token(run: Run, *options: str) -> dict[str, str]:
    added = run("provider", "add", *options, "--profile", "local", "--format", "json")
    assert added.returncode == 0, added.stderr
    return {"INGEST_TOKEN": json.loads(added.stdout)["token"], "INGEST_PROFILE": "local"}


@pytest.fixture(scope="module")
def acme(run: Run, stack: dict) -> dict[str, str]:
    """A provider with no time zone registered: date_time values need an offset."""
    return _token(run, "acme")


@pytest.fixture(scope="module")
def chicago(run: Run, stack: dict) -> dict[str, str]:
    return _token(run, "chi", "--timezone", "America/Chicago")


def test_the_local_check_reads_times_in_the_providers_registered_zone(
    run: Run, chicago: dict[str, str]
) -> None:
    sent = run("upload", "local.csv", "--format", "json", env=chicago)
    assert sent.returncode == 0, sent.stderr
    report = json.loads(sent.stdout)
    assert (report["status"], report["written"]) == ("succeeded", 1)
    same = run("upload", "local.csv", "--assume-tz", "US/Central", env=chicago)  # an alias
    assert same.returncode == 0, same.stderr

    other = run("upload", "local.csv", "--assume-tz", "Asia/Tokyo", env=chicago)
    assert (other.returncode, other.stdout) == (2, "")
    assert other.stderr == (
        "error: --assume-tz Asia/Tokyo differs from the time zone registered for your provider "
        "(America/Chicago), which the server reads date_time values without an offset in: drop "
        "--assume-tz, or ask your operator to change it\n"
    )


def test_without_a_registered_zone_assume_tz_is_refused_and_offsets_are_needed(
    run: Run, acme: dict[str, str]
) -> None:
    assumed = run("upload", "local.csv", "--assume-tz", "Asia/Tokyo", env=acme)
    assert (assumed.returncode, assumed.stdout) == (2, "")
    assert assumed.stderr == (
        "error: --assume-tz Asia/Tokyo cannot be used: no time zone is registered for your "
        "provider, so the server refuses rows whose date_time has no UTC offset; add offsets "
        "to the file, or ask your operator to register your time zone\n"
    )
    checked = run("upload", "local.csv", env=acme)
    assert (checked.returncode, checked.stdout) == (1, "")
    assert "date_time_no_offset" in checked.stderr
    assert checked.stderr.endswith(
        "error: the file was not uploaded: 1 of 1 rows are invalid; fix them, or upload anyway "
        "with --allow-invalid (they will be rejected and reported)\n"
    )


def test_a_timeout_says_how_to_see_the_report_later_and_exits_3(
    run: Run, acme: dict[str, str]
) -> None:
    late = run("upload", "good.csv", "--timeout", "0", env=acme)
    assert late.returncode == 3, late.stderr
    assert re.fullmatch(
        rf"Upload ({UPLOAD_ID}): (pending|processing) \(its report was not ready after 0 s\)\n"
        r"The file was sent; it is ingested without this command\. Its report, later:\n"
        r"ingest report \1\n",
        late.stdout,
    ), late.stdout
    assert re.fullmatch(rf"Uploaded as {UPLOAD_ID}; waiting for its report…\n", late.stderr)

    scripted = run("upload", "good.csv", "--timeout", "0", "--format", "json", env=acme)
    assert scripted.returncode == 3, scripted.stderr
    document = json.loads(scripted.stdout)
    assert sorted(document) == ["key", "status", "upload_id"]
    assert document["key"] == f"acme/uploads/{document['upload_id'][:4]}/" + (
        f"{document['upload_id'][4:6]}/{document['upload_id'][6:8]}/{document['upload_id']}.csv"
    )
    assert document["status"] in ("pending", "processing")


def test_upload_and_report_exit_by_one_rule(
    run: Run, acme: dict[str, str], stack: dict, home: Path
) -> None:
    sent = run("upload", "bad.csv", "--allow-invalid", "--format", "json", env=acme)
    assert sent.returncode == 1, sent.stderr
    upload_id = json.loads(sent.stdout)["upload_id"]
    for support in ((), ("--provider", "acme")):
        shown = run("report", upload_id, *support, env=acme)
        assert shown.returncode == 1, shown.stderr
        assert shown.stdout.startswith(f"Upload {upload_id}: ⚠ partial\n")

    # A URL issued, no file sent (yet): not finished, so 3.
    ticket = ApiClient(stack["api_url"], acme["INGEST_TOKEN"]).create_upload("x.csv", 10, "0" * 64)
    waiting = run("report", ticket["upload_id"], "--format", "json", env=acme)
    assert waiting.returncode == 3, waiting.stderr
    assert json.loads(waiting.stdout)["status"] == "pending"


def _start(home: Path, env: dict[str, str], *arguments: str) -> subprocess.Popen[str]:
    """`ingest --debug ARGUMENTS` in the environment ingest_runner gives, left running."""
    environment = user_environment(home) | env
    return subprocess.Popen(
        [CONSOLE_SCRIPT, "--debug", *arguments],
        cwd=home, env=environment, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _finish(process: subprocess.Popen[str], seen: str = "") -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    lines = (seen + err).splitlines(keepends=True)
    return process.returncode, out, "".join(x for x in lines if not x.startswith("debug: "))


def _uploads(run: Run, env: dict[str, str]) -> dict[str, str]:
    listed = run("uploads", "--limit", "100", "--format", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    return {upload["upload_id"]: upload["status"] for upload in json.loads(listed.stdout)}


@pytest.mark.parametrize("step", ["start-up", "check"])
def test_ctrl_c_before_the_send_is_one_line_and_exit_130(
    run: Run, acme: dict[str, str], home: Path, step: str
) -> None:
    before = _uploads(run, acme)
    process = _start(home, acme, "upload", "long.csv")
    seen = ""
    if step == "start-up":
        time.sleep(0.15)  # the interpreter is up; the app is being imported
    else:
        seen = read_until(process, "GET /provider -> 200")  # the check of 150,000 rows starts
    process.send_signal(signal.SIGINT)
    assert _finish(process, seen) == (130, "", "error: interrupted\n")
    assert _uploads(run, acme) == before  # no URL was asked for


def _moto_pid(stack: dict) -> int:
    """The local stack's moto server: the one child process of the stack's process."""
    children = [
        int(pid)
        for task in Path(f"/proc/{stack['pid']}/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    assert len(children) == 1, children
    return children[0]


def test_ctrl_c_during_the_put_abandons_the_upload(
    run: Run, acme: dict[str, str], home: Path, stack: dict
) -> None:
    moto = _moto_pid(stack)
    process = _start(home, acme, "upload", "wide.csv")
    seen = read_until(process, "POST /uploads -> 201")  # a URL is issued; 30 MB go to S3
    os.kill(moto, signal.SIGSTOP)  # S3 stops reading: the PUT hangs half sent
    try:
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
    finally:
        os.kill(moto, signal.SIGCONT)
    code, out, err = _finish(process, seen)
    found = re.fullmatch(
        rf"error: interrupted: upload ({UPLOAD_ID}) was abandoned; nothing of the file is "
        r"ingested\n",
        err,
    )
    assert (code, out) == (130, ""), err
    assert found, err
    assert _uploads(run, acme)[found[1]] == "abandoned"


def test_ctrl_c_while_waiting_leaves_the_upload_to_finish_and_exits_3(
    run: Run, acme: dict[str, str], home: Path
) -> None:
    process = _start(home, acme, "upload", "some.csv")
    seen = read_until(process, "waiting for its report")
    time.sleep(0.1)  # past the print of that line: a signal inside it may print it twice
    process.send_signal(signal.SIGINT)
    code, out, err = _finish(process, seen)
    assert code == 3, err
    found = re.fullmatch(
        rf"Upload ({UPLOAD_ID}): (pending|processing) \(interrupted while waiting for its "
        r"report\)\nThe file was sent; it is ingested without this command\. Its report, "
        r"later:\ningest report \1\n",
        out,
    )
    assert found, out
    assert err == f"Uploaded as {found[1]}; waiting for its report…\n"
    for _ in range(300):  # the pipeline carries on without the command: 60 s at most
        shown = run("report", found[1], "--format", "json", env=acme)
        if shown.returncode != 3:
            break
        time.sleep(0.2)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["written"] == 3_000
