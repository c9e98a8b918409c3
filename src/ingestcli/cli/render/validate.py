"""Human output of `ingest validate` (and of the check `ingest upload` runs before it sends a
file), with rich. Scripts use --format json instead.

Everything shown here may come from the file: a file name, column names cut into messages,
header names. Each goes through `shown()`, so rich markup is escaped and control characters
(an escape sequence could clear the screen, set the window title or write the clipboard)
are shown as \\xNN, never obeyed.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from ingestcli.cli.render.fit import print_lines, wrapped
from ingestcli.cli.render.output import plural, shown, stdout
from ingestcli.cli.render.problems import render_problems
from ingestcli.core.summary import Summary


def render_summary(summary: Summary, name: str, console: Console = stdout) -> None:
    """A one-line verdict, the problems grouped by code, then the counts."""
    name = shown(name)
    if summary.header_error:
        problem = summary.header_error
        refused = Text.from_markup(
            f"[bold red]✘ refused:[/] {name}: {shown(problem.message)} "
            f"[dim]({shown(problem.code)})[/]"
        )
        print_lines(console, wrapped(console, refused, console.width))  # the code whole
        return
    if summary.ok:
        verdict = "[bold green]✔ valid:[/]"
        detail = "every row is valid" if summary.rows else "a header and no data rows"
    else:
        verdict = "[bold red]✘ invalid:[/]"
        detail = f"{plural(summary.invalid, 'row')} of {summary.rows:,} cannot be accepted"
    console.print(f"{verdict} {name}: {detail}")
    problems = [problem.as_dict() for problem in summary.errors]
    render_problems(problems, console, counts=summary.error_counts)
    console.print(
        f"{plural(summary.rows, 'row')}: {summary.valid:,} valid, {summary.invalid:,} invalid"
    )
