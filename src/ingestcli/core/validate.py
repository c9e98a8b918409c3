"""Streaming validation of a CSV file against the contract, one record at a time.

The file is read in chunks, never whole, so memory stays flat whatever its size. Every
verdict carries the physical line where its record starts (the header is line 1, and a
quoted newline moves the count on), so a clinic's IT person can find the row.

This is the verdict engine, shared by `ingest validate` and the ingest Lambda: the bytes
are split into lines by `lines`, the problems are worded by `messages`, and a whole file
is counted by `summary`. Stdlib and `ingestcli.core` only.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from datetime import tzinfo
from typing import IO, NamedTuple, NoReturn

from ingestcli.core import lines
from ingestcli.core.contract import (
    MRN_PATTERN,
    ContractViolation,
    Header,
    check_mrn,
    other_delimiter,
    parse_header,
    values_fit,
)
from ingestcli.core.date_time import normalise_date_time
from ingestcli.core.lines import ByteLines, LineTooLong, without_bom
from ingestcli.core.messages import (
    Problem,
    bad_bytes_problem,
    header_malformed,
    line_too_long,
    malformed,
    too_large,
    unreadable,
    wrong_delimiter,
    wrong_width,
)

# Bytes that are not UTF-8 are decoded to lone surrogates (as "surrogateescape" does) and
# counted, so rows are scanned for them only once a file has shown any. The counter is a
# global of this module, not of `lines` which does the decoding, because `rows()` reads it
# for every row: here that is one global read, and an int imported from elsewhere would be
# a stale copy.
_escape_bad_bytes = codecs.lookup_error("surrogateescape")
_bad_bytes_seen = 0
_COUNT_BAD_BYTES = "ingestcli.count_bad_bytes"


def _count_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    global _bad_bytes_seen
    _bad_bytes_seen += 1
    return _escape_bad_bytes(error)


codecs.register_error(_COUNT_BAD_BYTES, _count_bad_bytes)

# How much of a refused header's raw text is kept to tell which delimiter it has: far more
# than a header of real column names, and a bound on what a file can make us copy.
_HEADER_TEXT_CHARS = 64 << 10


# One record's verdict: (line, fields, mrn, date_time, problems). It is valid when
# `problems` is empty, and then `mrn` is trimmed and `date_time` is the normalised UTC value
# that the sort key uses. A plain tuple: building a NamedTuple per row costs more than the
# CSV parsing does.
Row = tuple[int, list[str], str | None, str | None, tuple[Problem, ...]]
_VALID: tuple[Problem, ...] = ()


class Resume(NamedTuple):
    """Where a later run picks a file up: its header, and the byte offset and line number
    of the record to start from (a stream that begins at that byte)."""

    header: Header
    offset: int
    line: int


class CsvValidation:
    """Verdicts for one CSV file object, binary (read as UTF-8) or text.

    Creating it reads the header and raises ContractViolation if the header is unfit;
    `rows()` then yields one Row per record. With `resume`, the stream starts at a record
    boundary that an earlier `position()` gave, and the header is the one given.
    """

    def __init__(
        self,
        stream: IO[bytes] | IO[str],
        zone: tzinfo | None = None,
        *,
        resume: Resume | None = None,
    ) -> None:
        csv.field_size_limit(lines.MAX_FIELD_CHARS)  # read there, so a test can shrink it
        self._zone = zone
        self._byte_lines: ByteLines | None = None
        self._bad_bytes_before = _bad_bytes_seen
        if isinstance(stream, io.TextIOBase):
            text: Iterable[str] = without_bom(stream)
            self._bad_bytes_before = -1  # decoded elsewhere: scan every row for escaped bytes
        else:
            self._byte_lines = ByteLines(
                stream,  # type: ignore[arg-type]
                resume.offset if resume else 0,
                errors=_COUNT_BAD_BYTES,
            )
            text = self._byte_lines
        self._lines = iter(text)
        if resume is None:
            self.header_line = 1
            self.header = self._read_header()
            self._line_base = self.header_line
        else:
            self._line_base = resume.line - 1
            self.header_line = 0
            self.header = resume.header
        self._reader = csv.reader(self._lines, strict=True)
        self.header_end = self._byte_lines.offset if self._byte_lines else None

    @property
    def bytes_read(self) -> int | None:
        """Bytes consumed so far, for a binary stream."""
        return self._byte_lines.bytes_read if self._byte_lines else None

    def position(self) -> tuple[int, int]:
        """(byte offset, line number) of the record after the last one yielded: where a
        later run resumes with `Resume`. Binary streams only."""
        assert self._byte_lines is not None, "positions are known for binary streams only"
        return self._byte_lines.offset, self._line_base + self._reader.line_num + 1

    def _read_header(self) -> Header:
        """Parse the header with a reader of its own, which keeps the raw text it reads (up
        to _HEADER_TEXT_CHARS), so that a refused header can be told apart from a file that
        is separated by something other than commas. The rows' reader starts after it."""
        kept: list[str] = []
        reader = csv.reader(_keeping(self._lines, kept), strict=True)
        fields: list[str] = []
        try:
            while not fields:  # blank lines before the header are skipped
                fields = next(reader)
        except StopIteration:
            raise ContractViolation(
                "empty_file", "the file is empty: it needs a header row and data rows"
            ) from None
        except csv.Error as exc:
            self._refuse_header(kept, ContractViolation("header_malformed", header_malformed(exc)))
        finally:
            self.header_line = reader.line_num
        first = fields[0]
        if first.startswith(("\udcff\udcfe", "\udcfe\udcff")):
            raise ContractViolation("header_not_utf8", "the file is UTF-16: save it as UTF-8")
        if not all(map(_is_clean_text, fields)):
            raise ContractViolation(
                "header_not_utf8", "the header is not UTF-8 text: save the file as UTF-8"
            )
        try:
            return parse_header(fields)
        except ContractViolation as violation:
            self._refuse_header(kept, violation)

    @staticmethod
    def _refuse_header(kept: list[str], violation: ContractViolation) -> NoReturn:
        """Raise `violation`, or header_wrong_delimiter when the header would have had the
        required columns split at another delimiter: then that is what the file must fix."""
        delimiter = other_delimiter("".join(kept))
        if delimiter is None:
            raise violation from None
        raise ContractViolation("header_wrong_delimiter", wrong_delimiter(delimiter)) from None

    def rows(self) -> Iterator[Row]:
        """Yield a verdict for every record after the header; blank lines are skipped."""
        reader = self._reader
        header = self.header
        width = header.width
        mrn_at = header.mrn_index
        date_time_at = header.date_time_index
        zone = self._zone
        value_budget = header.value_budget
        plain_mrn = MRN_PATTERN.fullmatch
        bad_bytes_before = self._bad_bytes_before
        base = self._line_base
        last_line = base + reader.line_num
        while True:
            try:
                for fields in reader:
                    line = last_line + 1
                    last_line = base + reader.line_num
                    if not fields:
                        continue
                    if len(fields) != width:
                        yield _refused(line, fields, wrong_width(line, width, len(fields)))
                        continue
                    if _bad_bytes_seen != bad_bytes_before and not all(map(str.isascii, fields)):
                        problem = bad_bytes_problem(line, header, fields)
                        if problem:
                            yield _refused(line, fields, problem)
                            continue
                    mrn = fields[mrn_at]
                    try:
                        if not plain_mrn(mrn):
                            mrn = check_mrn(mrn)
                        date_time = normalise_date_time(fields[date_time_at], zone)
                    except ContractViolation:
                        yield _refused(line, fields, *_value_problems(line, fields, header, zone))
                        continue
                    if sum(map(len, fields)) * 4 > value_budget and not values_fit(
                        value_budget, fields
                    ):
                        yield _refused(line, fields, too_large(line))
                        continue
                    yield line, fields, mrn, date_time, _VALID
                return
            except LineTooLong:
                line = last_line + 1  # where the record starts; the too long line is next
                too_long = base + reader.line_num + 1
                yield _refused(line, [], line_too_long(line))
                rest = self._lines_after_too_long()
                if rest:
                    yield _refused(too_long + 1, [], unreadable(too_long + 1, rest, "line"))
                return
            except csv.Error as exc:
                line = last_line + 1
                last_line = base + reader.line_num
                yield _refused(line, [], malformed(exc, line, last_line))
                if "field larger than field limit" in str(exc):
                    # The parser gave up inside the field and cannot tell whether the lines
                    # that follow are more of it or rows: refuse them rather than guess.
                    rest = self._count_rest()
                    if rest:
                        yield _refused(last_line + 1, [], unreadable(last_line + 1, rest))
                    return

    def _count_rest(self) -> int:
        """The lines not yet read, counted without parsing them (a too long one included)."""
        count = 0
        try:
            for _ in self._lines:
                count += 1
        except LineTooLong:
            count += 1 + self._lines_after_too_long()
        return count

    def _lines_after_too_long(self) -> int:
        assert self._byte_lines is not None  # LineTooLong comes from binary streams only
        return self._byte_lines.count_lines_after_too_long()


def _keeping(lines: Iterator[str], kept: list[str]) -> Iterator[str]:
    """`lines`, passed on one at a time, their text kept up to _HEADER_TEXT_CHARS in all."""
    room = _HEADER_TEXT_CHARS
    for line in lines:
        if room > 0:
            kept.append(line[:room])
            room -= len(line)
        yield line


def _refused(line: int, fields: list[str], *problems: Problem) -> Row:
    return line, fields, None, None, problems


def _is_clean_text(value: str) -> bool:
    return value.isascii() or not any("\udc80" <= char <= "\udcff" for char in value)


def _value_problems(line: int, fields: list[str], header: Header, zone: tzinfo | None) -> list:
    """Every key-column problem of a row, so one pass over the file shows them all."""
    problems = []
    for check in (
        lambda: check_mrn(fields[header.mrn_index]),
        lambda: normalise_date_time(fields[header.date_time_index], zone),
    ):
        try:
            check()
        except ContractViolation as violation:
            problems.append(Problem(line, violation.column, violation.code, violation.message))
    return problems
