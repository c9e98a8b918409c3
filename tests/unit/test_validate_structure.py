"""Streaming validation of whole files, continued: CSV structure (quotes, oversized fields,
items too large for DynamoDB), physical line numbers, text streams, summaries, and memory
that stays flat on a large stream. (The corpus, headers, rows and bytes: test_validate.py.)

Files whose exact bytes matter are built as bytes here.
"""

from __future__ import annotations

import io
import math
import tracemalloc
from collections.abc import Iterator

import pytest

from ingestcli.core import contract, validate
from ingestcli.core import date_time as dates
from ingestcli.core import summary as summaries
from ingestcli.core.contract import MAX_ITEM_BYTES, ContractViolation
from ingestcli.core.lines import MAX_FIELD_CHARS
from support.paths import CORPUS
from support.validation import BOM, CORPUS_FILES, DT, HEADER, MRN, OK_TIME, rows_of, verdicts

# --------------------------------------------------------------------------- CSV structure


def test_unclosed_quote_at_end_of_file():
    data = f'{HEADER}A1,{OK_TIME},ok\nA2,{OK_TIME},"never\nclosed\n'.encode()
    [first, (line, fields, mrn, dt, problems)] = rows_of(data)
    assert first[4] == ()
    assert (line, fields, mrn, dt) == (3, [], None, None)
    assert [(p.line, p.column, p.code) for p in problems] == [(3, None, "unclosed_quote")]
    assert "3-4" in problems[0].message


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(f'A1,{OK_TIME},"quoted"x', id="text-after-quote"),
        pytest.param(f'A1,{OK_TIME},"quoted" ', id="space-after-quote"),
        pytest.param(f'"A1"2,{OK_TIME},x', id="in-first-column"),
    ],
)
def test_text_after_a_closing_quote(row):
    data = f"{HEADER}{row}\nA2,{OK_TIME},ok\n".encode()
    assert verdicts(data) == [(2, [(None, "malformed_quotes")]), (3, [])]


def test_malformed_quotes_in_a_multi_line_record_keep_later_line_numbers():
    data = f'{HEADER}A1,{OK_TIME},"one\ntwo"x\nA2,{OK_TIME},ok\n'.encode()
    assert verdicts(data) == [(2, [(None, "malformed_quotes")]), (4, [])]


@pytest.mark.parametrize("quoted", [False, True], ids=["unquoted", "quoted"])
@pytest.mark.parametrize(
    ("size", "code"),
    [
        pytest.param(MAX_ITEM_BYTES, "item_too_large", id="at-400kb"),
        pytest.param(MAX_ITEM_BYTES + 1, "item_too_large", id="over-400kb"),
        pytest.param(MAX_FIELD_CHARS, "item_too_large", id="at-parser-limit"),
        pytest.param(MAX_FIELD_CHARS + 1, "field_too_large", id="over-parser-limit"),
    ],
)
def test_oversized_field_is_refused_and_the_next_row_judged(size, code, quoted):
    note = "x" * size
    if quoted:
        note = f'"{note}"'
    data = f"{HEADER}A1,{OK_TIME},{note}\nA2,{OK_TIME},after\n".encode()
    # Past the parser's limit the rest cannot be split into rows safely, so it is refused.
    after = [] if code == "item_too_large" else [(None, "rest_unreadable")]
    assert verdicts(data) == [(2, [(None, code)]), (3, after)]


def test_oversized_multi_line_field_keeps_the_file_in_step():
    note = "x" * (MAX_ITEM_BYTES + 100) + f"\nB9,{OK_TIME},ghost"
    data = f'{HEADER}A1,{OK_TIME},"{note}"\nA2,{OK_TIME},after\n'.encode()
    assert verdicts(data) == [(2, [(None, "item_too_large")]), (4, [])]


def test_rest_of_a_field_over_the_parser_limit_is_not_read_as_rows():
    """Past the parser's limit the file cannot be split into rows safely: the ghost row B9
    (the field's own next line) must not be accepted, so the rest is refused, counted."""
    note = "x" * (MAX_FIELD_CHARS + 100) + f"\nB9,{OK_TIME},ghost"
    data = f'{HEADER}A1,{OK_TIME},"{note}"\nA2,{OK_TIME},after\n'.encode()
    assert verdicts(data) == [(2, [(None, "field_too_large")]), (3, [(None, "rest_unreadable")])]


@pytest.mark.parametrize(
    ("columns", "value"),
    [
        pytest.param(3, "y" * 140_000, id="ascii"),
        pytest.param(2, "\u00e9" * 110_000, id="two-byte-chars-count-as-bytes"),
        pytest.param(2, "\U0001f600" * 55_000, id="four-byte-chars"),
    ],
)
def test_item_over_400kb_though_no_field_is(columns, value):
    assert len(value) < MAX_ITEM_BYTES
    extra = [f"c{i}" for i in range(columns)]
    header = ",".join([MRN, DT, *extra]) + "\n"
    data = f"{header}A1,{OK_TIME},{','.join([value] * columns)}\nA2,{OK_TIME}{',' * columns}\n"
    assert verdicts(data.encode()) == [(2, [(None, "item_too_large")]), (3, [])]


@pytest.mark.parametrize(("extra", "problems"), [(0, []), (1, [(None, "item_too_large")])])
def test_item_size_limit_is_exact_at_the_value_budget(extra, problems):
    budget = validate.CsvValidation(io.StringIO(HEADER)).header.value_budget
    mrn, date_time = "A1", OK_TIME
    note = "\u00e9" * ((budget - len(mrn) - len(date_time)) // 2) + "x" * extra
    if (budget - len(mrn) - len(date_time)) % 2:
        note += "x"
    row = [mrn, date_time, note]
    assert sum(len(v.encode()) for v in row) == budget + extra
    assert verdicts(f"{HEADER}{','.join(row)}\n".encode()) == [(2, problems)]


def _dynamodb_item_size(item: dict[str, dict[str, str]]) -> int:
    """Item size as DynamoDB counts it: names plus values (numbers: 1 byte per 2 digits + 1)."""
    size = 0
    for name, value in item.items():
        ((kind, text),) = value.items()
        size += len(name.encode())
        if kind == "N":
            digits = text.lstrip("-").replace(".", "").strip("0") or "0"
            size += math.ceil(len(digits) / 2) + 1
        else:
            size += len(text.encode())
    return size


def test_an_accepted_row_always_fits_in_one_dynamodb_item():
    """The budget must count the sort key's MRN: a 64-character MRN at the budget's edge."""
    # Longest bookkeeping values the contract allows: provider id 63, upload id 64.
    header = validate.CsvValidation(io.StringIO(HEADER)).header
    mrn = "M" * contract.MAX_MRN_LENGTH
    note = "x" * (header.value_budget - len(mrn) - len(OK_TIME))
    [(line, fields, checked_mrn, date_time, problems)] = rows_of(
        f"{HEADER}{mrn},{OK_TIME},{note}\n"
    )
    assert problems == ()
    item = contract.to_item(
        header,
        fields,
        checked_mrn,
        date_time,
        provider_id="p" * 63,
        upload_id="u" * 64,
        source_line=line,
        ingested_at="2024-03-02T00:00:00.000000Z",
    )
    assert _dynamodb_item_size(item) <= MAX_ITEM_BYTES


# --------------------------------------------------------------------------- line numbers


def _lines(shape: bytes) -> bytes:
    """Expand a compact file shape: H is the header, T a valid date_time."""
    return shape.replace(b"H", b"medical_record_number,date_time,note").replace(
        b",T,", b",2024-03-01T10:00:00Z,"
    )


# Each row's MRN is L<n>, n being the physical line where the record starts.
LINE_CASES = [
    pytest.param(b"H\nL2,T,x\nL3,T,x\nL4,T,x\n", [2, 3, 4], id="lf"),
    pytest.param(b"H\r\nL2,T,x\r\nL3,T,x\r\nL4,T,x\r\n", [2, 3, 4], id="crlf"),
    pytest.param(b"H\rL2,T,x\rL3,T,x\rL4,T,x\r", [2, 3, 4], id="lone-cr"),
    pytest.param(b"H\nL2,T,x\r\nL3,T,x\rL4,T,x\n", [2, 3, 4], id="mixed-endings"),
    pytest.param(b"H\nL2,T,x\nL3,T,x", [2, 3], id="no-final-newline"),
    pytest.param(BOM + b"H\r\nL2,T,x\r\nL3,T,x\r\n", [2, 3], id="bom-crlf"),
    pytest.param(b"H\n\nL3,T,x\n\r\n\rL6,T,x\n\n", [3, 6], id="blank-lines-skipped"),
    pytest.param(b"\n\r\nH\nL4,T,x\n", [4], id="blank-lines-before-header"),
    pytest.param(b'H\nL2,T,"a\nb"\nL4,T,x\n', [2, 4], id="quoted-lf"),
    pytest.param(b'H\r\nL2,T,"a\r\nb"\r\nL4,T,x\r\n', [2, 4], id="quoted-crlf"),
    pytest.param(b'H\rL2,T,"a\rb"\rL4,T,x\r', [2, 4], id="quoted-cr"),
    pytest.param(b'H\nL2,T,"a\n\n\nb"\nL6,T,x\n', [2, 6], id="quoted-blank-lines-count"),
    pytest.param(b'H\nL2,T,"a\r\n\nb\r"\nL6,T,x\n', [2, 6], id="quoted-mixed"),
    pytest.param(b'H\nL2,T,"\n"\nL4,T,"\r\n"\nL6,T,x', [2, 4, 6], id="quoted-only-newline"),
    pytest.param(b'medical_record_number,date_time,"no\nte"\nL3,T,x\n', [3],
                 id="quoted-newline-in-header"),
]  # fmt: skip


@pytest.mark.parametrize(("shape", "lines"), LINE_CASES)
def test_line_numbers_are_physical_lines_where_records_start(shape, lines):
    rows = rows_of(_lines(shape))
    assert [(line, mrn, problems) for line, _fields, mrn, _dt, problems in rows] == [
        (line, f"L{line}", ()) for line in lines
    ]


def test_line_numbers_after_refused_records():
    data = _lines(b'H\nL2,T,"a\nb"x\nL4,T\n\nL6,T,x,y\nL7,T,x\nL8,T,"never\nclosed')
    assert verdicts(data) == [
        (2, [(None, "malformed_quotes")]),
        (4, [(None, "wrong_field_count")]),
        (6, [(None, "wrong_field_count")]),
        (7, []),
        (8, [(None, "unclosed_quote")]),
    ]


def test_quoted_line_endings_are_kept_in_the_value():
    data = b'medical_record_number,date_time,note\r\nA1,2024-03-01T10:00:00Z,"a\r\nb\rc\nd"\r\n'
    [(_line, fields, _mrn, _dt, problems)] = rows_of(data)
    assert (fields[2], problems) == ("a\r\nb\rc\nd", ())


# --------------------------------------------------------------------------- text streams


EQUIVALENCE_CASES = [
    *(pytest.param((CORPUS / name).read_bytes(), id=name) for name in CORPUS_FILES),
    pytest.param(b"medical_record_number,date_time\r\nA1,2024-03-01T10:00:00Z\r\nA2,x\r\n",
                 id="crlf"),
    pytest.param(b"medical_record_number,date_time\rA1,2024-03-01T10:00:00Z\rA2,x\r", id="cr"),
    pytest.param(BOM + b"medical_record_number,date_time\nA1,2024-03-01T10:00:00Z\n", id="bom"),
    pytest.param(b'medical_record_number,date_time,n\r\nA1,2024-03-01T10:00:00Z,"a\r\nb"\r\nA2,x,\r\n',
                 id="quoted-crlf"),
]  # fmt: skip


@pytest.mark.parametrize("data", EQUIVALENCE_CASES)
def test_text_and_binary_streams_give_the_same_verdicts(data):
    try:
        from_bytes = rows_of(data)
    except ContractViolation as violation:
        with pytest.raises(ContractViolation) as caught:
            rows_of(data.decode("utf-8"))
        assert caught.value.code == violation.code
        return
    assert rows_of(data.decode("utf-8")) == from_bytes


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_plain_string_io_works_with_lf_and_crlf(ending):
    text = ending.join([HEADER.strip(), f'A1,{OK_TIME},"a{ending}b"', "A2,x,y", ""])
    assert verdicts(io.StringIO(text).getvalue()) == verdicts(text.encode())
    rows = list(validate.CsvValidation(io.StringIO(text)).rows())
    assert [(row[0], [p.code for p in row[4]]) for row in rows] == [
        (2, []),
        (4, ["date_time_format"]),
    ]


def test_text_stream_with_bom_before_a_quoted_first_name():
    text = '\ufeff"medical_record_number",date_time\nA1,2024-03-01T10:00:00Z\n'
    assert verdicts(text) == verdicts(text.encode())


def test_text_stream_carrying_undecodable_bytes_is_judged_like_the_bytes():
    data = HEADER.encode() + b"A1,2024-03-01T10:00:00Z,caf\xe9\n"
    text = data.decode("utf-8", "surrogateescape")
    assert verdicts(data) == [(2, [("note", "invalid_utf8")])]
    assert verdicts(text) == verdicts(data)


def test_zone_overflow_refuses_the_row_and_goes_on():
    data = b"medical_record_number,date_time\nA1,9999-12-31T23:00:00\nA2,2024-03-01T10:00:00\n"
    new_york = dates.resolve_time_zone("America/New_York")
    assert verdicts(data, new_york) == [(2, [(DT, "date_time_out_of_range")]), (3, [])]


# --------------------------------------------------------------------------- summarize


def _mixed_file(good: int, bad: int) -> bytes:
    rows = [f"G{i},{OK_TIME},ok" for i in range(good)] + [f"B{i},{OK_TIME},x,y" for i in range(bad)]
    return (HEADER + "\n".join(rows) + "\n").encode()


def test_summary_counts_stay_complete_when_errors_are_cut():
    summary = summaries.summarize(io.BytesIO(_mixed_file(good=5, bad=10)), max_errors=3)
    assert (summary.rows, summary.valid, summary.invalid) == (15, 5, 10)
    assert summary.rows == summary.valid + summary.invalid
    assert [(p.line, p.code) for p in summary.errors] == [
        (7, "wrong_field_count"),
        (8, "wrong_field_count"),
        (9, "wrong_field_count"),
    ]
    assert summary.errors_truncated is True
    assert summary.ok is False


@pytest.mark.parametrize(
    ("max_errors", "kept", "truncated"), [(0, 0, True), (3, 3, True), (4, 4, False), (9, 4, False)]
)
def test_max_errors_counts_problems_not_rows(max_errors, kept, truncated):
    data = (HEADER + f"A#1,x,1\nA2,{OK_TIME},ok\nA#3,,3\n").encode()  # 2 rows, 4 problems
    summary = summaries.summarize(io.BytesIO(data), max_errors=max_errors)
    assert (summary.rows, summary.valid, summary.invalid) == (3, 1, 2)
    assert len(summary.errors) == kept
    assert summary.errors_truncated is truncated


def test_clean_file_summary():
    summary = summaries.summarize(io.BytesIO(_mixed_file(good=4, bad=0)), max_errors=0)
    assert (summary.rows, summary.valid, summary.invalid) == (4, 4, 0)
    assert (summary.errors, summary.errors_truncated, summary.ok) == ([], False, True)


def test_summary_as_dict():
    summary = summaries.summarize(io.BytesIO((HEADER + "A1,x,y\n").encode()))
    assert summary.as_dict() == {
        "rows": 1,
        "valid": 0,
        "invalid": 1,
        "header_error": None,
        "errors": [
            {
                "line": 2,
                "column": DT,
                "code": "date_time_format",
                "message": summary.errors[0].message,
            }
        ],
        "errors_truncated": False,
        "error_counts": {"date_time_format": 1},
    }
    refused = summaries.summarize(io.BytesIO(b"")).as_dict()
    assert refused["header_error"]["code"] == "empty_file"
    assert refused["header_error"]["message"]


def test_progress_reports_bytes_read():
    data = _mixed_file(good=20_000, bad=0)
    seen: list[int] = []
    summary = summaries.summarize(io.BytesIO(data), on_progress=seen.append)
    assert summary.rows == 20_000
    assert len(seen) == 20_000 // summaries.PROGRESS_EVERY_ROWS
    assert seen == sorted(seen)
    assert 0 < seen[0] <= len(data)


# --------------------------------------------------------------------------- memory


class _GeneratedStream:
    """A binary file object whose bytes come from a generator, a chunk at a time."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")
        self.produced = 0

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = memoryview(chunk)
        if size < 0:
            size = len(self._pending)
        taken, self._pending = self._pending[:size], self._pending[size:]
        self.produced += len(taken)
        return bytes(taken)


def _many_rows(count: int, per_block: int = 1_000) -> Iterator[bytes]:
    """A header, then `count` rows in blocks; a few distinct blocks are made and repeated."""
    yield b"medical_record_number,date_time\n"
    blocks = [
        "".join(
            f"MRN{block:02d}{i:05d},2024-03-{block + 1:02d}T{i % 24:02d}:{i % 60:02d}:00"
            + ("-05:00\n" if i % 2 else "Z\n")
            for i in range(per_block)
        ).encode()
        for block in range(8)
    ]
    for index in range(count // per_block):
        yield blocks[index % len(blocks)]


def test_memory_stays_flat_on_a_large_stream():
    rows = 200_000
    stream = _GeneratedStream(_many_rows(rows))
    limit = 2 * 1024 * 1024
    tracemalloc.start()
    try:
        summary = summaries.summarize(stream)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (summary.rows, summary.valid) == (rows, rows)
    assert stream.produced > 3 * limit  # reading the file whole could not stay under the limit
    assert peak < limit, f"peak traced memory {peak} bytes"
