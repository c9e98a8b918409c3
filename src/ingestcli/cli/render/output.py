"""Where output goes: results on stdout, progress and errors on stderr.

rich honours NO_COLOR and turns colour off when the stream is not a terminal; progress
bars are drawn only when stderr is a terminal, so pipes and CI logs stay clean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

# Control characters but tab and newline (ESC among them): shown escaped, never obeyed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates: a value holding U+202E would show the rest
# of its line (other columns, a code, an id) reversed. Shown as \uNNNN, never obeyed.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# A timestamp as this tool stores it (date_time, ingested_at, the ledger's times), with a
# fraction of zeros only: people are shown it without that fraction.
_ZERO_FRACTION = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.0+Z")

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def shown(value: object) -> str:
    """A value fit for a terminal: markup escaped, control characters and bidi overrides
    made visible."""
    text = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", str(value))
    text = _BIDI.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return escape(text)


def human_time(value: object) -> object:
    """A stored timestamp as people read it: `2024-03-01T09:00:00Z`, not `…:00.000000Z`.

    Only a fraction of zeros goes; any other value, a non-zero fraction included, is returned
    as it is. For human output only: JSON and CSV keep the stored form, which sorts."""
    if isinstance(value, str) and (match := _ZERO_FRACTION.fullmatch(value)):
        return f"{match[1]}Z"
    return value


def print_json(document: object) -> None:
    """One JSON document on stdout, for scripts: no colour, no wrapping, ASCII-safe."""
    print(json.dumps(document, indent=2))


def print_error(message: str) -> None:
    stderr.print(f"[bold red]error:[/] {shown(message)}", highlight=False)


@contextmanager
def byte_progress(
    description: str, total: int | None, *, min_bytes: int = 8 << 20
) -> Iterator[Callable[..., None] | None]:
    """A progress bar over bytes (and parts, for a file sent in parts: the callback's
    second argument, (stored, in all)) on stderr, with the rate and the time left; None
    when it would only be noise."""
    if not stderr.is_terminal or total is None or total < min_bytes:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[parts]}"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(description, total=total, parts="")

        def update(done: int, parts: tuple[int, int] | None = None) -> None:
            shown_parts = {"parts": f"{parts[0]:,}/{parts[1]:,} parts"} if parts else {}
            progress.update(task, completed=done, **shown_parts)

        yield update
