"""The session-wide guard against patient data in logs (installed by tests/conftest.py).

Every record our loggers ("ingest", "ingest.*", "ingestcli.*") emit during the run is checked
against the medical record numbers and date_time values of the CSV test files (corpus/ and
hostile/ of the tests folder); the session fails if one shows up.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

PHI_SOURCES = (("corpus", "**/*.csv"), ("hostile", "**/*"))
PHI_COLUMNS = ("medical_record_number", "date_time")
MAX_PHI_FILE_BYTES = 1 << 20
MIN_PHI_CHARS = 4  # shorter values ("A1") are too common to mean anything in a log line
# A value with no digit and at most this many characters is a plain word (NULL, SELECT, half,
# "not a time"): it occurs in ordinary log text and tracebacks, so it is left out.
MAX_WORD_CHARS = 16
OUR_LOGGERS = ("ingest", "ingestcli")  # the ingest Lambda logs to "ingest", the rest below


@dataclass(frozen=True)
class PhiValue:
    """Where a value comes from, to name a leak without repeating the value."""

    column: str
    source: str  # the file, relative to the tests folder


@dataclass(frozen=True)
class Leak:
    logger: str
    level: str
    event: str
    where: str  # pathname:lineno of the logging call
    test: str
    column: str
    source: str

    def describe(self) -> str:
        return (
            f"{self.logger} {self.level} event={self.event!r} at {self.where}, during "
            f"{self.test or 'no test'}: a {self.column} value from tests/{self.source}"
        )


def _csv_files(tests: Path) -> Iterator[tuple[str, str]]:
    """(name relative to `tests`, text) of each CSV test file that is small UTF-8 text."""
    paths = {path for folder, pattern in PHI_SOURCES for path in (tests / folder).glob(pattern)}
    for path in sorted(paths):
        try:
            if not path.is_file() or path.stat().st_size > MAX_PHI_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\x00" in data:  # binary, or UTF-16/32
            continue
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            continue
        yield path.relative_to(tests).as_posix(), text


def _column_values(text: str) -> Iterator[tuple[str, str]]:
    """(column, value) for every medical_record_number and date_time cell of a CSV text."""
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(rows, [])]
        columns = [(i, name) for i, name in enumerate(header) if name in PHI_COLUMNS]
        if not columns:
            return
        words = {name.lower() for name in header}
        for row in rows:
            for i, column in columns:
                value = row[i].strip() if i < len(row) else ""
                if len(value) < MIN_PHI_CHARS or value.lower() in words:
                    continue
                if len(value) > MAX_WORD_CHARS or any(char.isdigit() for char in value):
                    yield column, value
    except csv.Error:  # a NUL, a huge field: keep what was read before it
        return


def phi_values(tests: Path) -> dict[str, PhiValue]:
    """Each MRN and date_time value of the CSV files under `tests` (its corpus/ and hostile/),
    and each date_time as stored."""
    from ingestcli.core.date_time import normalise_date_time

    found: dict[str, PhiValue] = {}
    for source, text in _csv_files(tests):
        for column, value in _column_values(text):
            found.setdefault(value, PhiValue(column, source))
            if column == "date_time":
                with suppress(Exception):  # not a valid date_time: only the raw value counts
                    found.setdefault(normalise_date_time(value), PhiValue(column, source))
    return found


class PhiLogGuard(logging.Handler):
    """A handler on our loggers that notes each record carrying a value from `values`.

    Cheap: a record's text is scanned once, looking each 4-character window up in a dict of
    value prefixes; only leaks are kept, never the records.
    """

    def __init__(self, values: dict[str, PhiValue]) -> None:
        super().__init__(logging.NOTSET)
        self.values = values
        self.by_prefix: dict[str, list[str]] = defaultdict(list)
        for value in sorted(values, key=len, reverse=True):
            self.by_prefix[value[:MIN_PHI_CHARS]].append(value)
        self.leaks: list[Leak] = []
        self.records = 0
        self.test = ""
        self._lock = threading.Lock()

    def find(self, text: str) -> str | None:
        """The first value of the set that occurs in `text`, or None."""
        lookup = self.by_prefix.get
        for start in range(len(text) - MIN_PHI_CHARS + 1):
            candidates = lookup(text[start : start + MIN_PHI_CHARS])
            if candidates:
                for value in candidates:
                    if text.startswith(value, start):
                        return value
        return None

    @staticmethod
    def text_of(record: logging.LogRecord) -> str:
        """The formatted message, the raw template and arguments, and any traceback."""
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the template
            message = ""
        parts = [message, str(record.msg), repr(record.args)]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        parts.extend(filter(None, (record.exc_text, record.stack_info)))
        return "\n".join(parts)

    def scan(self, record: logging.LogRecord) -> Leak | None:
        text = self.text_of(record)
        value = self.find(text)
        if value is None:
            return None
        event = "-"
        try:
            document = json.loads(record.getMessage())
            if isinstance(document, dict):
                event = str(document.get("event", "-"))
        except Exception:
            if isinstance(record.msg, str):
                event = record.msg.replace(value, "<value>")[:80]
        origin = self.values[value]
        return Leak(
            logger=record.name,
            level=record.levelname,
            event=event,
            where=f"{record.pathname}:{record.lineno}",
            test=self.test,
            column=origin.column,
            source=origin.source,
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            leak = self.scan(record)
        except Exception:  # the guard must never break the code that logs
            return
        with self._lock:
            self.records += 1
            if leak is not None:
                self.leaks.append(leak)

    @contextmanager
    def expecting_leaks(self) -> Iterator[list[Leak]]:
        """For the guard's own tests: leaks inside the block are returned, not counted."""
        with self._lock:
            saved, self.leaks = self.leaks, []
        try:
            yield self.leaks
        finally:
            with self._lock:
                self.leaks = saved

    def report(self) -> str:
        lines = sorted({leak.describe() for leak in self.leaks})
        return (
            f"{len(self.leaks)} log record(s) of our loggers carried patient data from the CSV "
            "test files (values not shown):\n  " + "\n  ".join(lines)
        )


def install_guard(tests: Path, loggers: Iterable[str] = OUR_LOGGERS) -> PhiLogGuard:
    """A guard watching for the values of the CSV files under `tests`, on `loggers`."""
    guard = PhiLogGuard(phi_values(tests))
    for name in loggers:
        logging.getLogger(name).addHandler(guard)
    return guard


def remove_guard(guard: PhiLogGuard, loggers: Iterable[str] = OUR_LOGGERS) -> None:
    for name in loggers:
        logging.getLogger(name).removeHandler(guard)
