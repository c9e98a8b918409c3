"""Fuzzing the validator (hypothesis): random bytes, and valid files mutated the ways files
get broken (quotes, commas, CR/LF inserted or deleted, bad UTF-8, a BOM or a NUL dropped in,
digits swapped, lines repeated).

Only a header can raise (ContractViolation, as designed); every record gets one verdict at
its line, in order; rows == valid + invalid; the verdicts do not depend on how many bytes
each read returns, nor (for UTF-8 text) on reading bytes or text; a later run resumed at any
record's byte offset gives the verdicts the whole run gave from there; with tiny limits, a
line or a field past them is refused and the rest counted to the end.

The same files through the ingest Lambda on moto: tests/integration/test_fuzz_lambda.py; the
inputs of both: tests/support/fuzz_inputs.py.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingestcli.core import lines as line_reader
from ingestcli.core.contract import MRN_PATTERN, ContractViolation
from ingestcli.core.summary import summarize
from ingestcli.core.validate import CsvValidation, Resume
from support.fuzz_inputs import files

FAST = settings(max_examples=300, deadline=None)
NORMALISED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
UNREADABLE_SPAN = re.compile(r"lines (\d+)-(\d+) were not read")


class Trickle:
    """A binary stream whose reads return 1 to 7 bytes, as a slow network might."""

    def __init__(self, data: bytes, sizes: Iterator[int]) -> None:
        self._data, self._at, self._sizes = data, 0, sizes

    def read(self, size: int = -1) -> bytes:
        step = next(self._sizes)
        if size >= 0:
            step = min(step, size)
        chunk = self._data[self._at : self._at + step]
        self._at += len(chunk)
        return chunk


def verdicts(stream: Any) -> tuple[str, Any]:
    """('header', code) or ('rows', [(line, fields, mrn, date_time, [(line, column, code)])])."""
    try:
        validation = CsvValidation(stream)
    except ContractViolation as violation:
        return "header", violation.code
    return "rows", [
        (line, fields, mrn, date_time, [(p.line, p.column, p.code) for p in problems])
        for line, fields, mrn, date_time, problems in validation.rows()
    ]


def physical_lines(data: bytes) -> int:
    return len(io.StringIO(data.decode("utf-8", "surrogateescape"), newline="").readlines())


# --------------------------------------------------------------------------- the validator


@FAST
@given(files)
def test_summarize_never_raises_and_its_counts_add_up(data: bytes) -> None:
    summary = summarize(io.BytesIO(data), max_errors=10_000)
    assert summary.rows == summary.valid + summary.invalid
    if summary.header_error is not None:
        assert (summary.rows, summary.errors) == (0, [])
    assert len({problem.line for problem in summary.errors}) == summary.invalid


@FAST
@given(files)
def test_only_the_header_raises_and_every_record_gets_one_verdict_at_its_line(
    data: bytes,
) -> None:
    kind, rows = verdicts(io.BytesIO(data))
    if kind == "header":
        return
    lines = [line for line, *_ in rows]
    assert lines == sorted(set(lines))
    assert all(2 <= line <= physical_lines(data) for line in lines)
    for line, _fields, mrn, date_time, problems in rows:
        assert all(at == line for at, _column, _code in problems)
        if problems:
            assert (mrn, date_time) == (None, None)
        else:
            assert MRN_PATTERN.fullmatch(mrn)
            assert NORMALISED.fullmatch(date_time)


@FAST
@given(files, st.lists(st.integers(1, 7), min_size=1))
def test_verdicts_do_not_depend_on_the_size_of_reads(data: bytes, sizes: list[int]) -> None:
    assert verdicts(Trickle(data, itertools.cycle(sizes))) == verdicts(io.BytesIO(data))


@FAST
@given(files)
def test_utf8_text_read_as_text_gets_the_verdicts_of_its_bytes(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert verdicts(io.StringIO(text, newline="")) == verdicts(io.BytesIO(data))


@FAST
@given(files, st.data())
def test_a_run_resumed_at_any_record_gives_the_rest_of_the_verdicts(
    data: bytes, draw: st.DataObject
) -> None:
    kind, rows = verdicts(io.BytesIO(data))
    if kind == "header":
        return
    done = draw.draw(st.integers(0, len(rows)), label="records before the stop")
    first = CsvValidation(io.BytesIO(data))
    records = first.rows()
    for _ in range(done):
        next(records)
    offset, line = first.position()

    resumed = CsvValidation(io.BytesIO(data[offset:]), resume=Resume(first.header, offset, line))

    rest = [
        (line, fields, mrn, date_time, [(p.line, p.column, p.code) for p in problems])
        for line, fields, mrn, date_time, problems in resumed.rows()
    ]
    assert rest == rows[done:]


@contextlib.contextmanager
def tiny_limits() -> Iterator[None]:
    """The validator's limits shrunk so that small files cross them: lines of 48 bytes (not
    17 MB), fields of 24 characters (not 16 M), reads of 16 bytes."""
    parser_limit = csv.field_size_limit()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(line_reader, "MAX_LINE_BYTES", 48)
            patch.setattr(line_reader, "MAX_FIELD_CHARS", 24)
            patch.setattr(line_reader, "_BUFFER_BYTES", 16)
            yield
    finally:
        csv.field_size_limit(parser_limit)


@FAST
@given(files, st.lists(st.integers(1, 7), min_size=1))
@example(  # a field past the limit, then while the rest is counted a line past it
    b'medical_record_number,date_time,note\nA1,2024-03-01T10:00:00Z,"'
    + b"x\n" * 20
    + b'"\n'
    + b"y" * 60
    + b"\r\nA2,2024-03-01T10:00:00Z,x\n",
    [5],
)
def test_past_the_line_or_field_limit_the_rest_is_refused_and_counted_to_the_last_line(
    data: bytes, sizes: list[int]
) -> None:
    with tiny_limits():
        whole = verdicts(io.BytesIO(data))
        assert verdicts(Trickle(data, itertools.cycle(sizes))) == whole
        summary = summarize(io.BytesIO(data), max_errors=10_000)
    assert summary.rows == summary.valid + summary.invalid
    codes = [problem.code for problem in summary.errors]
    if "rest_unreadable" in codes:
        assert codes[-2:] == ["field_too_large", "rest_unreadable"]
        span = UNREADABLE_SPAN.search(summary.errors[-1].message)
        assert span is not None
        assert int(span[1]) == summary.errors[-1].line
        assert int(span[2]) == physical_lines(data)
