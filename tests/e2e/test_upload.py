"""The provider's upload client over real HTTP on loopback.

S3 is a moto server (local_moto.spawn) taking real presigned PUTs. The upload API is NOT
lambdas/api.py: it is `FakeApi` below, a small handler that mimics its REST contract
(bearer token, POST /uploads presigning with boto3 against moto with ContentType and
ChecksumSHA256 signed, GET /uploads/{id}, GET /uploads), served by local_api.ApiServer.
The real api.py is exercised end to end elsewhere once it lands. S3 behaviours moto does
not have (expired URLs, SlowDown, refusals) come from `FakeS3`, a scripted HTTP endpoint.
What needs no server (checksums, URLs refused up front, rendering) is in
tests/unit/test_upload_offline.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

from ingestcli.cli.exits import EXIT_USAGE, exit_code_for
from ingestcli.errors import AuthError, IngestError, NotFound, UsageError
from ingestcli.local.api_server import ApiServer
from ingestcli.local.moto_server import free_port, spawn
from ingestcli.services.api_client import ApiClient, ApiUnavailable
from ingestcli.services.upload import (
    PutFailed,
    UrlExpired,
    WaitTimeout,
    put_file,
    upload,
    upload_with_url,
    wait_for_report,
)
from support.fake_time import FakeTime
from support.uploads import REPORT, TOKEN, write_big_csv

# One worker runs the module: its moto server takes seconds to start, once.
pytestmark = pytest.mark.xdist_group("upload")


def _reply(status: int, document: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(document),
    }


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return _reply(status, {"error": {"code": code, "message": message}})


class FakeApi:
    """The upload API's REST contract over a moto bucket, with faults on demand."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket
        self.failures = 0  # answer this many requests with 500 first
        self.urls: list[str] = []  # URLs to hand out before real presigned ones
        self.statuses: list[dict[str, Any]] = [REPORT]  # GET /uploads/{id}; the last repeats
        self.requests: list[tuple[str, str]] = []
        self.created: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        method, path = event["requestContext"]["http"]["method"], event["rawPath"]
        self.requests.append((method, event["rawPath"] + "?" + event["rawQueryString"]))
        if self.failures:
            self.failures -= 1
            return _error(500, "internal_error", "internal error")
        presented = event["headers"].get("authorization", "")
        if presented != f"Bearer {TOKEN}":
            return _error(401, "unauthorized", "a valid upload token is required")
        if (method, path) == ("POST", "/uploads"):
            return self._create(json.loads(event["body"]))
        if (method, path) == ("GET", "/uploads"):
            limit = int(event["queryStringParameters"]["limit"])
            return _reply(
                200, {"uploads": [dict(c, status="pending") for c in self.created][:limit]}
            )
        upload_id = path.removeprefix("/uploads/")
        if upload_id not in {created["upload_id"] for created in self.created}:
            return _error(404, "upload_not_found", "no such upload")
        return _reply(200, self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        if body["size"] > 10 << 20:
            return _error(413, "file_too_large", "files over 10485760 bytes")
        upload_id = f"up{len(self.created) + 1}"
        key = f"acme/uploads/2024/05/01/{upload_id}.csv"
        checksum = base64.b64encode(bytes.fromhex(body["sha256"])).decode()
        headers = {
            "content-type": "text/csv",
            "x-amz-checksum-sha256": checksum,
            "x-amz-meta-sha256": body["sha256"],
        }
        url = self.urls.pop(0) if self.urls else self._presign(key, body["sha256"], checksum)
        ticket = {"upload_id": upload_id, "key": key, "url": url, "headers": headers}
        self.created.append(dict(ticket, filename=body["filename"], size=body["size"]))
        return _reply(201, dict(ticket, expires_at="2024-05-01T10:05:00Z"))

    def _presign(self, key: str, sha256: str, checksum: str) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": "text/csv",
            "ChecksumSHA256": checksum,
            "Metadata": {"sha256": sha256},
        }
        return self.s3.generate_presigned_url("put_object", Params=params, ExpiresIn=300)


class FakeS3(BaseHTTPRequestHandler):
    """Answers each PUT with the next scripted (status, body); the last one repeats."""

    answers: list[tuple[int, bytes]]
    received: list[tuple[list[tuple[str, str]], bytes]]
    read_body = True

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])) if self.read_body else b""
        self.received.append((list(self.headers.items()), body))
        status, answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def s3_error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()


EXPIRED = (403, s3_error("AccessDenied", "Request has expired"))


@pytest.fixture
def fake_s3() -> Iterator[Any]:
    """Start a scripted S3 endpoint: fake_s3(*answers, read_body=True) -> (url, handler)."""
    servers: list[ThreadingHTTPServer] = []

    def start(*answers: tuple[int, bytes], read_body: bool = True) -> tuple[str, type[FakeS3]]:
        handler = type("Scripted", (FakeS3,), {"answers": list(answers), "received": []})
        handler.read_body = read_body
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        port = server.server_address[1]
        return f"http://127.0.0.1:{port}/bucket/acme/uploads/x.csv?X-Amz-Signature=abc", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server, endpoint = spawn(free_port())
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    config = Config(signature_version="s3v4")
    return boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint, config=config)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"uploads-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def api(s3: Any, bucket: str) -> Iterator[tuple[FakeApi, str]]:
    fake = FakeApi(s3, bucket)
    with ApiServer(fake) as server:
        yield fake, server.url


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(api: tuple[FakeApi, str], sleeps: list[float]) -> ApiClient:
    return ApiClient(api[1], TOKEN, sleep=sleeps.append)


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    return write_big_csv(tmp_path)


def test_an_upload_arrives_byte_identical_with_its_metadata(
    client: ApiClient, api: tuple[FakeApi, str], s3: Any, bucket: str, csv_file: Path
) -> None:
    progress: list[int] = []
    result = upload(client, str(csv_file), on_progress=progress.append)
    data = csv_file.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    assert result == {
        "upload_id": "up1",
        "key": "acme/uploads/2024/05/01/up1.csv",
        "filename": "visits 2024.csv",
        "size": len(data),
        "sha256": sha256,
    }
    stored = s3.get_object(Bucket=bucket, Key=result["key"])
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "text/csv"
    assert stored["Metadata"] == {"sha256": sha256}
    assert api[0].created[0]["filename"] == "visits 2024.csv"
    assert progress[0] == 0 and progress[-1] == len(data) and progress == sorted(progress)
    assert len(progress) > 3


def test_the_presigned_url_signs_the_headers_the_client_sends(client: ApiClient) -> None:
    ticket = client.create_upload("a.csv", 10, "00" * 32)
    signed = parse_qs(urlsplit(ticket["url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert set(signed) == {"host", *ticket["headers"]}


def test_put_sends_exactly_the_given_headers(fake_s3: Any, csv_file: Path) -> None:
    url, handler = fake_s3((200, b""))
    given = {"content-type": "text/csv", "x-amz-checksum-sha256": "abc=", "x-amz-meta-a": "1"}
    size = csv_file.stat().st_size
    put_file(url, given, str(csv_file), size)
    [(headers, body)] = handler.received
    port = urlsplit(url).port
    assert sorted(headers) == sorted(
        [*given.items(), ("Host", f"127.0.0.1:{port}"), ("Content-Length", str(size))]
    )
    assert body == csv_file.read_bytes()


def test_a_refused_token_is_an_exit_2_error_that_never_shows_it(api: tuple[FakeApi, str]) -> None:
    wrong = "ingest.acme.this-is-the-wrong-token-000000000000000000000"
    with pytest.raises(AuthError) as raised:
        ApiClient(api[1], wrong).create_upload("a.csv", 10, "00" * 32)
    assert exit_code_for(raised.value) == EXIT_USAGE
    assert wrong not in str(raised.value)
    assert "check INGEST_TOKEN" in str(raised.value)


def test_a_missing_token_is_refused_before_any_request(api: tuple[FakeApi, str]) -> None:
    with pytest.raises(AuthError, match="INGEST_TOKEN"):
        ApiClient(api[1], "  \n")
    assert api[0].requests == []


def test_transient_failures_are_retried_with_growing_pauses(
    client: ApiClient, api: tuple[FakeApi, str], sleeps: list[float]
) -> None:
    api[0].failures = 3
    assert client.create_upload("a.csv", 10, "00" * 32)["upload_id"] == "up1"
    assert len(api[0].requests) == 4
    assert len(sleeps) == 3  # each pause is half to all of 0.5 s, 1 s, 2 s: jitter
    assert all(low <= pause <= low * 2 for low, pause in zip([0.25, 0.5, 1.0], sleeps, strict=True))


def test_failures_past_the_retries_say_the_api_cannot_be_reached(
    client: ApiClient, api: tuple[FakeApi, str]
) -> None:
    api[0].failures = 10
    with pytest.raises(ApiUnavailable, match=r"cannot be reached \(HTTP 500: internal error\)"):
        client.recent_uploads(5)
    assert len(api[0].requests) == 4


def test_a_closed_port_is_a_clear_error(sleeps: list[float]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client = ApiClient(url, TOKEN, sleep=sleeps.append, url_source="INGEST_API_URL")
    with pytest.raises(ApiUnavailable) as raised:
        client.upload_status("up1")
    message = str(raised.value)
    assert f"the ingest API at 127.0.0.1:{port} cannot be reached (Connection refused)" in message
    assert "INGEST_API_URL" in message and TOKEN not in message
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, UsageError, "the API refused the request: bad size"),
        (413, UsageError, "the API refused the request: too big"),
        (403, AuthError, "the upload token is not allowed to do this: revoked"),
        (409, IngestError, r"the API refused the request \(HTTP 409\): conflict"),
    ],
)
def test_refusals_become_named_errors(
    status: int, error: type[Exception], message: str, sleeps: list[float]
) -> None:
    said = message.rsplit(": ", 1)[1]
    with ApiServer(lambda event, context: _error(status, "code", said)) as server:
        client = ApiClient(server.url, TOKEN, sleep=sleeps.append)
        with pytest.raises(error, match=message):
            client.create_upload("a.csv", 1, "00" * 32)
    assert sleeps == []


def test_a_server_message_never_repeats_the_token(sleeps: list[float]) -> None:
    def careless(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return _error(400, "bad", f"cannot use {event['headers']['authorization']}")

    with ApiServer(careless) as server, pytest.raises(UsageError) as raised:
        ApiClient(server.url, TOKEN, sleep=sleeps.append).recent_uploads(1)
    assert str(raised.value) == "the API refused the request: cannot use Bearer ***"


def test_an_unknown_upload_is_not_found(client: ApiClient) -> None:
    with pytest.raises(NotFound, match="no upload nope for this token: see `ingest uploads`"):
        client.upload_status("nope")


def test_recent_uploads_asks_for_the_limit(
    client: ApiClient, api: tuple[FakeApi, str], csv_file: Path
) -> None:
    for _ in range(3):
        client.create_upload("a.csv", 10, "00" * 32)
    uploads = client.recent_uploads(2)
    assert [u["upload_id"] for u in uploads] == ["up1", "up2"]
    assert api[0].requests[-1] == ("GET", "/uploads?limit=2")


def test_a_redirect_is_not_followed_with_the_token() -> None:
    elsewhere: list[dict[str, Any]] = []

    def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
        elsewhere.append(event)
        return _reply(200, {"uploads": []})

    with ApiServer(record) as other:
        moved = {"statusCode": 302, "headers": {"location": f"{other.url}/uploads"}}
        with (
            ApiServer(lambda event, context: moved) as server,
            pytest.raises(IngestError, match="does not look like the ingest API"),
        ):
            ApiClient(server.url, TOKEN).recent_uploads(1)
    assert elsewhere == []


@pytest.mark.parametrize("read_body", [True, False], ids=["after-body", "before-body"])
def test_an_expired_url_is_replaced_by_a_fresh_one(
    client: ApiClient,
    api: tuple[FakeApi, str],
    s3: Any,
    bucket: str,
    csv_file: Path,
    fake_s3: Any,
    read_body: bool,
) -> None:
    expired_url, handler = fake_s3(EXPIRED, read_body=read_body)
    api[0].urls = [expired_url]
    result = upload(client, str(csv_file), sleep=lambda _: None)
    assert result["upload_id"] == "up2"
    assert len(handler.received) == 1  # an expired URL is not retried
    stored = s3.get_object(Bucket=bucket, Key=result["key"])["Body"].read()
    assert stored == csv_file.read_bytes()


def test_a_url_that_keeps_expiring_gives_up(
    client: ApiClient, api: tuple[FakeApi, str], csv_file: Path, fake_s3: Any
) -> None:
    expired_url, _ = fake_s3(EXPIRED)
    api[0].urls = [expired_url] * 3
    with pytest.raises(UrlExpired, match="expired before the file was sent, 3 times"):
        upload(client, str(csv_file), sleep=lambda _: None)
    assert len(api[0].created) == 3


def test_s3_throttling_and_timeouts_are_retried(fake_s3: Any, csv_file: Path) -> None:
    slow_down = (503, s3_error("SlowDown", "Please reduce your request rate."))
    timed_out = (400, s3_error("RequestTimeout", "Your socket connection was not read from"))
    url, handler = fake_s3(slow_down, timed_out, (200, b""))
    pauses: list[float] = []
    put_file(url, {}, str(csv_file), csv_file.stat().st_size, sleep=pauses.append)
    assert len(handler.received) == 3
    assert all(body == csv_file.read_bytes() for _, body in handler.received)
    assert len(pauses) == 2


def test_s3_refusals_name_the_code_and_never_the_file(fake_s3: Any, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"medical_record_number,date_time\r\nPHI-123,2024-05-01T10:00:00Z\r\n")
    url, handler = fake_s3((400, s3_error("InvalidArgument", "PHI-123 &amp; more")))
    with pytest.raises(PutFailed) as raised:
        put_file(url, {}, str(path), path.stat().st_size, sleep=lambda _: None)
    assert raised.value.code == "InvalidArgument"
    assert str(raised.value) == "S3 refused the file (InvalidArgument): PHI-123 & more"
    assert len(handler.received) == 1


def test_a_file_larger_than_the_api_allows_is_refused(
    client: ApiClient, tmp_path: Path, s3: Any, bucket: str
) -> None:
    path = tmp_path / "big.csv"
    with path.open("wb") as out:
        out.truncate((10 << 20) + 1)
    with pytest.raises(UsageError, match="files over 10485760 bytes"):
        upload(client, str(path))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_standard_input_cannot_be_uploaded(client: ApiClient) -> None:
    with pytest.raises(UsageError, match="not -"):
        upload(client, "-")


def test_an_operator_url_gets_the_file_with_its_content_type(
    s3: Any, bucket: str, csv_file: Path
) -> None:
    params = {"Bucket": bucket, "Key": "acme/uploads/given.csv", "ContentType": "text/csv"}
    url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=300)
    result = upload_with_url(url, str(csv_file))
    assert result["size"] == csv_file.stat().st_size
    assert result["object"].endswith(f"/{bucket}/acme/uploads/given.csv")
    assert "Signature" not in result["object"]
    stored = s3.get_object(Bucket=bucket, Key="acme/uploads/given.csv")
    assert stored["ContentType"] == "text/csv"
    assert stored["Body"].read() == csv_file.read_bytes()


def test_an_expired_operator_url_says_to_ask_for_a_new_one(fake_s3: Any, csv_file: Path) -> None:
    url, _ = fake_s3(EXPIRED)
    with pytest.raises(UrlExpired, match="ask your operator for a new one"):
        upload_with_url(url, str(csv_file))


def test_waiting_polls_until_the_report_is_there(
    client: ApiClient, api: tuple[FakeApi, str]
) -> None:
    client.create_upload("a.csv", 10, "00" * 32)
    pending = {"upload_id": "up1", "status": "pending"}
    api[0].statuses = [pending, pending, dict(pending, status="processing"), REPORT]
    time = FakeTime()
    assert wait_for_report(client, "up1", sleep=time.sleep, clock=time.clock) == REPORT
    assert time.sleeps == [0.5, 1.0, 2.0]


def test_waiting_gives_up_at_the_timeout_and_says_how_to_check_later(
    client: ApiClient, api: tuple[FakeApi, str]
) -> None:
    client.create_upload("a.csv", 10, "00" * 32)
    api[0].statuses = [{"upload_id": "up1", "status": "processing"}]
    time = FakeTime()
    with pytest.raises(WaitTimeout) as raised:
        wait_for_report(client, "up1", timeout=12, sleep=time.sleep, clock=time.clock)
    assert time.sleeps == [0.5, 1.0, 2.0, 4.0, 4.5]
    assert len(api[0].requests) == 1 + 6  # the create, then a poll before each pause and one after
    assert str(raised.value) == (
        "upload up1 is still processing after 12 s; it carries on without us: "
        "check it later with `ingest uploads`"
    )
