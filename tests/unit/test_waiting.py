"""Waiting for a report, and how long: the polling loop with an injected clock and sleep,
the live line a terminal shows, the one exit-code rule for an upload's status, and the zone
the local check uses. (The whole command on the local stack: tests/e2e/test_upload_wait.py.)"""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from ingestcli.cli.exits import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    EXIT_WAITING,
    exit_code_for_status,
    worst_exit_code,
)
from ingestcli.cli.render.waiting import elapsed_text, live_wait, wait_line
from ingestcli.core.date_time import resolve_time_zone
from ingestcli.errors import UsageError
from ingestcli.services.batch import send_file
from ingestcli.services.routes import Route
from ingestcli.services.waiting import WaitTimeout, wait_for_report
from support.fake_time import FakeTime
from support.uploads import REPORT

PROCESSING = {"upload_id": "up1", "status": "processing"}


def answers(*documents: dict[str, Any]):
    """A fetch function giving `documents` in turn, the last one for ever."""
    queue = list(documents)
    return lambda upload_id: queue.pop(0) if len(queue) > 1 else queue[0]


def test_each_poll_is_seen_with_the_time_waited_so_far() -> None:
    time, seen = FakeTime(start=100.0), []
    progress = dict(PROCESSING, progress={"rows": 1200, "bytes": 10, "size": 40})
    report = wait_for_report(
        None, "up1", fetch=answers(PROCESSING, progress, REPORT),
        on_poll=lambda document, elapsed: seen.append((document["status"], elapsed)),
        sleep=time.sleep, clock=time.clock,
    )  # fmt: skip
    assert report == REPORT
    assert seen == [("processing", 0.0), ("processing", 0.5), ("partial", 1.5)]


@pytest.mark.parametrize("status", ["abandoned", "expired"])
def test_an_upload_that_will_never_have_a_report_ends_the_wait(status: str) -> None:
    time = FakeTime(start=100.0)
    ended = dict(PROCESSING, status=status)
    assert wait_for_report(None, "up1", fetch=answers(ended), sleep=time.sleep) == ended
    assert time.sleeps == []


def test_a_timeout_keeps_the_last_status_for_the_caller() -> None:
    time = FakeTime(start=100.0)
    with pytest.raises(WaitTimeout) as raised:
        wait_for_report(
            None, "up1", fetch=answers(PROCESSING), timeout=3, sleep=time.sleep, clock=time.clock
        )
    assert raised.value.document == PROCESSING
    assert time.sleeps == [0.5, 1.0, 1.5]


def test_the_live_line_shows_status_rows_share_and_elapsed_time() -> None:
    document = dict(PROCESSING, progress={"rows": 12345, "bytes": 500, "size": 1000})
    assert wait_line("up1", document, 65.2) == "Upload up1: processing · 1:05 · 12,345 rows · 50%"
    assert wait_line("up1", {"status": "pending"}, 3) == "Upload up1: pending · 0:03"
    odd = {"status": "[red]x\x1b", "progress": {"rows": True, "bytes": 9, "size": 0}}
    assert wait_line("up[b]", odd, 0) == "Upload up\\[b]: \\[red]x\\x1b · 0:00"
    assert [elapsed_text(s) for s in (0, 59.9, 600, 3725)] == ["0:00", "0:59", "10:00", "1:02:05"]


def test_the_live_line_is_drawn_on_a_terminal_only() -> None:
    piped = Console(file=io.StringIO(), force_terminal=False)
    with live_wait("up1", piped) as on_poll:
        assert on_poll is None
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, no_color=True, width=100)
    with live_wait("up1", terminal) as on_poll:
        assert on_poll is not None
        on_poll(dict(PROCESSING, progress={"rows": 7}), 2.0)
    assert "Upload up1: processing · 0:02 · 7 rows" in screen.getvalue()
    assert "\x1b[3" not in screen.getvalue()  # no colour under no_color (NO_COLOR)


def test_one_rule_turns_a_status_into_an_exit_code() -> None:
    codes = {
        status: exit_code_for_status(status)
        for status in (
            "succeeded", "partial", "failed", "abandoned", "expired", "pending", "processing",
            "nonsense",
        )
    }  # fmt: skip
    assert codes == {
        "succeeded": EXIT_OK,
        "partial": EXIT_PROBLEMS,
        "failed": EXIT_PROBLEMS,
        "abandoned": EXIT_PROBLEMS,
        "expired": EXIT_PROBLEMS,
        "pending": EXIT_WAITING,
        "processing": EXIT_WAITING,
        "nonsense": EXIT_PROBLEMS,
    }


def test_several_files_exit_with_rejected_rows_before_a_usage_error() -> None:
    assert worst_exit_code([EXIT_OK, EXIT_USAGE, EXIT_PROBLEMS, EXIT_WAITING]) == EXIT_PROBLEMS
    assert worst_exit_code([EXIT_WAITING, EXIT_USAGE, EXIT_OK]) == EXIT_USAGE
    assert worst_exit_code([EXIT_OK, EXIT_WAITING]) == EXIT_WAITING
    assert worst_exit_code([]) == EXIT_OK


def _route(fetch) -> Route:
    return Route(
        send=lambda path, on_progress, digest: {"upload_id": "up1", "key": "k"}, fetch=fetch
    )


def test_a_file_whose_report_is_late_is_sent_and_says_so(tmp_path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("medical_record_number,date_time\nA-1,2024-05-01T10:00:00Z\n")
    sent = send_file(_route(answers(PROCESSING)), str(path), None, timeout=0)
    assert (sent.status, sent.upload_id, sent.timed_out, sent.error) == (
        "processing", "up1", True, None,
    )  # fmt: skip
    assert sent.as_dict() == {"file": str(path), "upload_id": "up1", "key": "k", **PROCESSING}


def test_ctrl_c_while_waiting_keeps_what_was_sent(tmp_path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("medical_record_number,date_time\nA-1,2024-05-01T10:00:00Z\n")

    def fetch(upload_id: str) -> dict[str, Any]:
        raise KeyboardInterrupt

    sent = send_file(_route(fetch), str(path), None)
    assert (sent.status, sent.upload_id, sent.interrupted, sent.stopped_by_error) == (
        "pending", "up1", True, False,
    )  # fmt: skip


def test_ctrl_c_during_the_check_sends_nothing(tmp_path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("medical_record_number,date_time\nA-1,2024-05-01T10:00:00Z\n")

    def send(path: str, on_progress: Any, digest: Any) -> dict[str, Any]:
        raise AssertionError("sent")

    stop = __import__("threading").Event()
    stop.set()
    sent = send_file(Route(send), str(path), None, stop=stop)
    assert (sent.status, sent.interrupted, sent.stopped_by_error) == ("not sent", True, True)


CHICAGO = resolve_time_zone("America/Chicago")


def test_the_local_check_uses_the_zone_registered_for_the_provider() -> None:
    from ingestcli.services.upload import zone_for_check

    assert zone_for_check(None, None) is None
    assert zone_for_check("America/Chicago", None) == CHICAGO
    assert zone_for_check("America/Chicago", "America/Chicago") == CHICAGO
    assert zone_for_check("America/Chicago", "US/Central") == CHICAGO  # the same zone
    assert zone_for_check("Not/A_Zone", None) is None  # the server judges its own setting
    assert zone_for_check("Not/A_Zone", "Not/A_Zone") is None


@pytest.mark.parametrize(
    ("registered", "assumed", "message"),
    [
        (
            "America/Chicago", "Asia/Tokyo",
            "--assume-tz Asia/Tokyo differs from the time zone registered for your provider "
            "(America/Chicago), which the server reads date_time values without an offset in: "
            "drop --assume-tz, or ask your operator to change it",
        ),
        (
            None, "Asia/Tokyo",
            "--assume-tz Asia/Tokyo cannot be used: no time zone is registered for your "
            "provider, so the server refuses rows whose date_time has no UTC offset; add "
            "offsets to the file, or ask your operator to register your time zone",
        ),
        (
            "America/Chicago", "Mars/Olympus",
            "--assume-tz: unknown time zone 'Mars/Olympus': give an IANA name such as "
            "America/New_York",
        ),
    ],
)  # fmt: skip
def test_an_assume_tz_that_conflicts_is_refused(
    registered: str | None, assumed: str, message: str
) -> None:
    from ingestcli.services.upload import zone_for_check

    with pytest.raises(UsageError) as raised:
        zone_for_check(registered, assumed)
    assert str(raised.value) == message
