"""What `ingest upload` says before the error when a file in parts stopped: how much S3
holds, until when, and that the same command resumes it (or completes it, all parts in)."""

from __future__ import annotations

import pytest

from ingestcli.cli.render import output, waiting
from ingestcli.services.batch import NOT_SENT, Sent
from ingestcli.services.parts import Resumable
from support.console import lines_of, recording_console

UPLOAD_ID = "20261130T141505563Z-gyvhly5gtn"


@pytest.mark.parametrize(
    ("stored", "said"),
    [
        (46, f"46 of 58 parts of upload {UPLOAD_ID} are stored, kept until "
             "2026-12-07T14:15:05Z: run the same command again to send the rest."),
        (58, f"All 58 parts of upload {UPLOAD_ID} are stored, kept until "
             "2026-12-07T14:15:05Z: run the same command again to complete it."),
    ],
)  # fmt: skip
def test_a_stopped_upload_in_parts_says_how_to_resume(
    monkeypatch: pytest.MonkeyPatch, stored: int, said: str
) -> None:
    screen = recording_console(width=200)
    monkeypatch.setattr(output, "stderr", screen)
    stopped = Resumable(UPLOAD_ID, stored, 58, "2026-12-07T14:15:05.000000Z")
    outcome = Sent("big.csv", NOT_SENT, {"upload_id": UPLOAD_ID}, error=KeyboardInterrupt())
    waiting.render_stopped(outcome)
    assert lines_of(screen) == []  # a file stopped another way says nothing here
    waiting.render_stopped(Sent("big.csv", NOT_SENT, error=KeyboardInterrupt(), resumable=stopped))
    assert lines_of(screen) == [said]
