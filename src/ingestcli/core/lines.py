"""The physical lines of a CSV file, read in blocks, with the byte offset where each starts.

The validator hands these lines to the CSV parser. It is a module of its own because it is
the part that knows about bytes: blocks, line breaks, UTF-8 sequences cut by a read, a
byte-order mark, and the limits that keep memory bounded whatever the file holds. The
verdicts (validate.py) only see text.

The limits are read from this module when they are used, never copied, so that a test can
shrink them here (monkeypatch `lines.MAX_LINE_BYTES`, `MAX_FIELD_CHARS`, `_BUFFER_BYTES`)
and every reader of them sees the change.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from typing import IO

_BUFFER_BYTES = 1 << 16
# The CSV parser holds a field whole. Fields are parsed up to this size, so that one too
# large for an item is refused as item_too_large with the file still in step; past it the
# parser gives up on the field (field_too_large) and memory stays bounded.
MAX_FIELD_CHARS = 16 << 20
# A physical line is held whole before the parser sees it, so its length bounds memory too.
# One longer than this (not counting its line break) could only be refused, as it holds a
# field past the parser's limit or far more than an item holds: it is refused unread, and
# so is the rest of the file, which cannot be told apart from the rest of a quoted field.
MAX_LINE_BYTES = MAX_FIELD_CHARS + (1 << 20)  # at least _BUFFER_BYTES (see ByteLines)

_BOM = codecs.BOM_UTF8


class LineTooLong(csv.Error):
    """A physical line longer than MAX_LINE_BYTES: neither it nor the rest is parsed."""


class ByteLines:
    """The lines of a binary stream, decoded, split as a text file with newline="" splits
    them (at CR, LF or CRLF), and able to say at which byte of the file the next line starts.

    A record's byte offset is what lets a later run resume the file where an earlier one
    stopped (an S3 Range read) instead of parsing it again from the start. Whole blocks are
    decoded at once, cut after their last line break (an LF, or a CR that the next byte
    shows is no CRLF), so a CRLF or a UTF-8 sequence is never split; bad bytes decode to
    lone surrogates that encode back to the same bytes. A line longer than MAX_LINE_BYTES
    raises LineTooLong instead of being held whole, whatever sizes the reads return.

    `errors` names the codec error handler that decodes bad bytes. It must decode them as
    "surrogateescape" does (the offsets rely on it); the validator passes one that also
    counts them.
    """

    def __init__(
        self, source: IO[bytes], start: int = 0, *, errors: str = "surrogateescape"
    ) -> None:
        self._source = source
        self._errors = errors
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
                    raise LineTooLong(f"a line is longer than {MAX_LINE_BYTES} bytes")
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
            self._block = block.decode("utf-8", self._errors)
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
        """After LineTooLong: read the rest of the stream, a block at a time, and count the
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


def without_bom(lines: Iterable[str]) -> Iterator[str]:
    """Text whose first line lost its byte-order mark, as ByteLines drops it from bytes."""
    lines = iter(lines)
    first = next(lines, "")
    yield first.removeprefix("\ufeff")
    yield from lines
