"""Problems grouped by code, for `validate`'s output and a report's: each code once, with its
count, its first lines and one message, instead of one line per problem.

    date_time_no_offset \N{MULTIPLICATION SIGN}100 — lines 2, 3, 4, … (first 3)
      date_time: has no UTC offset: add one (such as -05:00 or Z), or …

A hundred rows refused for one reason are one fix, and a table of a hundred identical lines
hides the second reason. The code, the key a script or a support person searches for, is
never wrapped or cut; the message wraps. JSON output lists the problems one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

from ingestcli.cli.render.fit import print_lines, wrapped
from ingestcli.cli.render.output import plural, shown

FIRST_LINES = 3  # lines listed per code
COLUMNS_NAMED = 3  # column names listed per code
INDENT = "  "
TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass
class _Group:
    code: str
    message: str
    lines: list[object] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    listed: int = 0  # problems of this code in the list given (the counts may cover more)


def group_problems(problems: Iterable[Mapping[str, object]]) -> list[_Group]:
    """The listed problems by code, in the order each code first shows up; each group keeps
    the first message, its distinct lines and column names, a few of each."""
    groups: dict[str, _Group] = {}
    for problem in problems:
        code = str(problem.get("code") or "")
        group = groups.get(code)
        if group is None:
            group = groups[code] = _Group(code, str(problem.get("message") or ""))
        group.listed += 1
        line, column = problem.get("line"), problem.get("column")
        if line is not None and line not in group.lines and len(group.lines) <= FIRST_LINES:
            group.lines.append(line)
        if column and column not in group.columns and len(group.columns) <= COLUMNS_NAMED:
            group.columns.append(str(column))
    return list(groups.values())


def render_problems(
    problems: Iterable[Mapping[str, object]],
    console: Console,
    *,
    counts: Mapping[str, int] | None = None,
    max_codes: int | None = None,
) -> None:
    """Each code once: `code`, a multiplication sign and its count, its first lines, then
    its message indented.

    `counts` ({code: n} over every problem, as reports and summaries keep them) gives the
    true count where the list holds only the first problems; a code counted but not listed
    is named with its count. `max_codes` bounds how many codes are shown."""
    groups = group_problems(problems)
    known = {group.code for group in groups}
    counted = sorted(
        ((code, n) for code, n in (counts or {}).items() if code not in known),
        key=lambda item: (-item[1], item[0]),
    )
    shown_codes = 0
    for group in groups:
        if max_codes is not None and shown_codes >= max_codes:
            break
        total = max((counts or {}).get(group.code, 0), group.listed)
        print_lines(console, _group_lines(console, group, total))
        shown_codes += 1
    for code, total in counted:
        if max_codes is not None and shown_codes >= max_codes:
            break
        listed = sum(group.listed for group in groups)
        heading = _heading(code, total) + Text(f" — past the first {plural(listed, 'problem')}")
        print_lines(console, wrapped(console, heading, console.width))
        shown_codes += 1
    left = len(groups) + len(counted) - shown_codes
    if left > 0:
        console.print(f"and {left:,} more codes: --format json lists them", soft_wrap=True)


def _heading(code: str, total: int) -> Text:
    return Text.from_markup(f"[bold]{shown(code)}[/] {TIMES}{total:,}")


def _group_lines(console: Console, group: _Group, total: int) -> list[Text]:
    lines = [shown(line) for line in group.lines[:FIRST_LINES]]
    where = ""
    if lines:
        more = total > group.listed or len(group.lines) > FIRST_LINES
        where = f" — line{'s' if more or len(lines) > 1 else ''} {', '.join(lines)}"
        if more:
            where += f", … (first {len(lines)})"
    heading = _heading(group.code, total) + Text.from_markup(where)
    columns = [shown(name) for name in group.columns[:COLUMNS_NAMED]]
    if len(group.columns) > COLUMNS_NAMED:
        columns.append("…")
    prefix = f"{', '.join(columns)}: " if columns else ""
    message = Text.from_markup(prefix + shown(group.message))
    body = [Text(INDENT) + line for line in wrapped(console, message, console.width - 2)]
    return [*wrapped(console, heading, console.width), *body]
