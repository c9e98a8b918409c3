"""Bounded wording: how a message names a column or quotes text without growing with the file.

A report must stay under 1 MB (a function URL answers at most 6 MB, and a report lists up to
1,000 errors), and a rejects file must stay about the size of the file it came from. Column
names are long only in hostile files, but nothing in the CSV contract stopped a 20,000
character name before `column_name_too_long`, and names under that limit still reach 255
bytes. So a message never repeats a name or a value whole: it names a column by position and
at most NAME_CHARS characters of its name.

NAME_CHARS is 24: the longest names of real files (`medical_record_number`, 21, and the
like) are shown whole, and a cut name stays small even written as JSON with ASCII escapes
(12 bytes per character at worst), so 1,000 errors, each carrying a cut name twice (its
`column` and its message), stay under 800 KB. MESSAGE_CHARS caps any message, ours or a
service's, as a last line of defence; our own are far shorter.
"""

from __future__ import annotations

NAME_CHARS = 24
MESSAGE_CHARS = 300
ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """`text`, or its first `limit - 1` characters and an ellipsis: never over `limit`."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def cut_name(name: str) -> str:
    """A column name as errors carry it: whole if short, else its start and an ellipsis."""
    return cut(name, NAME_CHARS)


def column_label(position: int, name: str) -> str:
    """How a message names a column: `column 3 ('medical_record_number')`, 1-based."""
    return f"column {position} ('{cut_name(name)}')"


def cut_message(message: str) -> str:
    return cut(message, MESSAGE_CHARS)
