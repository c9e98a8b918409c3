"""Streaming validation of a CSV file against the contract, one record at a time.

The file is read in chunks, never whole, so memory stays flat whatever its size. Every
verdict carries the physical line where its record starts (the header is line 1, and a
quoted newline moves the count on), so a clinic's IT person can find the row.

Used by `ingest validate` and by the ingest Lambda: stdlib and the contract only.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import IO, NamedTuple

from ingestcli.core.contract import (
    MAX_ITEM_BYTES,
    MRN_PATTERN,
    ContractViolation,
    Header,
    check_mrn,
    normalise_date_time,
    parse_header,
    values_fit,
)

_BUFFER_BYTES = 1 << 16
# The CSV parser holds a field whole. Fields are parsed up to this size, so that one too
# large for an item is refused as item_too_large with the file still in step; past it the
# parser gives up on the field (field_too_large) and memory stays bounded.
MAX_FIELD_CHARS = 16 << 20
# A physical line is held whole before the parser sees it, so its length bounds memory too.
# One longer than this (not counting its line break) could only be refused, as it holds a
# field past the parser's limit or far more than an item holds: it is refused unread, and
# so is the rest of the file, which cannot be told apart from the rest of a quoted field.
MAX_LINE_BYTES = MAX_FIELD_CHARS + (1 << 20)  # at least _BUFFER_BYTES (see _ByteLines)

# Bytes that are not UTF-8 are decoded to lone surrogates (as "surrogateescape" does) and
# counted, so rows are scanned for them only once a file has shown any.
_escape_bad_bytes = codecs.lookup_error("surrogateescape")
_bad_bytes_seen = 0


def _count_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    global _bad_bytes_seen
    _bad_bytes_seen += 1
    return _escape_bad_bytes(error)


codecs.register_error("ingestcli.count_bad_bytes", _count_bad_bytes)


class Problem(NamedTuple):
    """Why a header or a row was refused: where, a stable code, and a plain message."""

    line: int
    column: str | None
    code: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


# One record's verdict: (line, fields, mrn, date_time, problems). It is valid when
# `problems` is empty, and then `mrn` is trimmed and `date_time` is the normalised UTC value
# that the sort key uses. A plain tuple: building a NamedTuple per row costs more than the
# CSV parsing does.
Row = tuple[int, list[str], str | None, str | None, tuple[Problem, ...]]
_VALID: tuple[Problem, ...] = ()


_BOM = codecs.BOM_UTF8


class _LineTooLong(csv.Error):
    """A physical line longer than MAX_LINE_BYTES: neither it nor the rest is parsed."""


class _ByteLines:
    """The lines of a binary stream, decoded, split as a text file with newline="" splits
    them (at CR, LF or CRLF), and able to say at which byte of the file the next line starts.

    A record's byte offset is what lets a later run resume the file where an earlier one
    stopped (an S3 Range read) instead of parsing it again from the start. Whole blocks are
    decoded at once, cut after their last line break (an LF, or a CR that the next byte
    shows is no CRLF), so a CRLF or a UTF-8 sequence is never split; bad bytes decode to
    lone surrogates that encode back to the same bytes. A line longer than MAX_LINE_BYTES
    raises _LineTooLong instead of being held whole, whatever sizes the reads return.
    """

    def __init__(self, source: IO[bytes], start: int = 0) -> None:
        self._source = source
        self._block_start = start  # file offset of the first byte of the current block
        self._block = ""
        self._block_size = 0  # its size in bytes
        self._lines = io.StringIO()
        self.bytes_read = 0
        self._first = start == 0
        self._after_too_long = b""  # bytes read past the end of a too long line

    def __iter__(self) -> Iterator[str]:
        pending = bytearray()  # the bytes of an unfinished line (a final CR perhaps its end)
        while True:
            data = self._source.read(_BUFFER_BYTES)
            self.bytes_read += len(data)
            if data:
                new = len(pending)
                pending += data
                # Only the line begun before these bytes can be too long: any other lies
                # within them. It ends at the first CR or LF (one just before them included).
                start = max(new - 1, 0)
                ends = pending.find(b"\n", start), pending.find(b"\r", start)
                length = min((at for at in ends if at >= 0), default=len(pending))
                if length > MAX_LINE_BYTES:
                    self._after_too_long = bytes(pending[length:])
                    raise _LineTooLong(f"a line is longer than {MAX_LINE_BYTES} bytes")
                # Cut after the last LF, or after the last CR that a byte other than LF
                # follows (only the new bytes, and a CR just before them, can hold either).
                last_lf = pending.rfind(b"\n", new)
                last_cr = pending.rfind(b"\r", start, len(pending) - 1)
                cut = max(last_lf, last_cr) + 1
                if cut == 0:
                    continue  # a line longer than the block: read on
            else:
                cut = len(pending)
                if cut == 0:
                    return
            with memoryview(pending) as view:
                block = bytes(view[:cut])
            pending = pending[cut:]  # not del: that would keep a long line's memory
            self._block_start += self._block_size
            if self._first:
                self._first = False
                if block.startswith(_BOM):
                    block = block[len(_BOM) :]
                    self._block_start += len(_BOM)
            self._block_size = len(block)
            self._block = block.decode("utf-8", "ingestcli.count_bad_bytes")
            del block  # a long line is held as text from here on, not twice
            self._lines = io.StringIO(self._block, newline="")
            yield from self._lines
            if not data:
                return

    @property
    def offset(self) -> int:
        """The file offset of the first byte not yet handed to the parser."""
        consumed = self._block[: self._lines.tell()]
        return self._block_start + len(consumed.encode("utf-8", "surrogateescape"))

    def count_lines_after_too_long(self) -> int:
        """After _LineTooLong: read the rest of the stream, a block at a time, and count the
        lines that start after the end of the too long one."""
        breaks = 0  # line ends, the too long line's own included
        after_cr = False
        last = b""
        data = self._after_too_long
        while True:
            if data:
                breaks += data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
                if after_cr and data.startswith(b"\n"):
                    breaks -= 1  # a CRLF split between two reads is one line end
                after_cr, last = data.endswith(b"\r"), data[-1:]
            data = self._source.read(_BUFFER_BYTES)
            if not data:
                break
            self.bytes_read += len(data)
        if breaks == 0:
            return 0
        return breaks - 1 + (last not in (b"\r", b"\n"))


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
        csv.field_size_limit(MAX_FIELD_CHARS)
        self._zone = zone
        self._byte_lines: _ByteLines | None = None
        self._bad_bytes_before = _bad_bytes_seen
        if isinstance(stream, io.TextIOBase):
            text: Iterable[str] = _without_bom(stream)
            self._bad_bytes_before = -1  # decoded elsewhere: scan every row for escaped bytes
        else:
            self._byte_lines = _ByteLines(stream, resume.offset if resume else 0)  # type: ignore[arg-type]
            text = self._byte_lines
        self._lines = iter(text)
        self._reader = csv.reader(self._lines, strict=True)
        if resume is None:
            self._line_base = 0
            self.header_line = 1
            self.header = self._read_header()
        else:
            self._line_base = resume.line - 1
            self.header_line = 0
            self.header = resume.header
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
        fields: list[str] = []
        try:
            while not fields:  # blank lines before the header are skipped
                fields = next(self._reader)
        except StopIteration:
            raise ContractViolation(
                "empty_file", "the file is empty: it needs a header row and data rows"
            ) from None
        except csv.Error as exc:
            raise ContractViolation(
                "header_malformed", f"the header row is not valid CSV: {exc}"
            ) from None
        finally:
            self.header_line = self._reader.line_num
        first = fields[0]
        if first.startswith(("\udcff\udcfe", "\udcfe\udcff")):
            raise ContractViolation(
                "header_not_utf8", "the file is UTF-16: save it as UTF-8 and upload it again"
            )
        if not all(map(_is_clean_text, fields)):
            raise ContractViolation(
                "header_not_utf8", "the header is not UTF-8 text: save the file as UTF-8"
            )
        return parse_header(fields)

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
                        yield _refused(line, fields, _wrong_width(line, width, len(fields)))
                        continue
                    if _bad_bytes_seen != bad_bytes_before and not all(map(str.isascii, fields)):
                        problem = _bad_bytes_problem(line, header, fields)
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
                        yield _refused(line, fields, _too_large(line))
                        continue
                    yield line, fields, mrn, date_time, _VALID
                return
            except _LineTooLong:
                line = last_line + 1  # where the record starts; the too long line is next
                too_long = base + reader.line_num + 1
                yield _refused(line, [], _line_too_long(line))
                rest = self._lines_after_too_long()
                if rest:
                    yield _refused(too_long + 1, [], _unreadable(too_long + 1, rest, "line"))
                return
            except csv.Error as exc:
                line = last_line + 1
                last_line = base + reader.line_num
                yield _refused(line, [], _malformed(exc, line, last_line))
                if "field larger than field limit" in str(exc):
                    # The parser gave up inside the field and cannot tell whether the lines
                    # that follow are more of it or rows: refuse them rather than guess.
                    rest = self._count_rest()
                    if rest:
                        yield _refused(last_line + 1, [], _unreadable(last_line + 1, rest))
                    return

    def _count_rest(self) -> int:
        """The lines not yet read, counted without parsing them (a too long one included)."""
        count = 0
        try:
            for _ in self._lines:
                count += 1
        except _LineTooLong:
            count += 1 + self._lines_after_too_long()
        return count

    def _lines_after_too_long(self) -> int:
        assert self._byte_lines is not None  # _LineTooLong comes from binary streams only
        return self._byte_lines.count_lines_after_too_long()


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    """Text whose first line lost its byte-order mark, as the binary path's utf-8-sig does."""
    lines = iter(lines)
    first = next(lines, "")
    yield first.removeprefix("\ufeff")
    yield from lines


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


def _wrong_width(line: int, width: int, found: int) -> Problem:
    return Problem(
        line,
        None,
        "wrong_field_count",
        f"has {found} field{'s' if found != 1 else ''} where the header has {width}",
    )


def _bad_bytes_problem(line: int, header: Header, fields: list[str]) -> Problem | None:
    for name, value in zip(header.names, fields, strict=True):
        for position, char in enumerate(value, start=1):
            if "\udc80" <= char <= "\udcff":
                return Problem(
                    line,
                    name,
                    "invalid_utf8",
                    f"byte 0x{ord(char) - 0xDC00:02X} at character {position} is not UTF-8: "
                    "save the file as UTF-8",
                )
    return None


def _too_large(line: int) -> Problem:
    return Problem(
        line,
        None,
        "item_too_large",
        f"the record is larger than the {MAX_ITEM_BYTES // 1024} KB one database item can hold",
    )


def _unreadable(line: int, count: int, what: str = "field") -> Problem:
    limit = (MAX_FIELD_CHARS if what == "field" else MAX_LINE_BYTES) >> 20
    return Problem(
        line,
        None,
        "rest_unreadable",
        f"lines {line}-{line + count - 1} were not read: after a {what} of more than "
        f"{limit} MB the rows that follow cannot be told apart; fix that {what} "
        "and upload the file again",
    )


def _line_too_long(line: int) -> Problem:
    return Problem(
        line,
        None,
        "field_too_large",
        f"a line is longer than {MAX_LINE_BYTES >> 20} MB, far more than one database item "
        f"can hold ({MAX_ITEM_BYTES // 1024} KB)",
    )


def _malformed(error: csv.Error, line: int, last_line: int) -> Problem:
    reason = str(error)
    if "unexpected end of data" in reason:
        return Problem(
            line,
            None,
            "unclosed_quote",
            f"a quoted field is never closed, so lines {line}-{last_line} were read as one value",
        )
    if "field larger than field limit" in reason:
        return Problem(
            line,
            None,
            "field_too_large",
            f"a field is larger than {MAX_FIELD_CHARS >> 20} MB, far more than one database "
            f"item can hold ({MAX_ITEM_BYTES // 1024} KB)",
        )
    if "expected after" in reason:
        return Problem(
            line,
            None,
            "malformed_quotes",
            'text follows a closing quote: inside a quoted field, write a quote as ""',
        )
    return Problem(line, None, "malformed_row", f"the row is not valid CSV: {reason}")


@dataclass
class Summary:
    """What `ingest validate` reports: complete counts and the first problems."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    header_error: Problem | None = None
    errors: list[Problem] = field(default_factory=list)
    errors_truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.header_error is None and self.invalid == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "header_error": (
                {"code": self.header_error.code, "message": self.header_error.message}
                if self.header_error
                else None
            ),
            "errors": [problem.as_dict() for problem in self.errors],
            "errors_truncated": self.errors_truncated,
        }


PROGRESS_EVERY_ROWS = 8192


def summarize(
    stream: IO[bytes] | IO[str],
    zone: tzinfo | None = None,
    max_errors: int = 100,
    on_progress: Callable[[int], None] | None = None,
) -> Summary:
    """Validate a whole stream and count; `on_progress(bytes_read)` is called now and then."""
    summary = Summary()
    try:
        validation = CsvValidation(stream, zone)
    except ContractViolation as violation:
        summary.header_error = Problem(1, violation.column, violation.code, violation.message)
        return summary
    errors = summary.errors
    rows = invalid = 0
    for _line, _fields, _mrn, _date_time, problems in validation.rows():
        rows += 1
        if problems:
            invalid += 1
            for problem in problems:
                if len(errors) < max_errors:
                    errors.append(problem)
                else:
                    summary.errors_truncated = True
        if on_progress and rows % PROGRESS_EVERY_ROWS == 0:
            on_progress(validation.bytes_read or 0)
    summary.rows = rows
    summary.invalid = invalid
    summary.valid = summary.rows - summary.invalid
    return summary
