"""Human output of the commands, with rich. Scripts use --format json instead."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingestcli.cli.render.output import plural, stdout
from ingestcli.core.summary import Summary


def render_summary(summary: Summary, name: str, console: Console = stdout) -> None:
    """A one-line verdict, the first problems as a table, then the counts."""
    name = escape(name)
    if summary.header_error:
        problem = summary.header_error
        console.print(
            f"[bold red]✘ refused:[/] {name}: {escape(problem.message)} [dim]({problem.code})[/]"
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
                escape(problem.column or ""),
                problem.code,
                escape(problem.message),
            )
        console.print(table)
    counts = f"{plural(summary.rows, 'row')}: {summary.valid:,} valid, {summary.invalid:,} invalid"
    if summary.errors_truncated:
        counts += f" (first {plural(len(summary.errors), 'problem')} shown)"
    console.print(counts)
