"""Recipes for the hostile files too big to keep in the repository: each builds its file's
bytes at test time. Their verdicts are in expected.json, under the recipe's name; the
parameters, when given, make the smaller variants the Lambda test runs on moto.
"""

from __future__ import annotations

from collections.abc import Callable

from ingestcli.core.contract import MAX_ITEM_BYTES, parse_header

HEADER = "medical_record_number,date_time,note\n"
TIME = "2024-03-01T10:00:00Z"


def ten_mb_field(size: int = 10 << 20) -> bytes:
    """One unquoted value of 10 MB (no line break in it), then an ordinary row."""
    return f"{HEADER}BIG01,{TIME},{'x' * size}\nBIG02,{TIME},after\n".encode()


def ten_thousand_columns(columns: int = 10_000) -> bytes:
    """A header of `columns` columns, then a valid row, a row one field short, a row with a
    bad MRN, and a row with one value of 400 KB."""
    names = ["medical_record_number", "date_time", *(f"c{i:05d}" for i in range(2, columns))]
    rest = columns - 2

    def row(mrn: str, values: list[str]) -> str:
        return ",".join([mrn, TIME, *values]) + "\n"

    return (
        ",".join(names)
        + "\n"
        + row("COL01", ["v"] * rest)
        + row("COL02", ["v"] * (rest - 1))
        + row("COL#03", ["v"] * rest)
        + row("COL04", ["y" * MAX_ITEM_BYTES] + ["v"] * (rest - 1))
    ).encode()


def _value_budget() -> int:
    return parse_header(HEADER.strip().split(",")).value_budget


def row_over_400kb() -> bytes:
    """Rows over DynamoDB's 400 KB item limit: 401 KB of ASCII, one byte over the budget
    the validator keeps for values, and 210,000 two-byte characters (420 KB as UTF-8, fewer
    characters than the limit); between them a 300 KB row that fits."""
    over_by_one = "y" * (_value_budget() + 1 - len("SIZE03") - len(TIME))
    return (
        f"{HEADER}"
        f"SIZE02,{TIME},{'y' * (401 * 1024)}\n"
        f"SIZE03,{TIME},{over_by_one}\n"
        f"SIZE04,{TIME},{'y' * (300 * 1024)}\n"
        f"SIZE05,{TIME},{'é' * 210_000}\n"
        f"SIZE06,{TIME},small\n"
    ).encode()


def row_at_item_budget(slack: int = 0) -> bytes:
    """One row whose values fill the validator's budget exactly (`slack` bytes less)."""
    note = "y" * (_value_budget() - slack - len("EDGE01") - len(TIME))
    return f"{HEADER}EDGE01,{TIME},{note}\n".encode()


def million_empty_lines(count: int = 1_000_000) -> bytes:
    """A row, a million blank lines, and a bad row whose line number counts every one."""
    blank = "\n" * count
    return f"{HEADER}MIL01,{TIME},x\n{blank}MIL#02,{TIME},x\n".encode()


def long_line_then_rows(size: int = 20 << 20) -> bytes:
    """A 20 MB line with no line break (past the validator's 17 MB line limit), then rows."""
    return (
        f"{HEADER}LONG01,{TIME},ok\nLONG02,{TIME},{'z' * size}\n"
        f"LONG03,{TIME},after\nLONG04,{TIME},after\n"
    ).encode()


def no_line_break_at_all(size: int = 20 << 20) -> bytes:
    """20 MB and not one line break: even the header never ends."""
    return b"x" * size


def cr_only_many_rows(rows: int = 200_000) -> bytes:
    """Old Mac line endings (CR alone) throughout, 200,000 rows, one bad (line 3)."""
    body = "".join(f"CRO{i:06d},{TIME},x\r" for i in range(rows))
    return (HEADER.replace("\n", "\r") + body.replace("CRO000001,", "CRO#000001,", 1)).encode()


def many_rows_one_key(rows: int = 100_000) -> bytes:
    """100,000 rows with one key (one MRN, one instant): the last one wins."""
    return (HEADER + "".join(f"SAME01,{TIME},copy {i}\n" for i in range(rows))).encode()


def quoted_field_of_many_lines(lines: int = 300_000) -> bytes:
    """One quoted value of 300,000 short lines (900 KB), then a bad row whose line number
    counts them all."""
    value = "ab\n" * lines
    return f'{HEADER}QML01,{TIME},"{value}"\nQML02,{TIME},after\nQML#03,{TIME},bad\n'.encode()


def column_name_of_20000_characters(rows: int = 20_000) -> bytes:
    """A 20,000-character column name over `rows` rows, each with a byte that is not UTF-8
    in that column: once a 20 MB report; now refused at the header."""
    header = f"medical_record_number,date_time,{'x' * 20_000}\n".encode()
    return header + b"".join(b"LONG%05d,%s,caf\xe9\n" % (n, TIME.encode()) for n in range(rows))


def column_name_of_255_bytes_with_escapes(rows: int = 20) -> bytes:
    """A column name of exactly 255 bytes (the limit) that starts with terminal escape
    sequences (a window title, a clipboard write), and rows with a bad byte in it."""
    start = "\x1b]0;title\x07\x1b]52;c;ZXZpbA==\x07"
    name = start + "n" * (255 - len(start))
    header = f"medical_record_number,date_time,{name}\n".encode()
    return header + b"".join(b"ESC%05d,%s,caf\xe9\n" % (n, TIME.encode()) for n in range(rows))


RECIPES: dict[str, Callable[..., bytes]] = {
    recipe.__name__: recipe
    for recipe in (
        ten_mb_field,
        ten_thousand_columns,
        row_over_400kb,
        row_at_item_budget,
        million_empty_lines,
        long_line_then_rows,
        no_line_break_at_all,
        cr_only_many_rows,
        many_rows_one_key,
        quoted_field_of_many_lines,
        column_name_of_20000_characters,
        column_name_of_255_bytes_with_escapes,
    )
}
