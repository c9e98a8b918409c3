"""The session-wide guard of tests/conftest.py (tests/support/phi_guard.py): what it watches,
what it looks for, and that a leak is caught and named without the value being repeated. (The
guard itself fails the session at its end; these tests hide the leaks they make on purpose
with `expecting_leaks`.)"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import HOSTILE, TESTS
from support.phi_guard import MAX_PHI_FILE_BYTES, OUR_LOGGERS, PhiLogGuard, phi_values

CORPUS_MRN = "MRN0001"  # tests/corpus/valid_mixed.csv
CORPUS_DATE_TIME = "2024-03-02T14:05:27Z"  # the same file, as written ...
STORED_DATE_TIME = "2024-03-02T14:05:27.000000Z"  # ... and as the table keeps it


def test_the_guard_is_on_our_top_loggers_only(phi_log_guard: PhiLogGuard) -> None:
    for name in OUR_LOGGERS:
        assert phi_log_guard in logging.getLogger(name).handlers
    assert phi_log_guard not in logging.getLogger().handlers


def test_the_values_come_from_the_csv_test_files(phi_log_guard: PhiLogGuard) -> None:
    values = phi_log_guard.values
    assert values[CORPUS_MRN].column == "medical_record_number"
    assert values[CORPUS_MRN].source == "corpus/valid_mixed.csv"
    assert values[CORPUS_DATE_TIME].column == values[STORED_DATE_TIME].column == "date_time"
    assert "A1" not in values  # too short to mean anything
    assert not {"medical_record_number", "date_time", "NULL", "SELECT"} & set(values)
    if any(HOSTILE.glob("*.csv")):
        assert any(origin.source.startswith("hostile/") for origin in values.values())
    assert phi_values(TESTS) == values  # the same set every time it is built


def test_odd_files_are_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "hostile" / "deep").mkdir(parents=True)
    header = "medical_record_number,date_time\n"
    (tmp_path / "corpus" / "ok.csv").write_text(header + "KEEP-1,2024-01-01T00:00:00Z\n")
    (tmp_path / "hostile" / "utf16.csv").write_bytes((header + "U16-1,x\n").encode("utf-16"))
    (tmp_path / "hostile" / "latin1.csv").write_bytes(header.encode() + b"L\xe9-1,x\n")
    (tmp_path / "hostile" / "nul.csv").write_bytes(header.encode() + b"NUL-1\x00,x\n")
    big = header + "BIG-1,x\n" + "y" * MAX_PHI_FILE_BYTES
    (tmp_path / "hostile" / "deep" / "big.csv").write_text(big)
    (tmp_path / "hostile" / "deep" / "quote.csv").write_text(header + 'Q-12,"open\n')
    (tmp_path / "hostile" / "no_header.csv").write_text("a,b\nNOPE-1,x\n")
    (tmp_path / "hostile" / "folder.csv").mkdir()
    assert set(phi_values(tmp_path)) == {
        "KEEP-1",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.000000Z",
        "Q-12",
    }


def test_a_leak_is_caught_and_named_without_its_value(
    phi_log_guard: PhiLogGuard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ingest")
    caplog.set_level(logging.DEBUG, logger="ingestcli")
    with phi_log_guard.expecting_leaks() as caught:
        logging.getLogger("ingest").info(json.dumps({"event": "row_rejected", "mrn": CORPUS_MRN}))
        logging.getLogger("ingestcli.local.worker").debug("stored %s", STORED_DATE_TIME)
        try:
            raise ValueError(f"bad date_time {CORPUS_DATE_TIME}")
        except ValueError:
            logging.getLogger("ingest.api").exception("request failed")
        logging.getLogger("ingest").info(json.dumps({"event": "upload_succeeded", "rows": 7}))
        logging.getLogger("botocore.endpoint").warning("body %s", CORPUS_MRN)  # not ours
    assert [(leak.logger, leak.level, leak.column) for leak in caught] == [
        ("ingest", "INFO", "medical_record_number"),
        ("ingestcli.local.worker", "DEBUG", "date_time"),
        ("ingest.api", "ERROR", "date_time"),
    ]
    assert caught[0].event == "row_rejected"
    assert caught[1].event == "stored %s"
    assert caught[2].event == "request failed"
    assert all(
        leak.test.endswith("test_a_leak_is_caught_and_named_without_its_value") for leak in caught
    )
    assert all(leak.where.startswith(__file__) for leak in caught)
    report = PhiLogGuard.report(type("Some", (), {"leaks": caught})())  # as the session shows it
    assert "tests/corpus/valid_mixed.csv" in report and "row_rejected" in report
    for value in (CORPUS_MRN, CORPUS_DATE_TIME, STORED_DATE_TIME):
        assert value not in report
    assert phi_log_guard.leaks == []  # nothing of this test counts against the session


def test_a_record_that_cannot_be_formatted_is_still_scanned(phi_log_guard: PhiLogGuard) -> None:
    record = logging.LogRecord("ingest", logging.INFO, __file__, 1, "%s %s", ("a",), None)
    assert phi_log_guard.scan(record) is None
    record.args = (CORPUS_MRN,)  # one argument short: the raw arguments are scanned all the same
    assert phi_log_guard.scan(record).column == "medical_record_number"
    with phi_log_guard.expecting_leaks() as caught:
        phi_log_guard.emit(record)
    assert len(caught) == 1


def test_finding_is_a_lookup_per_character(phi_log_guard: PhiLogGuard) -> None:
    assert phi_log_guard.find(f"x{CORPUS_MRN}y") == CORPUS_MRN
    assert phi_log_guard.find("MRN000") is None
    assert phi_log_guard.find("") is None
    line = json.dumps({"event": "request", "route": "/uploads", "status": 200}) * 50
    assert phi_log_guard.find(line) is None


def test_a_session_with_a_leak_fails_at_its_end(tmp_path: Path) -> None:
    """tests/conftest.py, in a session of its own: one test logs an MRN, the others pass."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "conftest.py").write_text((TESTS / "conftest.py").read_text("utf-8"))
    (tmp_path / "corpus" / "one.csv").write_text(
        "medical_record_number,date_time\nPATIENT-77,2024-05-06T07:08:09Z\n"
    )
    (tmp_path / "test_leaky.py").write_text(
        "import logging\n"
        "def test_clean():\n"
        "    logging.getLogger('ingest').warning('rows=%d', 3)\n"
        "def test_leaky():\n"
        "    logging.getLogger('ingestcli.worker').warning('row of %s', 'PATIENT-77')\n"
        "def test_after():\n"
        "    pass\n"
    )
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},  # where the conftest finds tests/support
        timeout=120,
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "3 passed, 1 error" in ran.stdout
    assert "ERROR at teardown of test_after" in ran.stdout
    assert "ingestcli.worker WARNING event='row of %s'" in ran.stdout
    assert "test_leaky.py::test_leaky" in ran.stdout
    assert "a medical_record_number value from tests/corpus/one.csv" in ran.stdout
    assert "PATIENT-77" not in ran.stdout + ran.stderr
