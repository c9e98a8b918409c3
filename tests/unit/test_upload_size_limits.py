"""A file larger than its way in takes is refused before it is read: 5 GiB for an operator's
presigned URL (one PUT), 5 TiB (S3's largest object) through the API, which sends it in
parts. The files here are sparse: nothing is written, and nothing may be read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.core.multipart import MAX_OBJECT_BYTES, MAX_PUT_BYTES

URL = "http://127.0.0.1:9/acme/uploads/x.csv"  # nothing listens: nothing may be sent


def sparse(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "backfill.csv"
    with path.open("wb") as stream:
        stream.write(b"medical_record_number,date_time\r\n")
        stream.truncate(size)
    return path


def test_an_operators_url_refuses_a_file_over_one_puts_limit(tmp_path: Path) -> None:
    path = sparse(tmp_path, MAX_PUT_BYTES + 1)
    result = CliRunner().invoke(app, ["upload", str(path), "--url", URL])
    assert result.exit_code == 2
    assert result.stderr.replace("\n", " ").startswith(
        "error: the file is larger than the 5,368,709,120 bytes (5 GiB) one presigned URL takes: "
        "send it with an upload token (`ingest login`), which sends it in parts"
    )


@pytest.mark.parametrize("size", [MAX_PUT_BYTES + 1, MAX_OBJECT_BYTES + 1])
def test_the_routes_say_what_they_take(size: int) -> None:
    from ingestcli.services.routes import Route, url_route

    api_way = Route(lambda path, on, digest: {})
    url_way, _ = url_route(URL, None, False)
    assert (api_way.size_problem(size) is None) == (size <= MAX_OBJECT_BYTES)
    assert "one presigned URL" in (url_way.size_problem(size) or "")
    assert api_way.size_problem(None) is None and url_way.size_problem(MAX_PUT_BYTES) is None
