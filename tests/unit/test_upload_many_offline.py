"""Many files in one `ingest upload`, the parts that need no server: which files a folder
stands for, how many go at once, what the summary table and the JSON say. Each file is sent
by a Route of plain functions here; over the local stack: tests/e2e/test_upload_many.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ingestcli.cli.exits import EXIT_PROBLEMS, EXIT_USAGE, exit_code_for_batch
from ingestcli.cli.render.batch import render_batch
from ingestcli.errors import InputError, UsageError
from ingestcli.services.batch import files_to_send, send_many
from ingestcli.services.routes import Route
from support.uploads import REPORT

GOOD = "medical_record_number,date_time\nA-1,2024-05-01T10:00:00Z\n"
BAD = GOOD + "PHI-SECRET,soon\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, body in (("b.csv", GOOD), ("a.CSV", GOOD), ("notes.txt", "x"), ("c.csv", BAD)):
        (tmp_path / name).write_text(body)
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "d.csv").write_text(GOOD)
    return tmp_path


def test_a_folder_stands_for_its_csv_files_sorted_not_recursive(folder: Path) -> None:
    assert files_to_send([str(folder)]) == [str(folder / n) for n in ("a.CSV", "b.csv", "c.csv")]


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        (["missing.csv"], InputError, "missing.csv does not exist or is not a file"),
        (["inner/../b.csv", "b.csv"], UsageError, "b.csv is given twice"),
        (["empty"], InputError, "empty is a folder with no .csv file in it"),
    ],
)
def test_files_that_cannot_all_be_sent_send_none(
    folder: Path, monkeypatch: pytest.MonkeyPatch, given: list[str], error: type, message: str
) -> None:
    monkeypatch.chdir(folder)
    (folder / "empty").mkdir()
    with pytest.raises(error, match=message):
        files_to_send(given)


def test_at_most_jobs_files_are_on_their_way_at_once(folder: Path) -> None:
    lock, busy, most = threading.Lock(), [0], [0]

    def send(path: str, on_progress: Any, digest: Any) -> dict[str, Any]:
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.05)
        with lock:
            busy[0] -= 1
        return {"upload_id": Path(path).stem, "key": f"acme/{Path(path).name}"}

    paths = [str(folder / f"{n}.csv") for n in range(6)]
    for path in paths:
        Path(path).write_text(GOOD)
    outcomes = send_many(Route(send), paths, None, jobs=2)
    assert most[0] == 2
    assert [(o.file, o.status, o.upload_id) for o in outcomes] == [
        (path, "sent", Path(path).stem) for path in paths
    ]


def test_the_table_shows_each_file_and_the_exit_code_the_worst(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    wide_console: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def send(path: str, on_progress: Any, digest: Any) -> dict[str, Any]:
        if path.endswith("b.csv"):
            raise UsageError("the API refused the request: too big")
        return {"upload_id": "up1", "key": "acme/uploads/up1.csv"}

    monkeypatch.chdir(folder.parent)
    route = Route(send, fetch={"up1": REPORT}.__getitem__)
    outcomes = send_many(route, files_to_send([folder.name]), None)
    render_batch(outcomes, report_command="ingest report {upload_id}")
    shown = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    name = folder.name
    pad = " " * (len(name) + 4)
    assert shown == [
        f"File{pad}Upload id  Status      Rows  Written  Rejected  Duplicates  Note",
        f"{name}/a.CSV  up1        ⚠ partial      3        2         1           0",
        f"{name}/b.csv             ✘ not sent{' ' * 39}the API refused the request: too big",
        f"{name}/c.csv             ✘ refused      2{' ' * 33}1 invalid row; nothing sent (fix "
        "them, or send with --allow-invalid)",
        "3 files: 1 partial, 1 not sent, 1 refused",
    ]
    assert "PHI-SECRET" not in "\n".join(shown)
    assert exit_code_for_batch(outcomes) == EXIT_PROBLEMS  # rows rejected outrank exit 2
    assert exit_code_for_batch(outcomes[1:2]) == EXIT_USAGE


def test_a_file_stopped_in_parts_is_shown_as_resumable_not_refused(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingestcli.services.parts import Resumable

    stopped = Resumable("20240315T093000459Z-abcdefghij", 2, 5, "2024-03-22T09:30:00Z")

    def send(path: str, on_progress: Any, digest: Any) -> dict[str, Any]:
        failure = KeyboardInterrupt()
        failure.ingest_resumable = stopped  # type: ignore[attr-defined]
        raise failure

    (outcome,) = send_many(Route(send), [str(folder / "b.csv")], None, jobs=1)
    assert (outcome.status, outcome.upload_id, outcome.resumable) == (
        "not sent",
        stopped.upload_id,
        stopped,
    )
    assert outcome.summary is None  # the check passed: nothing of it is a refusal
    render_batch([outcome], report_command="ingest report {upload_id}")
    shown = " ".join(capsys.readouterr().out.replace("|", " ").split())  # a block per file
    assert "interrupted; 2 of 5 parts stored: run the same command again to send the rest" in (
        shown
    )
