"""The out-of-band path gets its report: `ingest presign` hands over a report URL beside the
upload URL, and `ingest upload FILE --url URL --report-url RURL` waits on it and exits as the
token path does. Run as a user runs it, with `ingest` subprocesses against
`ingest local up --detach` (moto checks no signature nor expiry: what is checked here is
the key the report URL names, its lifetime as signed, and the waiting)."""

from __future__ import annotations

import http.server
import json
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from ingestcli.core.layout import report_key
from ingestcli.services.report_url import ReportUrlFailed, report_fetcher
from ingestcli.services.upload import WaitTimeout, wait_for_report
from support.cli_process import Run, detached_local_stack

pytestmark = pytest.mark.xdist_group("out_of_band_report")

GOOD = (
    "medical_record_number,date_time,note\nA-1,2024-03-01T10:00:00Z,a\nA-2,2024-03-01T11:00:00Z,b\n"
)
BAD = GOOD + "A-3,2024-02-30T10:00:00Z,c\n"  # an impossible date: rejected by the pipeline
SEVEN_DAYS = "604800"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("home")
    (folder / "good.csv").write_text(GOOD)
    (folder / "bad.csv").write_text(BAD)
    return folder


@pytest.fixture(scope="module")
def stack(run: Run) -> Iterator[dict]:
    with detached_local_stack(run) as document:
        assert run("provider", "add", "initech", "--profile", "local").returncode == 0
        yield document


def presign(run: Run) -> dict:
    issued = run("presign", "--provider", "initech", "--profile", "local", "--format", "json")
    assert issued.returncode == 0, issued.stderr
    return json.loads(issued.stdout)


def test_presign_hands_over_a_seven_day_url_of_the_uploads_report(run: Run, stack: dict) -> None:
    answer = presign(run)
    report = urlsplit(answer["report_url"])
    assert report.hostname == "127.0.0.1"
    assert report.path.endswith("/" + report_key("initech", answer["upload_id"]))
    assert parse_qs(report.query)["X-Amz-Expires"] == [SEVEN_DAYS]
    assert answer["report_expires_at"] > answer["expires_at"]


def test_upload_with_a_report_url_waits_and_exits_0_when_every_row_is_written(
    run: Run, stack: dict
) -> None:
    answer = presign(run)
    sent = run("upload", "good.csv", "--url", answer["url"], "--report-url", answer["report_url"])
    assert sent.returncode == 0, sent.stderr
    assert answer["upload_id"] in sent.stdout and "succeeded" in sent.stdout
    assert "2 rows: 2 written, 0 rejected" in sent.stdout
    assert answer["report_url"] not in sent.stdout + sent.stderr


def test_upload_with_a_report_url_exits_1_when_rows_are_rejected(run: Run, stack: dict) -> None:
    answer = presign(run)
    sent = run(
        "upload", "bad.csv", "--allow-invalid", "--format", "json",
        "--url", answer["url"], "--report-url", answer["report_url"],
    )  # fmt: skip
    assert sent.returncode == 1, sent.stderr
    report = json.loads(sent.stdout)
    assert (report["upload_id"], report["status"]) == (answer["upload_id"], "partial")
    assert (report["rows"], report["written"], report["rejected"]) == (3, 2, 1)
    assert [error["line"] for error in report["errors"]] == [4]


def test_a_report_url_of_another_upload_is_refused_before_anything_is_sent(
    run: Run, stack: dict
) -> None:
    first, second = presign(run), presign(run)
    sent = run("upload", "good.csv", "--url", first["url"], "--report-url", second["report_url"])
    assert sent.returncode == 2 and "another upload" in sent.stderr
    alone = run("upload", "good.csv", "--report-url", first["report_url"])
    assert alone.returncode == 2 and "--url" in alone.stderr
    sent = run("upload", "good.csv", "--url", first["url"], "--report-url", first["report_url"])
    assert sent.returncode == 0, sent.stderr  # the URL was still unused


def test_presign_prints_the_headers_and_a_curl_line_that_uploads(
    run: Run, stack: dict, home: Path
) -> None:
    issued = run("presign", "--provider", "initech", "--profile", "local")
    assert issued.returncode == 0, issued.stderr
    lines = issued.stdout.splitlines()
    for header in ("content-type: text/csv", "x-amz-tagging: ingest-kind=upload"):
        assert f"  {header}" in lines
    assert "  if-none-match: *" in lines
    (put,) = [line for line in lines if line.startswith("curl --fail -X PUT -T FILE ")]
    (url,) = shlex.split(put)[-1:]
    assert put.endswith(f" '{url}'")
    (command,) = [line for line in lines if line.startswith("ingest upload FILE --url ")]
    report_url = shlex.split(command)[-1]
    assert f"curl --fail '{report_url}'" in lines
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed on this machine: the printed curl line cannot be run")
    arguments = shlex.split(put.replace(" -T FILE ", " -T good.csv "))
    assert urlsplit(arguments[-1]).hostname == "127.0.0.1"  # loopback only
    done = subprocess.run(arguments, cwd=home, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    upload_id = urlsplit(url).path.rsplit("/", 1)[1].removesuffix(".csv")
    report = wait_for_report(None, upload_id, fetch=report_fetcher(report_url), timeout=60)
    assert (report["status"], report["rows"], report["written"]) == ("succeeded", 2, 2)
    again = subprocess.run(arguments, cwd=home, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0  # if-none-match: the URL took its one file


class _FakeS3(http.server.BaseHTTPRequestHandler):
    """Answers GETs in turn from `answers` (status, body), as S3 answers a report URL."""

    answers: ClassVar[list[tuple[int, bytes]]] = []

    def do_GET(self) -> None:
        status, body = self.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _s3_error(code: str, message: str) -> bytes:
    return f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


@pytest.fixture
def fake_s3() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bucket/acme/reports/u1.json?X-Amz-S=1"
    server.shutdown()
    server.server_close()


def test_403_access_denied_and_404_are_not_there_yet_an_expired_url_is_an_error(
    fake_s3: str,
) -> None:
    report = {"upload_id": "u1", "status": "succeeded", "rows": 1}
    _FakeS3.answers = [
        (403, _s3_error("AccessDenied", "Access Denied")),
        (404, _s3_error("NoSuchKey", "The specified key does not exist.")),
        (200, json.dumps(report).encode()),
    ]
    waited = wait_for_report(None, "u1", fetch=report_fetcher(fake_s3), poll=0.01, max_poll=0.01)
    assert waited == report and _FakeS3.answers == []
    _FakeS3.answers = [(403, _s3_error("AccessDenied", "Request has expired"))]
    with pytest.raises(ReportUrlFailed, match="expired"):
        wait_for_report(None, "u1", fetch=report_fetcher(fake_s3), poll=0.01)
    _FakeS3.answers = [(403, _s3_error("SignatureDoesNotMatch", "no"))]
    with pytest.raises(ReportUrlFailed, match="SignatureDoesNotMatch"):
        wait_for_report(None, "u1", fetch=report_fetcher(fake_s3), poll=0.01)


def test_a_report_that_never_comes_times_out_with_what_to_do(fake_s3: str) -> None:
    _FakeS3.answers = [(404, b"")] * 50
    with pytest.raises(WaitTimeout, match="ask your operator"):
        wait_for_report(
            None, "u1", fetch=report_fetcher(fake_s3), timeout=0.2, poll=0.01, max_poll=0.05,
            later="ask your operator for its report (`ingest report`)",
        )  # fmt: skip
