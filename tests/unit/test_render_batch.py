"""`ingest upload` of several files, at 80 columns: every file name, upload id, status and
count whole (the summary table once cut its headers and dropped its File column there)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ingestcli.cli.render import batch
from ingestcli.services.batch import SENT, Sent

REPORT = {"status": "partial", "rows": 1_234_567, "written": 1_234_000, "rejected": 560}
OUTCOMES = [
    Sent("visits/2024-03-clinic-north-exported-by-the-practice-system.csv", "partial",
         {"upload_id": "20240315T093000456Z-klmnopqrst"}, REPORT | {"duplicates": 7}),
    Sent("visits/b.csv", "succeeded", {"upload_id": "20240315T093000457Z-abcdefghij"},
         {"status": "succeeded", "rows": 5, "written": 5, "rejected": 0, "duplicates": 0}),
    Sent("visits/c.csv", SENT, {"upload_id": "20240315T093000458Z-uvwxyz2345"}),
]  # fmt: skip


def in_order(value: str, text: str) -> bool:
    """Every character of `value` appears in `text`, in order: nothing of it was cut, even
    where its column folds it over several lines beside the others."""
    rest = iter(text)
    return all(character in rest for character in value)


@pytest.mark.parametrize("width", [80, 120, 200])
def test_several_files_show_every_value_whole(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    screen = Console(width=width, record=True, file=io.StringIO(), highlight=False)
    monkeypatch.setattr(batch, "stdout", screen)
    batch.render_batch(OUTCOMES, report_command="ingest report {upload_id}")
    text = screen.export_text()
    lines = text.splitlines()
    words = {word for line in lines for word in line.split()}
    for sent in OUTCOMES:
        assert sent.upload_id in words
        assert in_order(sent.file, text)  # whole, though it may fold
    for header in ("File", "Upload", "Status", "Rows", "Written", "Rejected", "Duplicates"):
        assert header in words, header
    for count in ("1,234,567", "1,234,000", "560", "7"):
        assert count in words, count
    assert "…" not in text
    assert all(len(line) <= width for line in lines)


def test_a_file_stopped_in_parts_says_how_much_is_stored_and_how_to_resume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingestcli.services.batch import NOT_SENT
    from ingestcli.services.parts import Resumable

    stopped = Resumable("20240315T093000459Z-abcdefghij", 46, 58, "2024-03-22T09:30:00Z")
    outcome = Sent(
        "big.csv", NOT_SENT, {"upload_id": stopped.upload_id}, error=KeyboardInterrupt(),
        resumable=stopped,
    )  # fmt: skip
    screen = Console(width=200, record=True, file=io.StringIO(), highlight=False)
    monkeypatch.setattr(batch, "stdout", screen)
    batch.render_batch([outcome], report_command="ingest report {upload_id}")
    text = " ".join(screen.export_text().split())
    assert (
        "big.csv 20240315T093000459Z-abcdefghij ✘ not sent interrupted; 46 of 58 parts "
        "stored: run the same command again to send the rest"
    ) in text
    assert outcome.as_dict()["parts_stored"] == 46 and outcome.as_dict()["parts"] == 58
