"""The summary table of `ingest upload` with several files: one row per file, in the order
given, with its upload id, status and counts, and a note for what stopped it. Never a row's
values: counts, codes and our own messages only."""

from __future__ import annotations

from typing import Any

from ingestcli.cli.render.fit import ID, NUMBER, Column, print_rows
from ingestcli.cli.render.output import plural, print_error, print_json, shown, stderr, stdout
from ingestcli.cli.render.upload import status_mark
from ingestcli.cli.render.waiting import command_for
from ingestcli.services.batch import NOT_SENT, REFUSED, SENT, Hooks, Sent
from ingestcli.services.upload import ABANDONED, ARRIVED

# What only several files can end as, beside an upload's own statuses (render/upload.py).
_MARK = {
    REFUSED: "[bold red]✘ refused[/]",
    NOT_SENT: "[bold red]✘ not sent[/]",
    SENT: "[green]✔ sent[/]",
}
_COUNTS = ("rows", "written", "rejected", "duplicates")


def _count(document: dict[str, Any] | None, name: str) -> str:
    value = (document or {}).get(name)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else ""


def _note(sent: Sent) -> str:
    """Why a file stopped where it did, in a few words."""
    if sent.summary is not None:
        if sent.summary.header_error:
            return f"header refused ({sent.summary.header_error.code}); nothing sent"
        invalid = plural(sent.summary.invalid, "invalid row")
        return f"{invalid}; nothing sent (fix them, or send with --allow-invalid)"
    if sent.resumable is not None:
        what = "interrupted" if sent.interrupted else str(sent.error)
        stored, total = sent.resumable.stored, sent.resumable.total
        if stored == total:
            return f"{what}; all {total:,} parts stored: run the same command again to complete"
        again = "run the same command again to send the rest"
        return f"{what}; {stored:,} of {total:,} parts stored: {again}"
    if sent.abandoned is not None and sent.abandoned.outcome == ARRIVED:
        return "interrupted, but the file had arrived: its report will come"
    if sent.abandoned is not None:
        done = "upload abandoned" if sent.abandoned.outcome == ABANDONED else "not abandoned"
        return f"{'interrupted' if sent.interrupted else str(sent.error)}; {done}"
    if sent.timed_out:
        return "report not ready in time"
    if sent.interrupted and sent.upload_id:
        return "interrupted while waiting: the file was sent"
    if sent.error is not None:
        return "interrupted" if sent.interrupted else str(sent.error)
    return ""


def many_hooks() -> Hooks:
    """What several files show as they go: a line on stderr as each one is sent."""

    def sent(path: str, result: dict[str, Any]) -> None:
        stderr.print(f"Sent {shown(path)} as {shown(result.get('upload_id', '?'))}")

    return Hooks(sent=sent)


def render_many(outcomes: list[Sent], *, json: bool, command: str) -> None:
    """Several files' outcomes: one JSON document {"uploads": [...]}, or the table; and a
    line on stderr when Ctrl-C stopped them."""
    if json:
        print_json({"uploads": [outcome.as_dict() for outcome in outcomes]})
    else:
        render_batch(outcomes, report_command=command)
    if any(outcome.interrupted for outcome in outcomes):
        print_error("interrupted: each file stopped where it was; see how far above")


def render_batch(outcomes: list[Sent], *, report_command: str) -> None:
    """The table, a count by status, and how to see the reports still to come
    (`report_command` with {upload_id} in it)."""
    columns = [
        Column("File", least=10),
        Column("Upload id", ID),
        Column("Status", ID),
        *(Column(name, NUMBER) for name in ("Rows", "Written", "Rejected", "Duplicates")),
        Column("Note"),
    ]
    rows = []
    for sent in outcomes:
        counts = sent.report if sent.summary is None else {"rows": sent.summary.rows}
        mark = _MARK.get(sent.status) or status_mark(sent.status)
        rows.append(
            [
                shown(sent.file),
                shown(sent.upload_id or ""),
                mark,
                *(_count(counts, name) for name in _COUNTS),
                shown(_note(sent)),
            ]
        )
    print_rows(stdout, columns, rows, boxed=False, title="FILE")
    by_status: dict[str, int] = {}
    for sent in outcomes:
        by_status[sent.status] = by_status.get(sent.status, 0) + 1
    stdout.print(
        f"{plural(len(outcomes), 'file')}: "
        + ", ".join(f"{count:,} {shown(status)}" for status, count in by_status.items())
    )
    later = [sent.upload_id for sent in outcomes if sent.upload_id and sent.status in _LATER]
    if later:
        stdout.print("Reports still to come, later:")
        for upload_id in later:
            stdout.print(command_for(report_command, upload_id), markup=False)


_LATER = frozenset({"pending", "processing", SENT})
