"""Human output of `ingest upload` and `ingest uploads`, as a provider sees it.

Every text the API sends back (file names, messages, column names from the provider's own
header) is shown with rich markup escaped and control characters made visible, so an ESC
sequence in a file name cannot rewrite the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from rich.filesize import decimal
from rich.text import Text

from ingestcli.cli.render.fit import ID, NUMBER, Column, print_lines, print_rows, wrapped
from ingestcli.cli.render.output import byte_progress, human_time, plural, shown, stdout
from ingestcli.cli.render.problems import render_problems
from ingestcli.core.reports import COUNTS
from ingestcli.core.status import SECOND_FILE_IGNORED, TOKEN_ROTATED, UploadStatus

_STATUS = {
    UploadStatus.SUCCEEDED: "[bold green]✔ succeeded[/]",
    UploadStatus.PARTIAL: "[bold yellow]⚠ partial[/]",
    UploadStatus.FAILED: "[bold red]✘ failed[/]",
    UploadStatus.PENDING: "[cyan]… pending[/]",
    UploadStatus.PROCESSING: "[cyan]… processing[/]",
    # No file reached the bucket, so nothing was ingested: a failure of the upload (exit 1).
    UploadStatus.ABANDONED: "[bold red]✘ abandoned[/]",
    UploadStatus.EXPIRED: "[bold red]✘ expired[/]",
}
# What a report says of an upload whose file never arrived, instead of counts of nothing.
_NEVER_ARRIVED = {
    UploadStatus.ABANDONED: (
        "It was abandoned before its file was sent: nothing was ingested. Upload the file again."
    ),
    UploadStatus.EXPIRED: (
        "Its URL expired before a file arrived: nothing was ingested. Upload the file again."
    ),
}
_ADVICE = {
    UploadStatus.PARTIAL: (
        "The rejected rows were not written: fix them and upload those rows again."
    ),
    UploadStatus.FAILED: "Nothing was written: fix the file and upload it again.",
}
# Advice for what arrived at the upload's URL, whatever its rows gave.
_CODE_ADVICE = {
    SECOND_FILE_IGNORED: (
        "A second file was sent to this upload's URL: it was not ingested (one URL takes one "
        "file). Upload it again, with a new URL."
    ),
    TOKEN_ROTATED: (
        "The URL came from a token that was rotated or revoked since: upload the file again "
        "with your current token."
    ),
}


def status_mark(status: object) -> str:
    """An upload status as people read it: a mark, a colour, the word."""
    return _STATUS.get(str(status), shown(status))


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else ""


def upload_progress(filename: str, size: int) -> AbstractContextManager[Callable[..., None] | None]:
    """A bar for the send (bytes, parts for a file sent in parts, rate, time left) on stderr
    when it is a terminal, else None; the callback takes the bytes sent so far (and parts)."""
    return byte_progress(f"Uploading {shown(filename)}", size, min_bytes=1 << 20)


def render_upload_result(result: dict[str, Any]) -> None:
    """What was sent and where it went; how to follow it when there is an upload id."""
    size = decimal(result["size"]) if isinstance(result.get("size"), int) else "?"
    name = shown(result.get("filename") or result.get("object") or "the file")
    if "upload_id" not in result:
        stdout.print(f"[bold green]✔ uploaded:[/] {name} ({size})")
        return
    upload_id = shown(result["upload_id"])
    stdout.print(f"[bold green]✔ uploaded:[/] {name} ({size}) as upload [bold]{upload_id}[/]")
    stdout.print("Its report is ready once the file is ingested: [bold]ingest uploads[/] lists it.")


def _quoted(text: str) -> str:
    """`text` in single quotes for a POSIX shell, a quote in it closed, escaped and reopened."""
    return "'" + text.replace("'", "'\\''") + "'"


def render_presigned(answer: dict[str, Any], provider: str) -> None:
    """What an operator hands a provider from `ingest presign`: the upload URL, the report
    URL, the exact headers the PUT must send, and the commands that send it (curl, ingest).
    URLs are printed whole and without markup, for copying."""
    url, report_url = answer["url"], answer["report_url"]
    plain = {"markup": False, "highlight": False, "soft_wrap": True}
    stdout.print(
        f"Upload [bold]{shown(answer['upload_id'])}[/] for {shown(provider)}: its URL takes "
        f"one file, until {shown(human_time(answer['expires_at']))}."
    )
    stdout.print("Upload URL:")
    stdout.print(url, **plain)
    until = shown(human_time(answer["report_expires_at"]))
    stdout.print(
        f"Report URL (valid 7 days, until {until}, or until the signing credentials expire if "
        "sooner):"
    )
    stdout.print(report_url, **plain)
    stdout.print("The PUT must send exactly these headers:")
    for name, value in answer["headers"].items():
        stdout.print(f"  {name}: {value}", **plain)
    headers = " ".join(
        f"-H {_quoted(f'{name}: {value}')}" for name, value in answer["headers"].items()
    )
    stdout.print("With curl:")
    stdout.print(f"curl --fail -X PUT -T FILE {headers} {_quoted(url)}", **plain)
    stdout.print("The report, once the file is ingested (404 or 403 before):")
    stdout.print(f"curl --fail {_quoted(report_url)}", **plain)
    stdout.print("With ingest (waits for the report):")
    command = f"ingest upload FILE --url {_quoted(url)} --report-url {_quoted(report_url)}"
    stdout.print(command, **plain)


def render_report(report: dict[str, Any], *, max_errors: int = 20) -> None:
    """The verdict, the counts, the problems grouped by code (at most `max_errors` codes;
    0 lists none), and what to do next."""
    upload_id = shown(report.get("upload_id", ""))
    status = report.get("status", "")
    stdout.print(f"Upload [bold]{upload_id}[/]: {status_mark(status)}")
    if status in (UploadStatus.PENDING, UploadStatus.PROCESSING):
        stdout.print("It has no report yet: check again with [bold]ingest uploads[/].")
        return
    if status in _NEVER_ARRIVED:
        stdout.print(_NEVER_ARRIVED[status])
        return
    rows, written, rejected, duplicates = (int(report.get(name) or 0) for name in COUNTS)
    line = f"{plural(rows, 'row')}: {written:,} written, {rejected:,} rejected"
    if duplicates:
        line += f", {duplicates:,} replaced by a later row with the same key"
    stdout.print(line)
    errors = [problem for problem in report.get("errors") or [] if isinstance(problem, dict)]
    counts = report.get("error_counts")
    if max_errors > 0:
        render_problems(
            errors,
            stdout,
            counts=counts if isinstance(counts, dict) else None,
            max_codes=max_errors,
        )
    codes = {problem.get("code") for problem in errors}
    advice = [text for code, text in _CODE_ADVICE.items() if code in codes]
    if status in _ADVICE and TOKEN_ROTATED not in codes:
        advice.append(_ADVICE[status])
    for text in advice:
        stdout.print(text)


def render_uploads(uploads: list[dict[str, Any]]) -> None:
    """One row per upload, newest first, with its counts once finished, and a mark where a
    second file reached its URL (not ingested); one block per upload when the columns do
    not fit the console. JSON output has the rest."""
    if not uploads:
        stdout.print("no uploads yet")
        return
    columns = [
        Column("Upload id", ID),
        Column("Status", ID),
        Column("Rows", NUMBER),
        Column("Rejected", NUMBER),
        Column("File", least=10),  # a long name folds rather than turn the list into blocks
    ]
    rows, flagged = [], 0
    for upload in uploads:
        counts = upload.get("counts") or upload  # the API nests them; flat works too
        extra = upload.get("extra_versions")
        mark = f" [bold red]⚠ +{extra:,}[/]" if isinstance(extra, int) and extra > 0 else ""
        flagged += bool(mark)
        rows.append(
            [
                shown(upload.get("upload_id", "")),
                status_mark(upload.get("status", "")) + mark,
                _number(counts.get("rows")),
                _number(counts.get("rejected")),
                shown(upload.get("filename") or ""),  # an operator's URL may name none
            ]
        )
    print_rows(stdout, columns, rows, boxed=False, title="UPLOAD")
    stdout.print(plural(len(uploads), "upload"))
    if flagged:
        advice = Text(
            f"⚠ {plural(flagged, 'upload')} got a second file at the same URL "
            f"({SECOND_FILE_IGNORED}): not ingested; upload it again, with a new URL."
        )
        print_lines(stdout, wrapped(stdout, advice, stdout.width))  # the code whole
