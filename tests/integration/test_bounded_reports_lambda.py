"""The ingest Lambda on moto keeps its report, its rejects file and its memory bounded,
whatever the file: the cases of tests/unit/test_bounded_reports.py, end to end.

The Done-when case of the issue: 20,000 rows with a bad byte each, under a 20,000-character
column name, is refused at the header (`column_name_too_long`); with a name under the limit
(250 bytes) the same rows give a report under 1 MB and a rejects file no larger than the
upload plus a constant per row. The handler's peak memory for that file is measured in a
child process (VmHWM, as tests/unit/test_hostile.py measures `ingest validate`).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from ingestcli.core.summary import summarize
from support.harness import Harness, ingest_once, make_harness
from support.ingest_events import FakeContext, s3_event_body
from support.ingest_results import assert_counts_add_up
from support.names import KEY, REJECTS_KEY, REPORT_KEY
from support.paths import TESTS

TIME = "2024-03-01T10:00:00Z"
ROWS = 20_000
ONE_MB = 1_000_000
PER_ROW = 400  # the rejects file's own cells per row: line, positions, codes, message
MAX_GROWTH_MB = 64  # measured: 24 MB, most of it moto holding copies of the rejects file
MAX_STREAM_GROWTH_MB = 16  # measured: 4 MB, and 2 MB for 120,000 rows: flat


def bad_byte_file(name: str, rows: int = ROWS) -> bytes:
    """A header with `name` as its third column, then `rows` rows with a latin-1 byte in it."""
    body = f"medical_record_number,date_time,{name}\n".encode()
    return body + b"".join(b"MRN%05d,%s,caf\xe9\n" % (n, TIME.encode()) for n in range(rows))


@pytest.fixture
def env(clients: Any) -> Harness:
    return make_harness(clients)


def test_a_20000_character_column_name_refuses_the_file_at_the_header(env: Harness) -> None:
    env.upload(bad_byte_file("x" * 20_000))

    assert ingest_once(env) == {"batchItemFailures": []}

    report = env.report()
    assert report is not None
    assert_counts_add_up(report)
    assert (report["status"], report["rows"], env.count()) == ("failed", 0, 0)
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == [
        (1, None, "column_name_too_long")
    ]
    assert report["error_counts"] == {"column_name_too_long": 1}
    assert len(env.object(REPORT_KEY) or b"") < 2000
    assert env.rejects() is None


@pytest.mark.parametrize(
    "name",
    [pytest.param("n" * 250, id="250-ascii"), pytest.param("😀" * 63, id="252-bytes-of-emoji")],
)
def test_20000_bad_rows_under_a_long_name_give_a_bounded_report_and_rejects(
    env: Harness, name: str
) -> None:
    body = bad_byte_file(name)
    env.upload(body)

    assert ingest_once(env) == {"batchItemFailures": []}

    report_body, rejects_body = env.object(REPORT_KEY), env.object(REJECTS_KEY)
    assert report_body is not None and rejects_body is not None
    report = json.loads(report_body)
    assert_counts_add_up(report)
    assert (report["status"], report["rows"], report["rejected"]) == ("failed", ROWS, ROWS)
    assert len(report["errors"]) == 1000
    assert report["error_counts"] == {"invalid_utf8": ROWS}
    assert len(report_body) < ONE_MB
    assert len(rejects_body) <= len(body) + PER_ROW * ROWS
    assert rejects_body.count(name.encode()) == 1  # in the header row, once
    rows = env.rejects() or []
    assert len(rows) == 1 + ROWS
    assert {tuple(row[:3]) for row in rows[1:3]} == {
        ("2", "3", "invalid_utf8"),
        ("3", "3", "invalid_utf8"),
    }


def test_error_counts_cover_every_run_of_an_upload_and_match_the_validator(env: Harness) -> None:
    env.defaults["time_check_every_rows"] = 3
    rows = [f"A{n},{TIME},ok\n" for n in range(10)]
    rows += [f"B#{n},{TIME},x\n" for n in range(7)]
    rows += [f"C{n},2024-02-30T10:00:00Z,x\n" for n in range(4)]
    rows += [f"D{n},{TIME}\n" for n in range(5)]
    body = ("medical_record_number,date_time,note\n" + "".join(sorted(rows))).encode()
    env.upload(body)
    env.send(s3_event_body(KEY))

    env.drain(env.ingestor(), lambda: FakeContext(answers_before_low=2))

    report = env.report()
    assert report is not None
    assert_counts_add_up(report)
    assert report["error_counts"] == summarize(io.BytesIO(body)).error_counts
    assert report["error_counts"] == {
        "mrn_invalid_characters": 7,
        "date_time_impossible": 4,
        "wrong_field_count": 5,
    }


def test_a_file_without_a_header_row_never_has_a_value_quoted_in_its_report(
    env: Harness,
) -> None:
    env.upload(f"MRN77701,{TIME},MRN77701\nMRN77702,{TIME},x\n".encode())

    ingest_once(env)

    report_body = env.object(REPORT_KEY) or b""
    report = json.loads(report_body)
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == [
        (1, None, "duplicate_column")
    ]
    assert b"MRN77701" not in report_body and b"MRN77702" not in report_body


def test_the_rejects_file_neutralises_formulas_in_cells_and_header_names(env: Harness) -> None:
    body = (
        "medical_record_number,date_time,=note\n"
        f"A#1,{TIME},=cmd|' /C calc'!A0\n"
        f"A2,{TIME},@SUM(A1)\n"
        f"A3,2024-02-30T10:00:00Z,-1\n"
    ).encode()
    env.upload(body)

    ingest_once(env)

    rows = env.rejects() or []
    assert rows[0][4:] == ["medical_record_number", "date_time", "'=note"]
    assert [row[:3] for row in rows[1:]] == [
        ["2", "1", "mrn_invalid_characters"],
        ["4", "2", "date_time_impossible"],
    ]
    assert [row[4:] for row in rows[1:]] == [
        ["A#1", TIME, "'=cmd|' /C calc'!A0"],
        ["A3", "2024-02-30T10:00:00Z", "-1"],
    ]
    assert env.values()["A2#2024-03-01T10:00:00.000000Z"]["=note"] == "@SUM(A1)"  # as sent


# The child process: a fresh moto account, the upload, then one run of the handler, with
# the peak resident memory reset just before it (clear_refs 5, Linux) so that VmHWM is the
# handler's own peak. With "stream", the final copy of the rejects file to S3 is left out:
# moto, in the same process, keeps that object in memory, several copies of it.
MEASURE = """
import json, sys
from ingestcli.lambdas.ingest.checkpoints import CheckpointStore
from support.harness import ingest_once, make_harness
from support.moto_account import moto_account
from support.names import REJECTS_KEY, REPORT_KEY

def status(key):
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

rows, name = int(sys.argv[1]), "n" * int(sys.argv[2])
if sys.argv[3] == "stream":
    CheckpointStore.write_rejects = lambda *args: None
body = f"medical_record_number,date_time,{name}\\n".encode() + b"".join(
    b"MRN%05d,2024-03-01T10:00:00Z,caf\\xe9\\n" % n for n in range(rows)
)
with moto_account() as clients:
    env = make_harness(clients)
    env.upload(body)
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    answer = ingest_once(env)
    peak = status("VmHWM")
    report, rejects = env.object(REPORT_KEY), env.object(REJECTS_KEY)
print(json.dumps({
    "answer": answer, "growth": peak - before, "peak": peak, "file": len(body),
    "report": len(report), "rejects": len(rejects or b""), "rows": json.loads(report)["rows"],
}))
"""


def measure(rows: int, name_bytes: int, mode: str = "all") -> dict[str, Any]:
    environment = {**os.environ, "PYTHONPATH": str(TESTS)}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(rows), str(name_bytes), mode],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_handler_memory_stays_flat_for_20000_bad_rows() -> None:
    large, stream = measure(ROWS, 250), measure(ROWS, 250, "stream")

    sizes = f"file {large['file']:,} B, report {large['report']:,} B"
    print(
        f"\n{ROWS:,} bad rows: handler peak growth {large['growth'] >> 20} MB "
        f"({stream['growth'] >> 20} MB without the rejects copy to moto); {sizes}, "
        f"rejects {large['rejects']:,} B"
    )
    assert large["answer"] == {"batchItemFailures": []} and large["rows"] == ROWS
    assert large["growth"] < MAX_GROWTH_MB << 20
    assert stream["growth"] < MAX_STREAM_GROWTH_MB << 20
    assert large["report"] < ONE_MB
    assert large["rejects"] <= large["file"] + PER_ROW * ROWS
