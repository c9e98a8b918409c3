"""One read checks and hashes a file: the whole file's SHA-256 and each part's are those of
its bytes, whatever the check reads or leaves unread."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from ingestcli.services.read_once import HashingReader, check_and_hash

DATA = bytes(range(256)) * 41  # 10,496 bytes


@pytest.mark.parametrize("part_size", [1, 7, 1024, 10_496, 10_497, 1 << 20])
@pytest.mark.parametrize("read_size", [1, 100, 4096, -1])
def test_parts_are_the_files_bytes_cut_at_the_part_size(part_size: int, read_size: int) -> None:
    reader = HashingReader(io.BytesIO(DATA), part_size)
    while reader.read(read_size):
        pass
    digest = reader.digest()
    slices = [DATA[at : at + part_size] for at in range(0, len(DATA), part_size)]
    assert digest.size == len(DATA)
    assert digest.sha256 == hashlib.sha256(DATA).hexdigest()
    assert digest.part_sha256 == tuple(hashlib.sha256(piece).hexdigest() for piece in slices)


def test_without_a_part_size_only_the_whole_file_is_hashed() -> None:
    reader = HashingReader(io.BytesIO(DATA))
    reader.read(10)
    digest = reader.digest()  # the rest is read now
    assert (digest.sha256, digest.part_size, digest.part_sha256) == (
        hashlib.sha256(DATA).hexdigest(),
        None,
        (),
    )


def test_an_empty_file_in_parts_is_one_empty_part() -> None:
    digest = HashingReader(io.BytesIO(b""), 5).digest()
    assert digest.part_sha256 == (hashlib.sha256(b"").hexdigest(),)


def test_the_check_and_the_hash_come_from_one_read(tmp_path: Path) -> None:
    body = b"medical_record_number,date_time\r\n" + b"A1,2024-03-01T14:30:00Z\r\nB#,x\r\n" * 500
    path = tmp_path / "visits.csv"
    path.write_bytes(body)
    opened: list[int] = []
    real_open = io.open

    def counting_open(*args, **kwargs):  # the one open of the file, counted
        if str(args[0]) == str(path):
            opened.append(1)
        return real_open(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("builtins.open", counting_open)
        summary, digest = check_and_hash(str(path), part_size=4096)
    assert opened == [1]
    assert (summary.rows, summary.valid, summary.invalid) == (1000, 500, 500)
    assert digest.sha256 == hashlib.sha256(body).hexdigest()
    assert len(digest.part_sha256) == -(-len(body) // 4096)


def test_a_refused_header_still_gives_the_whole_files_digest(tmp_path: Path) -> None:
    body = b"mrn;date_time\r\n" + b"x" * 100_000
    path = tmp_path / "semicolons.csv"
    path.write_bytes(body)
    summary, digest = check_and_hash(str(path))
    assert summary.header_error is not None
    assert (digest.size, digest.sha256) == (len(body), hashlib.sha256(body).hexdigest())
