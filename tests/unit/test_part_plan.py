"""Which files go in parts, in parts of what size: S3's limits, kept once (core/multipart.py)
for the API that opens an upload and the client that plans it."""

from __future__ import annotations

import pytest
import typer

from ingestcli.cli.options import byte_size
from ingestcli.core.multipart import (
    MAX_OBJECT_BYTES,
    MAX_PART_BYTES,
    MAX_PARTS,
    MAX_PUT_BYTES,
    MIN_PART_BYTES,
    fitted_part_size,
    part_count,
    part_span,
    plan_problem,
)
from ingestcli.errors import UsageError
from ingestcli.services.parts import PartPlan

MIB = 1024**2


@pytest.mark.parametrize(
    ("size", "part_size", "count", "last"),
    [(100 * MIB, 5 * MIB, 20, 5 * MIB), (100 * MIB + 1, 5 * MIB, 21, 1), (1, 5 * MIB, 1, 1)],
)
def test_parts_cover_the_file_once(size: int, part_size: int, count: int, last: int) -> None:
    assert part_count(size, part_size) == count
    spans = [part_span(size, part_size, number) for number in range(1, count + 1)]
    assert spans[-1][1] == last
    assert sum(length for _, length in spans) == size
    assert all(spans[n][0] + spans[n][1] == spans[n + 1][0] for n in range(count - 1))


def test_a_part_size_grows_to_keep_within_s3s_part_count() -> None:
    assert fitted_part_size(1024**3, 16 * MIB) == 16 * MIB
    grown = fitted_part_size(200 * 1024**3, 16 * MIB)  # 200 GiB: 12,800 parts of 16 MiB
    assert grown % MIB == 0 and part_count(200 * 1024**3, grown) <= MAX_PARTS
    assert part_count(200 * 1024**3, grown - MIB) > MAX_PARTS


@pytest.mark.parametrize(
    ("size", "part_size", "problem"),
    [
        (100 * MIB, MIN_PART_BYTES - 1, "part_size must be"),
        (100 * MIB, MAX_PART_BYTES + 1, "part_size must be"),
        (MAX_OBJECT_BYTES + 1, MAX_PART_BYTES, "more than S3 stores"),
        (MAX_PARTS * MIN_PART_BYTES + 1, MIN_PART_BYTES, "more than 10000 parts"),
    ],
)
def test_plans_s3_refuses_are_named(size: int, part_size: int, problem: str) -> None:
    assert problem in (plan_problem(size, part_size) or "")


def test_the_largest_file_fits_in_parts_of_the_fitted_size() -> None:
    assert plan_problem(MAX_OBJECT_BYTES, fitted_part_size(MAX_OBJECT_BYTES, 16 * MIB)) is None


def test_files_above_the_threshold_or_one_puts_limit_go_in_parts() -> None:
    plan = PartPlan(threshold=64 * MIB, part_size=16 * MIB)
    assert plan.part_size_for(64 * MIB) is None
    assert plan.part_size_for(64 * MIB + 1) == 16 * MIB
    huge = PartPlan(threshold=10 * MAX_PUT_BYTES)
    assert huge.part_size_for(MAX_PUT_BYTES) is None
    assert huge.part_size_for(MAX_PUT_BYTES + 1) == 16 * MIB


@pytest.mark.parametrize(("part_size", "jobs"), [(MIN_PART_BYTES - 1, 8), (16 * MIB, 0)])
def test_a_plan_s3_or_the_client_cannot_follow_is_a_usage_error(part_size, jobs) -> None:
    with pytest.raises(UsageError):
        PartPlan(part_size=part_size, jobs=jobs)


@pytest.mark.parametrize(
    ("text", "size"),
    [("64MB", 64 * MIB), ("5MiB", 5 * MIB), ("1g", 1024**3), ("512 KB", 512 * 1024), ("100", 100)],
)
def test_sizes_read_as_the_aws_cli_reads_them(text: str, size: int) -> None:
    assert byte_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "1.5GB", "-1MB", "5TB", "64 megabytes"])
def test_sizes_that_mean_nothing_are_refused(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        byte_size(text)


def test_the_cli_refuses_a_part_size_s3_would_refuse_before_any_call(tmp_path) -> None:
    from typer.testing import CliRunner

    from ingestcli.cli.app import app

    path = tmp_path / "visits.csv"
    path.write_bytes(b"medical_record_number,date_time\r\n")
    api = ["--api-url", "http://127.0.0.1:9", "--token", "tok_" + "x" * 40]  # nothing listens
    result = CliRunner().invoke(app, ["upload", str(path), "--part-size", "1MB", *api])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: the part size must be from 5 MiB to 5 GiB (5,242,880 to 5,368,709,120 bytes), "
        "S3's limits\n"
    )
    result = CliRunner().invoke(app, ["upload", str(path), "--multipart-threshold", "big", *api])
    assert result.exit_code == 2
    assert "give a size such as 64MB, 16MiB or 1GB (MB = MiB)" in result.stderr
