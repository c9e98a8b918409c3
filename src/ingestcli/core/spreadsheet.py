"""Cells fit for a spreadsheet: a value that Excel or LibreOffice would run as a formula is
turned into text.

Both CSV files a person may open in a spreadsheet use it: `ingest query --format csv` and
the rejects file the ingest Lambda writes (rejected rows, as sent). A value a provider sent,
say `=HYPERLINK(...)` or `=cmd|' /C calc'!A0`, must be shown, never run on a support
person's or a clinic's machine. It lives in core/ because the Lambda ships core/ only.
"""

from __future__ import annotations

import re

# What a spreadsheet reads as the start of a formula (OWASP's list): =, +, -, @, and a tab
# or carriage return before one of them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def spreadsheet_safe(value: object) -> str:
    """The cell as text, with a leading apostrophe if a spreadsheet would run it as a formula.

    A plain signed number (-5, +1.5e3) is left alone: it is data, and a spreadsheet shows it
    as the number it is. One byte is added, at most, per cell.
    """
    text = str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
