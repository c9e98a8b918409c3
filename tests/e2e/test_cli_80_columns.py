"""The five commands support staff and providers read tables from (`validate`, `uploads`,
`report`, `query`, `provider list`), run as a user runs them at COLUMNS=80 against
`ingest local up --detach`: no value, code or id is cut, wrapped or folded (issue 14, item 5).

The data is the worst the contract allows: a 63-character provider id, 64-character MRNs
and column names, a long free-text note, and a hundred rows refused for one reason. (The
renderers themselves, at many widths: tests/unit/test_render_widths.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli_process import Run, detached_local_stack

pytestmark = pytest.mark.xdist_group("cli_80_columns")

WIDTH = 80
NARROW = {"COLUMNS": str(WIDTH), "INGEST_PROFILE": "local"}
PROVIDER = "northern-valley-community-health-cooperative-pediatrics-clinic"  # 63, the most
MRN = "MRN-" + "0123456789" * 6  # 64, the most
COLUMN = "patient_reported_outcome_measure_for_post_operative_recovery_wk6"  # 64
NOTE = "dose adjusted, recheck in 2 weeks; patient reports dizziness when standing up"
VISITS = (
    f"medical_record_number,date_time,{COLUMN},note\n"
    f"{MRN},2024-03-01T09:15:00-05:00,moderate,first visit\n"
    f'{MRN},2024-03-15T09:30:00.25-04:00,mild,"{NOTE}"\n'
    + "bad mrn!,2024-03-16T09:30:00Z,mild,x\n"
    * 100
)
TIMES = "\N{MULTIPLICATION SIGN}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("home")
    (folder / "visits.csv").write_text(VISITS)
    return folder


@pytest.fixture(scope="module")
def session(run: Run) -> Iterator[dict[str, str]]:
    """The local stack with PROVIDER added and visits.csv uploaded (partial: 100 bad rows)."""
    with detached_local_stack(run):
        added = run(
            "provider",
            "add",
            PROVIDER,
            "--timezone",
            "America/Chicago",
            "--format",
            "json",
            env=NARROW,
        )
        assert added.returncode == 0, added.stderr
        provider = NARROW | {"INGEST_TOKEN": json.loads(added.stdout)["token"]}
        sent = run("upload", "visits.csv", "--allow-invalid", "--format", "json", env=provider)
        assert sent.returncode == 1, sent.stderr  # partial
        report = json.loads(sent.stdout)
        assert (report["written"], report["rejected"]) == (2, 100)
        yield provider | {"UPLOAD_ID": report["upload_id"]}


def narrow(run: Run, env: dict[str, str], *arguments: str, code: int = 0) -> list[str]:
    """The command's stdout lines at 80 columns, each checked to fit and to end clean."""
    done = run(*arguments, env=env)
    assert done.returncode == code, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    for line in lines:
        assert len(line) <= WIDTH and line == line.rstrip(), line
    return lines


def test_query_shows_each_record_as_a_block_with_every_value_whole(
    run: Run, session: dict[str, str]
) -> None:
    upload_id = session["UPLOAD_ID"]
    lines = narrow(run, session, "query", "--provider", PROVIDER, "--mrn", MRN)
    assert lines == [
        "-[ RECORD 1 ]--------------+---------------------------------------------------",
        "date_time (UTC)            | 2024-03-01T14:15:00Z",
        "as sent                    | 2024-03-01T09:15:00-05:00",
        "patient_reported_outcome_m | moderate",
        "easure_for_post_operative_ |",
        "recovery_wk6               |",
        "note                       | first visit",
        f"upload                     | {upload_id}",
        "-[ RECORD 2 ]--------------+---------------------------------------------------",
        "date_time (UTC)            | 2024-03-15T13:30:00.250000Z",
        "as sent                    | 2024-03-15T09:30:00.25-04:00",
        "patient_reported_outcome_m | mild",
        "easure_for_post_operative_ |",
        "recovery_wk6               |",
        "note                       | dose adjusted, recheck in 2 weeks; patient reports",
        "                           | dizziness when standing up",
        f"upload                     | {upload_id}",
        "2 records",
    ]


def test_validate_groups_a_hundred_identical_problems(run: Run, session: dict[str, str]) -> None:
    lines = narrow(run, session, "validate", "visits.csv", code=1)
    assert lines == [
        "✘ invalid: visits.csv: 100 rows of 102 cannot be accepted",
        f"mrn_invalid_characters {TIMES}100 — lines 4, 5, 6, … (first 3)",
        "  medical_record_number: the medical record number may hold only letters A-Z,",
        "  digits, '.', '_' and '-'",
        "102 rows: 2 valid, 100 invalid",
    ]


def test_report_groups_its_problems_and_keeps_the_upload_id_whole(
    run: Run, session: dict[str, str]
) -> None:
    upload_id = session["UPLOAD_ID"]
    done = run("report", upload_id, "--provider", PROVIDER, env=session)
    assert done.returncode in (0, 1), done.stderr  # the exit rule for a partial upload moves
    assert done.stdout.splitlines() == [
        f"Upload {upload_id}: ⚠ partial",
        "102 rows: 2 written, 100 rejected",
        f"mrn_invalid_characters {TIMES}100 — lines 4, 5, 6, … (first 3)",
        "  medical_record_number: the medical record number may hold only letters A-Z,",
        "  digits, '.', '_' and '-'",
        "The rejected rows were not written: fix them and upload those rows again.",
    ]


@pytest.mark.parametrize("support", [False, True], ids=["provider", "support"])
def test_uploads_keep_the_upload_id_whole(run: Run, session: dict[str, str], support: bool) -> None:
    upload_id = session["UPLOAD_ID"]
    arguments = ("uploads", "--provider", PROVIDER) if support else ("uploads",)
    assert narrow(run, session, *arguments) == [
        "Upload id                       Status     Rows  Rejected  File",
        f"{upload_id}  ⚠ partial   102       100  visits.csv",
        "1 upload",
    ]


def test_provider_list_shows_a_long_provider_id_and_its_times_whole(
    run: Run, session: dict[str, str]
) -> None:
    listed = run("provider", "list", "--format", "json", env=session)
    assert listed.returncode == 0, listed.stderr
    (provider,) = json.loads(listed.stdout)
    assert narrow(run, session, "provider", "list") == [
        "-[ PROVIDER 1 ]-----------------------------------------------------------",
        f"provider  | {PROVIDER}",
        "status    | active",
        "time zone | America/Chicago",
        f"created   | {provider['created_at']}",
        f"updated   | {provider['updated_at']}",
        "1 provider",
    ]
    assert time.strptime(provider["created_at"], "%Y-%m-%dT%H:%M:%SZ")
