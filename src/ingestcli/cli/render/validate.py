"""Human output of `ingest validate` (and of the check `ingest upload` runs before it sends a
file), with rich. Scripts use --format json instead.

Everything shown here may come from the file: a file name, column names cut into messages,
header names. Each goes through `shown()`, so rich markup is escaped and control characters
(an escape sequence could clear the screen, set the window title or write the clipboard)
are shown as \\xNN, never obeyed.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ingestcli.cli.render.output import plural, shown, stdout
from ingestcli.core.summary import Summary


def render_summary(summary: Summary, name: str, console: Console = stdout) -> None:
    """A one-line verdict, the first problems as a table, then the counts."""
    name = shown(name)
    if summary.header_error:
        problem = summary.header_error
        console.print(
            f"[bold red]✘ refused:[/] {name}: {shown(problem.message)} "
            f"[dim]({shown(problem.code)})[/]"
        )
        return
    if summary.ok:
        verdict = "[bold green]✔ valid:[/]"
        detail = "every row is valid" if summary.rows else "a header and no data rows"
    else:
        verdict = "[bold red]✘ invalid:[/]"
        detail = f"{plural(summary.invalid, 'row')} of {summary.rows:,} cannot be accepted"
    console.print(f"{verdict} {name}: {detail}")
    if summary.errors:
        table = Table("Line", "Column", "Code", "Problem", header_style="bold")
        for problem in summary.errors:
            table.add_row(
                str(problem.line),
                shown(problem.column or ""),
                shown(problem.code),
                shown(problem.message),
            )
        console.print(table)
    counts = f"{plural(summary.rows, 'row')}: {summary.valid:,} valid, {summary.invalid:,} invalid"
    if summary.errors_truncated:
        counts += f" (first {plural(len(summary.errors), 'problem')} shown)"
        by_code = sorted(summary.error_counts.items(), key=lambda item: (-item[1], item[0]))
        counts += "\nproblems by code: " + ", ".join(f"{code} {n:,}" for code, n in by_code)
    console.print(counts)
