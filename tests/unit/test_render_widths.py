"""Human output at 80 columns (issue 14, item 5): `query`, `uploads`, `provider list` and a
stack's outputs show every value, code and id whole; a table whose columns do not fit becomes
one block per row (psql's expanded mode); hostile values stay escaped. Problems grouped by
code: test_render_problems.py; times: test_query_values.py; the five commands as a user runs
them on the local stack: tests/e2e/test_cli_80_columns.py."""

from __future__ import annotations

import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from ingestcli.cli.render import providers, query, stack, upload
from ingestcli.deploy.models import ChangeSet, ResourceChange
from ingestcli.services.providers import Provider
from support.console import lines_of, recording_console

WIDTH = 80
MRN = "MRN-" + "0123456789" * 6  # 64 characters, the contract's longest
LONG_COLUMN = "patient_reported_outcome_measure_for_post_operative_recovery_wk6"
UPLOAD_A = "20240301T141500123Z-abcdefghij"  # the API's form: UTC time, then 10 random letters
UPLOAD_B = "20240315T093000456Z-klmnopqrst"
LONG_PROVIDER = "northern-valley-community-health-cooperative-pediatrics-clinic"  # 63
NOTE = "dose adjusted, recheck in 2 weeks; patient reports dizziness when standing up"


def record(
    date_time: str, original: str, upload_id: str = UPLOAD_A, **columns: str
) -> dict[str, object]:
    return {
        "medical_record_number": MRN,
        "date_time": date_time,
        "date_time_original": original,
        **columns,
        "upload_id": upload_id,
        "source_line": 2,
        "ingested_at": "2024-03-01T14:16:00.000000Z",
    }


RECORDS = [
    record("2024-03-01T14:15:00.000000Z", "2024-03-01T09:15:00-05:00", **{
        "encounter_type": "outpatient", "diagnosis_code": "I10", "note": "first visit",
        LONG_COLUMN: "moderate",
    }),
    record("2024-03-15T13:30:00.250000Z", "2024-03-15T09:30:00.25-04:00", UPLOAD_B, **{
        "encounter_type": "telehealth", "diagnosis_code": "I10", "note": NOTE, LONG_COLUMN: "mild",
    }),
]  # fmt: skip


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> Console:
    """The render modules print on an 80-column console whose output the test reads."""
    made = recording_console()
    for module in (query, upload, providers, stack):
        monkeypatch.setattr(module, "stdout", made)
    return made


def block_sides(lines: list[str]) -> tuple[str, str]:
    """The name side and the value side of expanded blocks, whitespace dropped: a name or a
    value wrapped over lines reads whole in its side."""
    pairs = [re.split(r" \|(?: |$)", line, maxsplit=1) for line in lines]
    pairs = [pair for pair in pairs if len(pair) == 2]
    return "".join(squeezed(name) for name, _ in pairs), "".join(squeezed(v) for _, v in pairs)


def squeezed(text: str) -> str:
    return "".join(text.split())


# --------------------------------------------------------------------------------- query


def test_query_at_80_columns_is_one_block_per_record(console: Console) -> None:
    assert query.render_records_table(RECORDS) == 2
    assert lines_of(console) == [
        "-[ RECORD 1 ]--------------+---------------------------------------------------",
        "date_time (UTC)            | 2024-03-01T14:15:00Z",
        "as sent                    | 2024-03-01T09:15:00-05:00",
        "encounter_type             | outpatient",
        "diagnosis_code             | I10",
        "note                       | first visit",
        "patient_reported_outcome_m | moderate",
        "easure_for_post_operative_ |",
        "recovery_wk6               |",
        "upload                     | 20240301T141500123Z-abcdefghij",
        "-[ RECORD 2 ]--------------+---------------------------------------------------",
        "date_time (UTC)            | 2024-03-15T13:30:00.250000Z",
        "as sent                    | 2024-03-15T09:30:00.25-04:00",
        "encounter_type             | telehealth",
        "diagnosis_code             | I10",
        "note                       | dose adjusted, recheck in 2 weeks; patient reports",
        "                           | dizziness when standing up",
        "patient_reported_outcome_m | mild",
        "easure_for_post_operative_ |",
        "recovery_wk6               |",
        "upload                     | 20240315T093000456Z-klmnopqrst",
        "2 records",
    ]


WIDE_TABLE = """\
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ date_time (UTC)             ┃ as sent                      ┃ encounter_type ┃ diagnosis_code ┃ note                         ┃ upload                         ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ 2024-03-01T14:15:00Z        │ 2024-03-01T09:15:00-05:00    │ outpatient     │ I10            │ first visit                  │ 20240301T141500123Z-abcdefghij │
│ 2024-03-15T13:30:00.250000Z │ 2024-03-15T09:30:00.25-04:00 │ telehealth     │ I10            │ dose adjusted, recheck in 2  │ 20240315T093000456Z-klmnopqrst │
│                             │                              │                │                │ weeks; patient reports       │                                │
│                             │                              │                │                │ dizziness when standing up   │                                │
└─────────────────────────────┴──────────────────────────────┴────────────────┴────────────────┴──────────────────────────────┴────────────────────────────────┘
2 records (--limit reached: there may be more)
"""  # noqa: E501


def test_query_is_a_table_when_its_columns_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = recording_console(160)
    monkeypatch.setattr(query, "stdout", wide)
    rows = [{k: v for k, v in row.items() if k != LONG_COLUMN} for row in RECORDS]
    query.render_records_table(rows, limit=2)
    assert lines_of(wide) == WIDE_TABLE.splitlines()


@pytest.mark.parametrize("width", [24, 40, 60, 80, 100, 132, 200])
def test_no_query_value_is_cut_at_any_width(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    made = recording_console(width)
    monkeypatch.setattr(query, "stdout", made)
    long_upload = "operator-" + "9" * 70  # an id longer than the value side of a block
    rows = [*RECORDS, record("2024-04-01T00:00:00.000000Z", "2024-04-01T00:00:00Z", long_upload)]
    query.render_records_table(rows)
    lines = lines_of(made)
    ids = [UPLOAD_A, UPLOAD_B, long_upload, "2024-03-01T14:15:00Z", "2024-03-15T13:30:00.250000Z"]
    ids += [str(row["date_time_original"]) for row in rows]  # as sent: whole too
    for whole in ids:  # each on one line, never wrapped or folded
        assert any(whole in line for line in lines), whole
    for line in lines:
        assert cell_len(line) <= width or line.strip() in ids, line
    if lines[0].startswith("-[ RECORD 1 ]"):
        names, values = block_sides(lines)
        for text in (NOTE, "moderate", "first visit"):
            assert squeezed(text) in values
        assert LONG_COLUMN in names  # the column's name wraps, whole


# ------------------------------------------------------------------------------- uploads

UPLOADS = [
    {
        "upload_id": UPLOAD_B,
        "status": "partial",
        "filename": "visits-2024-03.csv",
        "counts": {"rows": 1_234_567, "rejected": 12},
        "extra_versions": 1,
    },
    {"upload_id": UPLOAD_A, "status": "succeeded", "filename": "visits.csv", "rows": 5},
    {"upload_id": "20240301T120000000Z-uvwxyz2345", "status": "abandoned", "filename": "a.csv"},
    {"upload_id": "20240301T110000000Z-bcdefghijk", "status": "expired", "filename": None},
    {"upload_id": "20240301T100000000Z-lmnopqrstu", "status": "processing", "counts": None},
]


def test_uploads_at_80_columns_keep_ids_whole(console: Console) -> None:
    upload.render_uploads(UPLOADS)
    assert lines_of(console) == [
        "Upload id                       Status               Rows  Rejected  File",
        "20240315T093000456Z-klmnopqrst  ⚠ partial ⚠ +1  1,234,567        12  visits-2024",
        "                                                                     -03.csv",
        "20240301T141500123Z-abcdefghij  ✔ succeeded             5            visits.csv",
        "20240301T120000000Z-uvwxyz2345  ✘ abandoned                          a.csv",
        "20240301T110000000Z-bcdefghijk  ✘ expired",
        "20240301T100000000Z-lmnopqrstu  … processing",
        "5 uploads",
        "⚠ 1 upload got a second file at the same URL (second_file_ignored): not",
        "ingested; upload it again, with a new URL.",
    ]


@pytest.mark.parametrize("width", [30, 50, 64])
def test_uploads_too_wide_for_the_console_are_blocks(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    made = recording_console(width)
    monkeypatch.setattr(upload, "stdout", made)
    long_name = "clinic export of all visits for the first quarter of 2024 (final).csv"
    upload.render_uploads([dict(UPLOADS[0], filename=long_name), UPLOADS[1]])
    lines = lines_of(made)
    assert lines[0].startswith("-[ UPLOAD 1 ]--")
    assert {"Status    | ⚠ partial ⚠ +1", "Rows      | 1,234,567"} <= set(lines)
    for whole in (UPLOAD_A, UPLOAD_B):  # beside its name, or below it when too long
        assert f"Upload id | {whole}" in lines or whole in map(str.strip, lines)
    assert squeezed(long_name) in block_sides(lines)[1]
    assert all(cell_len(line) <= width for line in lines)


# ----------------------------------------------------------------------------- providers


def a_provider(provider_id: str, status: str = "active", zone: str | None = None) -> Provider:
    return Provider(provider_id, status, zone, "2024-03-01T14:15:00Z", "2024-03-02T08:00:00.000Z")


def test_provider_list_at_80_columns_shows_times_whole(console: Console) -> None:
    providers.render_providers(
        [a_provider("acme", zone="America/Chicago"), a_provider("beta", "revoked")]
    )
    assert lines_of(console) == [
        "provider  status   time zone        created               updated",
        "acme      active   America/Chicago  2024-03-01T14:15:00Z  2024-03-02T08:00:00Z",
        "beta      revoked  -                2024-03-01T14:15:00Z  2024-03-02T08:00:00Z",
        "2 providers",
    ]


def test_a_provider_id_too_long_for_the_table_makes_blocks(console: Console) -> None:
    zone = "America/Argentina/ComodRivadavia"
    providers.render_providers([a_provider(LONG_PROVIDER, zone=zone), a_provider("acme")])
    assert lines_of(console) == [
        "-[ PROVIDER 1 ]-----------------------------------------------------------",
        f"provider  | {LONG_PROVIDER}",
        "status    | active",
        f"time zone | {zone}",
        "created   | 2024-03-01T14:15:00Z",
        "updated   | 2024-03-02T08:00:00Z",
        "-[ PROVIDER 2 ]-----------------------------------------------------------",
        "provider  | acme",
        "status    | active",
        "time zone | -",
        "created   | 2024-03-01T14:15:00Z",
        "updated   | 2024-03-02T08:00:00Z",
        "2 providers",
    ]


# ------------------------------------------------------------------- stack outputs, changes


def test_stack_outputs_are_never_folded(console: Console) -> None:
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/ingest-UploadsQueue-ABCDEFGHIJKL"
    role = "arn:aws:iam::123456789012:role/ingest-local-UploadSignerRole-ABCDEFGHIJKL"
    bucket = "ingest-local-uploads-123456789012-us-east-1"
    stack.render_outputs({"QueueUrl": queue, "UploadsBucket": bucket, "SignerRoleArn": role})
    assert lines_of(console) == [
        "Outputs",
        " QueueUrl",
        queue,  # longer than the console: whole, the terminal wraps it
        " SignerRoleArn",
        role,
        f" UploadsBucket  {bucket}",
    ]


def test_a_change_set_keeps_logical_ids_and_types_whole(console: Console) -> None:
    changes = [
        ResourceChange("Add", "UploadsEventSourceMapping", "AWS::Lambda::EventSourceMapping", None),
        ResourceChange("Modify", "IngestFunction", "AWS::Lambda::Function", "False"),
    ]
    stack.render_change_set(ChangeSet("cs-1", "stack-1", "ingest", "UPDATE", tuple(changes), True))
    assert lines_of(console) == [
        "Change set to update stack ingest:",
        "Action  Logical id                 Type                             Replacement",
        "Add     UploadsEventSourceMapping  AWS::Lambda::EventSourceMapping",
        "Modify  IngestFunction             AWS::Lambda::Function            False",
    ]


# ------------------------------------------------------------------------ hostile values

HOSTILE = "[bold]x[/] \x1b[2J\x07 \u202eevil\u2066 \u009b1m\ttab"


def test_hostile_values_stay_escaped_in_tables_and_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    for width in (200, 80):
        made = recording_console(width)
        for module in (query, upload):
            monkeypatch.setattr(module, "stdout", made)
        query.render_records_table([dict(RECORDS[0], **{HOSTILE: HOSTILE})])
        upload.render_uploads([{"upload_id": HOSTILE, "status": HOSTILE, "filename": HOSTILE}])
        problem = {"line": 2, "column": HOSTILE, "code": HOSTILE, "message": HOSTILE}
        upload.render_report({"upload_id": HOSTILE, "status": "failed", "errors": [problem]})
        out = made.export_text()
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", out)
        # A column's name and value, an upload's id, status and file, a report's id, code,
        # column and message: each shown, escaped (a table may wrap it at its spaces).
        assert out.count("\\u202eevil\\u2066") == 9
        assert out.count("[bold]x[/]") == out.count("\\x1b[2J\\x07") == 9
