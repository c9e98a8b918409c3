"""Fuzzing the validator and the ingest Lambda (hypothesis): random bytes, and valid files
mutated the ways files get broken (quotes, commas, CR/LF inserted or deleted, bad UTF-8, a
BOM or a NUL dropped in, digits swapped, lines repeated).

- the validator: only a header can raise (ContractViolation, as designed); every record gets
  one verdict at its line, in order; rows == valid + invalid; the verdicts do not depend on
  how many bytes each read returns, nor (for UTF-8 text) on reading bytes or text; a later
  run resumed at any record's byte offset gives the verdicts the whole run gave from there;
  with tiny limits, a line or a field past them is refused and the rest counted to the end;
- the Lambda on moto: no message fails for a readable upload, the report reconciles
  (rows == written + rejected + duplicates), agrees with the validator line by line, and
  the table holds one item per key written.
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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingestcli.core import validate
from ingestcli.core.contract import MRN_PATTERN, ContractViolation
from ingestcli.core.validate import CsvValidation, Resume, summarize
from test_ingest_lambda import RECORDS, UPLOAD_ID, Harness, ingest_once, make_harness

FAST = settings(max_examples=300, deadline=None)
ON_MOTO = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NORMALISED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
UNREADABLE_SPAN = re.compile(r"lines (\d+)-(\d+) were not read")

# --------------------------------------------------------------------------- inputs

TIMES = [
    "2024-03-01T10:00:00Z",
    "2024-03-01T14:30:00-05:00",
    "20240301T143000-0500",
    "2024-03-01 14:30Z",
    "2024-03-01T14:30:00.123456+05:45",
    "2016-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2024-02-29T00:00:00+14:00",
    "2024-03-01T10:00:00",
    "2016-12-31T23:59:60Z",
    "2023-02-29T10:00:00Z",
]
MRNS = st.one_of(
    st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True),
    st.sampled_from(["A1", " A1 ", "SELECT", "B#2", "", "Z\u200b3", "x" * 65]),
)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)
MUTATION_TOKENS = [
    b'"',
    b'"',
    b'""',
    b",",
    b"\r",
    b"\n",
    b"\r\n",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xef\xbb\xbf",
    b"\x00",
    b" ",
    b"#",
    "\u2028".encode(),
]


@st.composite
def valid_files_and_header_ends(draw: st.DrawFn) -> tuple[bytes, int]:
    """A file the contract accepts, in any of its spellings (columns in any order, CRLF, LF
    or CR, a BOM or not, values quoted as needed), and where its header line ends."""
    extra = draw(st.lists(st.sampled_from(["note", "Note", "ward", "x y"]), unique=True))
    names = draw(st.permutations(["medical_record_number", "date_time", *extra]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=ending)
    writer.writerow(names)
    header = draw(st.sampled_from(["", "\ufeff"])) + text.getvalue()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=ending)
    for _ in range(draw(st.integers(0, 8))):
        values = {
            "medical_record_number": draw(MRNS),
            "date_time": draw(st.sampled_from(TIMES)),
        }
        writer.writerow([values.get(name) or draw(TEXT) for name in names])
    return (header + text.getvalue()).encode(), len(header.encode())


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A valid file with up to 6 mutations, most of them after its header."""
    valid, header_end = draw(valid_files_and_header_ends())
    data = bytearray(valid)
    for _ in range(draw(st.integers(0, 6))):
        low = min(draw(st.sampled_from([0, header_end, header_end, header_end])), len(data))
        kind = draw(st.sampled_from(["insert", "delete", "swap", "digit", "repeat_line"]))
        if kind == "insert" or len(data) <= low:
            at = draw(st.integers(low, len(data)))
            data[at:at] = draw(st.sampled_from(MUTATION_TOKENS))
        elif kind == "delete":
            del data[draw(st.integers(low, len(data) - 1))]
        elif kind == "swap":
            at = draw(st.integers(low, max(len(data) - 2, low)))
            data[at : at + 2] = data[at : at + 2][::-1]
        elif kind == "digit":
            digits = [at for at in range(low, len(data)) if 48 <= data[at] <= 57]
            if digits:
                data[draw(st.sampled_from(digits))] = draw(st.integers(48, 57))
        else:
            lines = bytes(data).splitlines(keepends=True)
            at = draw(st.integers(0, len(lines) - 1))
            lines.insert(at, lines[at])
            data = bytearray(b"".join(lines))
    return bytes(data)


any_bytes = st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=300).map(lambda rest: b"medical_record_number,date_time,note\n" + rest),
)
files = st.one_of(mutated_files(), any_bytes)


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
            patch.setattr(validate, "MAX_LINE_BYTES", 48)
            patch.setattr(validate, "MAX_FIELD_CHARS", 24)
            patch.setattr(validate, "_BUFFER_BYTES", 16)
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


# --------------------------------------------------------------------------- the Lambda

_providers = itertools.count(1)


@pytest.fixture
def env(clients: Any) -> Harness:
    return make_harness(clients)


@ON_MOTO
@given(st.one_of(mutated_files(), any_bytes))
def test_the_lambda_never_fails_a_readable_upload_and_agrees_with_the_validator(
    env: Harness, data: bytes
) -> None:
    provider = f"fuzz{next(_providers):04d}"  # a partition and keys of its own per example
    env.add_provider(provider)
    key = env.upload(data, key=f"{provider}/uploads/2024/03/01/{UPLOAD_ID}.csv")

    assert ingest_once(env, key) == {"batchItemFailures": []}

    report = env.report(f"{provider}/reports/{UPLOAD_ID}.json")
    assert report is not None
    assert report["rows"] == report["written"] + report["rejected"] + report["duplicates"]
    summary = summarize(io.BytesIO(data), max_errors=10_000)
    if summary.header_error is not None:
        assert report["status"] == "failed"
        assert [e["code"] for e in report["errors"]] == [summary.header_error.code]
        assert report["rows"] == 0
    assert report["rows"] == summary.rows
    assert report["rejected"] == summary.invalid
    assert report["written"] + report["duplicates"] == summary.valid
    assert [(e["line"], e["column"], e["code"]) for e in report["errors"]] == (
        [(1, summary.header_error.column, summary.header_error.code)]
        if summary.header_error
        else [(p.line, p.column, p.code) for p in summary.errors]
    )
    rejects = env.rejects(f"{provider}/rejects/{UPLOAD_ID}.csv") or [[]]
    by_line: dict[int, list[str]] = {}
    for problem in summary.errors:
        by_line.setdefault(problem.line, []).append(problem.code)
    assert {int(row[0]): row[2].split("; ") for row in rejects[1:]} == by_line
    stored = env.dynamodb.query(
        TableName=RECORDS,
        KeyConditionExpression="providerId = :p",
        ExpressionAttributeValues={":p": {"S": provider}},
        Select="COUNT",
    )["Count"]
    assert stored == report["written"]
