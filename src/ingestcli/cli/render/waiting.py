"""What `ingest upload FILE` shows: the check's refusal, the bar, the live line while it
waits for a report, the report, or how far the file got when something stopped it.

The live line (status, rows processed so far, elapsed time) goes to stderr, and only when
stderr is a terminal: pipes, CI logs and `--format json` on stdout stay clean. rich honours
NO_COLOR. Everything the API sends back goes through `shown()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from ingestcli.cli.render import output
from ingestcli.cli.render.output import human_time, plural, shown, stdout
from ingestcli.cli.render.upload import render_report, render_upload_result, upload_progress
from ingestcli.cli.render.validate import render_summary
from ingestcli.core.summary import Summary
from ingestcli.services.api_client import printable
from ingestcli.services.batch import Hooks, Sent
from ingestcli.services.upload import ABANDONED, ARRIVED, Abandonment
from ingestcli.services.waiting import OnPoll


def elapsed_text(seconds: float) -> str:
    """0:07, 12:34, 1:02:03: as a clock shows a duration."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def wait_line(upload_id: str, document: dict[str, Any], elapsed: float) -> str:
    """`Upload ID: processing · 0:42 · 12,000 rows · 40%` (what is known): the time waited
    comes before the counts, so a narrow terminal that cuts the line keeps it."""
    status = shown(document.get("status", "?"))
    parts = [f"Upload {shown(upload_id)}: {status}", elapsed_text(elapsed)]
    progress = document.get("progress")
    if isinstance(progress, dict):
        rows, done, size = progress.get("rows"), progress.get("bytes"), progress.get("size")
        if isinstance(rows, int) and not isinstance(rows, bool):
            parts.append(plural(rows, "row"))
        if isinstance(done, int) and isinstance(size, int) and size > 0 and 0 <= done <= size:
            parts.append(f"{done * 100 // size}%")
    return " · ".join(parts)


@contextmanager
def live_wait(upload_id: str, console: Console | None = None) -> Iterator[OnPoll | None]:
    """A live line on stderr (or `console`) updated at each poll, gone when the wait ends;
    None when that console is not a terminal."""
    console = console or output.stderr
    if not console.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=True, refresh_per_second=4) as bar:
        task = bar.add_task(wait_line(upload_id, {"status": "waiting"}, 0.0), total=None)

        def on_poll(document: dict[str, Any], elapsed: float) -> None:
            bar.update(task, description=wait_line(upload_id, document, elapsed))

        yield on_poll


def command_for(command: str, upload_id: str | None) -> str:
    """`command` with {upload_id} filled in, the id made safe for a terminal."""
    return command.format(upload_id=printable(upload_id or "", 80))


def _in_parts(result: dict[str, Any]) -> str:
    """` in 58 parts (46 stored before)` for a file sent in parts, else nothing."""
    parts, before = result.get("parts"), result.get("parts_resumed")
    if not isinstance(parts, int):
        return ""
    if before == parts:
        return f" in {parts:,} parts, all sent before"
    return f" in {parts:,} parts" + (f" ({before:,} stored before)" if before else "")


def one_file_hooks(*, waiting: bool) -> Hooks:
    """What `ingest upload FILE` shows as it goes: a bar over the PUT of a large file, the
    upload id once sent (when its report is waited for), and the live line."""

    def sent(path: str, result: dict[str, Any]) -> None:
        if waiting:
            upload_id = shown(result["upload_id"])
            output.stderr.print(
                f"Uploaded as {upload_id}{_in_parts(result)}; waiting for its report…"
            )

    def check(path: str, size: int) -> AbstractContextManager[Callable[..., None] | None]:
        return output.byte_progress(f"Checking {shown(os.path.basename(path))}", size)

    return Hooks(check=check, bar=upload_progress, sent=sent, live=live_wait)


def _refused(summary: Summary, path: str) -> None:
    render_summary(summary, path, console=output.stderr)
    output.print_error(
        "the file was not uploaded: its header is refused"
        if summary.header_error
        else f"the file was not uploaded: {summary.invalid:,} of {summary.rows:,} rows are "
        "invalid; fix them, or upload anyway with --allow-invalid (they will be rejected "
        "and reported)"
    )


def _abandoned(found: Abandonment, error: BaseException | None, command: str) -> None:
    """One line: what stopped the upload, and what became of it."""
    what = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
    upload_id = found.upload_id
    if found.outcome == ARRIVED:
        output.print_error(
            f"{what}, but the file had arrived: upload {upload_id} was sent after all and its "
            f"report will come; later: {command_for(command, upload_id)}"
        )
    elif found.outcome == ABANDONED:
        output.print_error(
            f"{what}: upload {upload_id} was abandoned; nothing of the file is ingested"
        )
    else:
        output.print_error(
            f"{what}; upload {upload_id} could not be abandoned ({found.reason}): its URL "
            "expires unused in minutes"
        )


def render_one(outcome: Sent, *, json: bool, timeout: float, command: str) -> None:
    """How far one file got, as `ingest upload FILE` always said it; `command` (with
    {upload_id}) shows a report later. Errors of their own are the caller's to raise."""
    upload_id, status = outcome.upload_id, outcome.status
    if outcome.summary is not None:
        _refused(outcome.summary, outcome.file)
    elif outcome.abandoned is not None:
        _abandoned(outcome.abandoned, outcome.error, command)
        if json and outcome.abandoned.outcome == ARRIVED:
            output.print_json({"upload_id": upload_id, "key": outcome.result.get("key"),
                               "status": status})  # fmt: skip
    elif outcome.report is None:
        (output.print_json if json else render_upload_result)(outcome.result)
    elif outcome.timed_out or outcome.interrupted:
        if json:
            output.print_json({"upload_id": upload_id, "key": outcome.result.get("key"),
                               "status": status})  # fmt: skip
        else:
            render_not_ready(upload_id, status, timeout=timeout if outcome.timed_out else None,
                             command=command_for(command, upload_id))  # fmt: skip
    elif json:
        output.print_json(outcome.report)
    else:
        render_report(outcome.report)


def render_stopped(outcome: Sent) -> None:
    """Before the error that stopped a file sent in parts: how much of it S3 holds, and
    that the same command resumes it."""
    stopped = outcome.resumable
    if stopped is None:
        return
    until, upload_id = shown(human_time(stopped.expires_at)), shown(stopped.upload_id)
    if stopped.stored == stopped.total:  # stopped while the API was completing it
        output.stderr.print(
            f"All {stopped.total:,} parts of upload {upload_id} are stored, kept until "
            f"{until}: run the same command again to complete it."
        )
        return
    output.stderr.print(
        f"{stopped.stored:,} of {stopped.total:,} parts of upload {upload_id} are stored, "
        f"kept until {until}: run the same command again to send the rest."
    )


def render_not_ready(
    upload_id: str | None, status: object, *, timeout: float | None, command: str
) -> None:
    """The file was sent but its report was not ready (timeout or Ctrl-C while waiting):
    its id, and the exact command that shows the report later."""
    why = (
        f"its report was not ready after {timeout:g} s"
        if timeout is not None
        else "interrupted while waiting for its report"
    )
    stdout.print(f"Upload [bold]{shown(upload_id)}[/]: {shown(status)} ({why})")
    stdout.print("The file was sent; it is ingested without this command. Its report, later:")
    stdout.print(command, markup=False, highlight=False)
