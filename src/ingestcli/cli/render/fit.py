"""Rows shown whole at any console width: a table when its columns fit, else one block per row.

rich squeezes a table that is too wide by narrowing its columns, down to three letters, and
cuts a column that may not wrap with "…": a code or an upload id shown cut is a wrong id. So
the width of every column is decided here, before rich draws anything. A code or an id (kind
ID) and a number (NUMBER) get their full width and never wrap; free text (TEXT) wraps, at
spaces first. When even that does not fit the console, the rows are shown like psql's
expanded mode instead, one block per row of `name | value` lines:

    -[ RECORD 1 ]---+------------------------------
    date_time (UTC) | 2024-03-01T14:15:00Z
    note            | dose adjusted, recheck in 2
                    | weeks

where an id too long to sit beside its name goes whole on a line of its own. Cells are rich
markup whose values went through `shown()`: parsed once here, never re-read as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

ID, NUMBER, TEXT = "id", "number", "text"
# A text column is never narrowed past its longest word, or past this (a longer word folds).
TEXT_WORD = 16
# ...nor past this, when its longest line is longer: wrapped text narrower than this is a
# column of fragments.
TEXT_LINE = 20
GAP = 2  # between the columns of a plain (borderless) table
TAB = 4


@dataclass(frozen=True)
class Column:
    """A column: its header (markup) and what its cells hold, which decides how they fit."""

    header: str
    kind: str = TEXT
    least: int | None = None  # for TEXT: narrowest width, instead of TEXT_WORD and TEXT_LINE


def cell_text(markup: str) -> Text:
    """A cell as rich Text: markup parsed (values in it were escaped by `shown()`), tabs
    expanded so that what is measured is what is drawn."""
    text = Text.from_markup(markup)
    text.expand_tabs(TAB)
    return text


def wrapped(console: Console, text: Text, width: int) -> list[Text]:
    """`text` wrapped to `width` at spaces, a word longer than that folded: nothing cut."""
    lines = list(text.wrap(console, max(width, 1), overflow="fold"))
    for line in lines:
        line.rstrip()
    return lines


def print_lines(console: Console, lines: Sequence[Text]) -> None:
    """Lines as made: rich neither wraps nor crops them again."""
    for line in lines:
        console.print(line, soft_wrap=True)


def print_rows(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    boxed: bool = True,
    title: str = "RECORD",
) -> None:
    """`rows` as a table when every column fits `console`'s width, else one block per row
    (titled `-[ TITLE n ]`); never a value cut."""
    headers = [cell_text(column.header) for column in columns]
    cells = [[cell_text(cell) for cell in row] for row in rows]
    overhead = 3 * len(columns) + 1 if boxed else GAP * (len(columns) - 1)
    widths = _widths(columns, headers, cells, console.width - overhead)
    if widths is None:
        _print_blocks(console, columns, headers, cells, title)
    elif boxed:
        console.print(_boxed(columns, headers, cells, widths), soft_wrap=False)
    else:
        _print_plain(console, columns, headers, cells, widths)


def _line_widths(text: Text) -> list[int]:
    return [cell_len(line) for line in text.plain.split("\n")]


def _longest_word(text: Text) -> int:
    return max((cell_len(word) for word in text.plain.split()), default=0)


def _widths(
    columns: Sequence[Column], headers: list[Text], cells: list[list[Text]], room: int
) -> list[int] | None:
    """Each column's width within `room`, or None when they cannot all fit."""
    least, most = [], []
    for index, (column, header) in enumerate(zip(columns, headers, strict=True)):
        texts = [header, *(row[index] for row in cells)]
        longest = max(max(_line_widths(text)) for text in texts)
        if column.kind == TEXT and column.least is not None:
            least.append(max(min(longest, column.least), 1))
        elif column.kind == TEXT:
            word = min(max(map(_longest_word, texts)), TEXT_WORD)
            least.append(max(word, min(longest, TEXT_LINE), 1))
        else:
            least.append(max(longest, 1))
        most.append(max(longest, 1))
    if sum(least) > room:
        return None
    if sum(most) <= room:
        return most
    widths, spare = list(least), room - sum(least)
    short = [high - low for low, high in zip(least, most, strict=True)]
    total = sum(short)
    for index, missing in enumerate(short):
        widths[index] += spare * missing // total
    for index in sorted(range(len(widths)), key=lambda i: widths[i] - most[i]):
        if sum(widths) >= room:
            break
        widths[index] += widths[index] < most[index]
    return widths


def _boxed(
    columns: Sequence[Column], headers: list[Text], cells: list[list[Text]], widths: list[int]
) -> Table:
    table = Table(header_style="bold")
    for column, header, width in zip(columns, headers, widths, strict=True):
        whole = column.kind != TEXT
        table.add_column(
            header,
            width=width,
            min_width=width,
            no_wrap=whole,
            overflow="ignore" if whole else "fold",
            justify="right" if column.kind == NUMBER else "left",
        )
    for row in cells:
        table.add_row(*row)
    return table


def _print_plain(
    console: Console,
    columns: Sequence[Column],
    headers: list[Text],
    cells: list[list[Text]],
    widths: list[int],
) -> None:
    """Columns two spaces apart, no borders, no trailing spaces."""
    header_row = [Text(header.plain, style="bold") for header in headers]
    for row in [header_row, *cells]:
        parts = [
            wrapped(console, text, width) if column.kind == TEXT else text.split("\n")
            for column, text, width in zip(columns, row, widths, strict=True)
        ]
        for number in range(max(len(lines) for lines in parts)):
            line = Text()
            for index, (column, lines) in enumerate(zip(columns, parts, strict=True)):
                piece = lines[number] if number < len(lines) else Text()
                pad = " " * (widths[index] - cell_len(piece.plain))
                line.append_text(Text(pad) + piece if column.kind == NUMBER else piece + pad)
                line.append(" " * GAP)
            line.rstrip()
            console.print(line, soft_wrap=True)


def _print_blocks(
    console: Console,
    columns: Sequence[Column],
    headers: list[Text],
    cells: list[list[Text]],
    title: str,
) -> None:
    """One block per row, psql's expanded mode: a rule, then `name | value` lines."""
    width = console.width
    label = min(max(max(_line_widths(header)) for header in headers), max(8, width // 3))
    labels = [wrapped(console, Text(header.plain, style="bold"), label) for header in headers]
    blocks = [_block(console, columns, labels, row, label, width) for row in cells]
    used = min(max((cell_len(line.plain) for lines in blocks for line in lines), default=0), width)
    for number, lines in enumerate(blocks, start=1):
        rule = f"-[ {title} {number} ]"
        if len(rule) <= label:
            rule += "-" * (label - len(rule)) + "-+-"
        rule += "-" * max(used - len(rule), 0)
        print_lines(console, [Text(rule), *lines])


def _block(
    console: Console,
    columns: Sequence[Column],
    labels: list[list[Text]],
    row: list[Text],
    label: int,
    width: int,
) -> list[Text]:
    """One row's `name | value` lines; an id too long to sit beside its name goes below it."""
    room = max(width - label - 3, 1)
    lines: list[Text] = []
    for column, names, text in zip(columns, labels, row, strict=True):
        if column.kind == TEXT:
            values, below = wrapped(console, text, room), []
        elif max(_line_widths(text)) <= room:
            values, below = text.split("\n"), []
        else:  # too long to sit beside its name: whole, on lines of its own
            values, below = [], [_indented(part, width) for part in text.split("\n")]
        for index in range(max(len(names), len(values), 1)):
            name = names[index] if index < len(names) else Text()
            value = values[index] if index < len(values) else Text()
            line = name + " " * (label - cell_len(name.plain)) + " | " + value
            line.rstrip()
            lines.append(line)
        lines.extend(below)
    return lines


def _indented(text: Text, width: int) -> Text:
    """An id on a line of its own: indented under its name if it still fits `width`."""
    return Text("  ") + text if cell_len(text.plain) + 2 <= width else text
