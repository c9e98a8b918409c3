"""The width of the CLI's output, set by the test rather than taken from the runner."""

from __future__ import annotations

import io

import pytest
from rich.console import Console


def set_console_width(monkeypatch: pytest.MonkeyPatch, width: int) -> int:
    """Make the CLI's output `width` columns wide for the rest of the test.

    The CLI prints through two rich consoles made once, at import. rich fixes a console's
    width when it is made if COLUMNS is set then (pytest-xdist's workers run with
    COLUMNS=80); otherwise it reads the terminal, or COLUMNS, at each print. So both are set:
    COLUMNS for consoles made from now on, and the width of the two shared ones.
    """
    from ingestcli.cli.render import output

    monkeypatch.setenv("COLUMNS", str(width))
    for console in (output.stdout, output.stderr):
        monkeypatch.setattr(console, "_width", width)  # what Console(width=...) sets
    return width


def recording_console(width: int = 80) -> Console:
    """A console of `width` columns that keeps what is printed on it, for `lines_of`."""
    return Console(width=width, record=True, file=io.StringIO(), highlight=False, soft_wrap=True)


def lines_of(console: Console) -> list[str]:
    """What a recording console shows, line by line (and never a trailing space)."""
    lines = console.export_text().splitlines()
    assert all(line == line.rstrip() for line in lines), "trailing spaces"
    return lines
