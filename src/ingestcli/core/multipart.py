"""S3's rules for a multipart upload, in one place for the API that opens and completes one
and the client that plans its parts, so a plan the client makes is one the API takes.

A file of `size` bytes in parts of `part_size` has ceil(size / part_size) parts, numbered
from 1; every part but the last is exactly `part_size` bytes. S3 takes parts of 5 MiB to
5 GiB (the last may be smaller), at most 10,000 of them, for an object of at most 5 TiB.
"""

from __future__ import annotations

MAX_PUT_BYTES = 5 * 1024**3  # the largest single PUT S3 takes: larger files go in parts
MIN_PART_BYTES = 5 * 1024**2
MAX_PART_BYTES = 5 * 1024**3
MAX_PARTS = 10_000
MAX_OBJECT_BYTES = 5 * 1024**4
# How `ingest upload` sends by default: files above 64 MiB in parts of 16 MiB, 8 at a time
# (at most 32); its options and the services that follow them read these.
DEFAULT_THRESHOLD = 64 * 1024**2
DEFAULT_PART_SIZE = 16 * 1024**2
DEFAULT_PART_JOBS = 8
MAX_PART_JOBS = 32
# Part URLs asked for (or listed) in one API request: the request's body stays far under the
# API's 16 KiB and the answer (about 1.5 KB a URL) far under a function URL's 6 MB.
MAX_PARTS_PER_REQUEST = 100


def part_count(size: int, part_size: int) -> int:
    """How many parts a file of `size` bytes makes in parts of `part_size`."""
    return max(1, -(-size // part_size))


def part_span(size: int, part_size: int, number: int) -> tuple[int, int]:
    """(offset, length) of part `number` (from 1) of a file of `size` bytes."""
    offset = (number - 1) * part_size
    return offset, min(part_size, size - offset)


def fitted_part_size(size: int, wanted: int) -> int:
    """`wanted`, or the smallest whole number of MiB that keeps a file of `size` bytes
    within MAX_PARTS parts, if that is larger."""
    mib, least = 1024**2, -(-size // MAX_PARTS)
    return max(wanted, -(-least // mib) * mib)


def plan_problem(size: int, part_size: int) -> str | None:
    """Why S3 would not take a file of `size` bytes in parts of `part_size`, or None."""
    if not MIN_PART_BYTES <= part_size <= MAX_PART_BYTES:
        return f"part_size must be from {MIN_PART_BYTES} to {MAX_PART_BYTES} bytes"
    if size > MAX_OBJECT_BYTES:
        return f"files over {MAX_OBJECT_BYTES} bytes are more than S3 stores as one object"
    if part_count(size, part_size) > MAX_PARTS:
        return f"a file of {size} bytes makes more than {MAX_PARTS} parts of {part_size} bytes"
    return None
