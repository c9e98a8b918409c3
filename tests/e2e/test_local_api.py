"""The local API server over real HTTP on loopback: requests in as payload-2.0 events,
handler results out as HTTP responses, and what it refuses (big bodies, other interfaces)."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import urllib.error
import urllib.request
from typing import Any

import pytest

from ingestcli.errors import UsageError
from ingestcli.local.api_server import ApiServer
from ingestcli.local.moto_server import free_port
from support.http import send

TOKEN = "ingest.acme.secret-token-value"


class Recorder:
    """A handler that keeps what it was called with and answers `answer`."""

    def __init__(self, answer: Any = None) -> None:
        self.calls: list[tuple[dict[str, Any], Any]] = []
        self.answer = answer if answer is not None else {"statusCode": 204}

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.calls.append((event, context))
        return self.answer


def test_a_request_becomes_a_payload_2_event() -> None:
    handler = Recorder()
    with ApiServer(handler) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, _, _ = send(
            f"{server.url}/uploads/a%20b?limit=5&tag=x&tag=y&empty=",
            "POST",
            b'{"filename": "r\xc3\xa9sum\xc3\xa9.csv"}',
            Authorization=f"Bearer {TOKEN}",
            X_Custom="One",
        )
    assert status == 204
    [(event, context)] = handler.calls
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/uploads/a%20b"
    assert event["rawQueryString"] == "limit=5&tag=x&tag=y&empty="
    assert event["queryStringParameters"] == {"limit": "5", "tag": "x,y", "empty": ""}
    assert event["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert event["headers"]["x_custom"] == "One"
    assert all(name == name.lower() for name in event["headers"])
    assert event["body"] == '{"filename": "résumé.csv"}'
    assert event["isBase64Encoded"] is False
    http_context = event["requestContext"]["http"]
    assert http_context["method"] == "POST"
    assert http_context["path"] == "/uploads/a%20b"
    assert http_context["sourceIp"] == "127.0.0.1"
    assert http_context["userAgent"].startswith("Python-urllib")
    assert event["requestContext"]["requestId"]
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    assert context.aws_request_id


def test_a_request_without_body_or_query_has_neither() -> None:
    handler = Recorder()
    with ApiServer(handler) as server:
        send(f"{server.url}/uploads")
    [(event, _)] = handler.calls
    assert "body" not in event
    assert "queryStringParameters" not in event
    assert event["rawQueryString"] == ""


def test_a_body_that_is_not_utf8_arrives_base64_encoded() -> None:
    handler = Recorder()
    raw = b"\xff\xfe\x00binary"
    with ApiServer(handler) as server:
        send(f"{server.url}/x", "PUT", raw)
    [(event, _)] = handler.calls
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_the_handler_result_becomes_the_response() -> None:
    answer = {
        "statusCode": 201,
        "headers": {"x-upload": "01ABC", "content-type": "text/plain"},
        "cookies": ["a=1"],
        "body": base64.b64encode(b"\x00\x01done").decode(),
        "isBase64Encoded": True,
    }
    with ApiServer(Recorder(answer)) as server:
        status, headers, body = send(f"{server.url}/")
    assert status == 201
    assert headers["x-upload"] == "01ABC"
    assert headers["content-type"] == "text/plain"
    assert headers["set-cookie"] == "a=1"
    assert body == b"\x00\x01done"


def test_a_result_without_status_code_is_sent_as_json() -> None:
    with ApiServer(Recorder({"uploads": []})) as server:
        status, headers, body = send(f"{server.url}/uploads")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"uploads": []}


def test_a_body_over_the_cap_is_refused_before_the_handler() -> None:
    handler = Recorder()
    with ApiServer(handler, max_body=1024) as server:
        status, headers, body = send(f"{server.url}/uploads", "POST", b"x" * 1025)
        assert send(f"{server.url}/uploads", "POST", b"x" * 1024)[0] == 204
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert len(handler.calls) == 1


def test_a_failing_handler_is_a_500_without_its_details(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("secret detail from deep inside")

    with ApiServer(broken) as server:
        status, _, body = send(f"{server.url}/uploads")
        assert send(f"{server.url}/uploads")[0] == 500  # the server keeps serving
    assert status == 500
    assert json.loads(body) == {
        "error": {"code": "internal_error", "message": "internal error: see the API's log"}
    }
    assert b"secret detail" not in body and b"Traceback" not in body
    assert "secret detail" in caplog.text  # for the operator, in the server's log


@pytest.mark.parametrize("answer", [{"statusCode": 700}, {"statusCode": 200, "body": {"a": 1}}])
def test_a_malformed_handler_result_is_a_500(answer: dict[str, Any]) -> None:
    with ApiServer(Recorder(answer)) as server:
        status, _, body = send(f"{server.url}/")
    assert status == 500
    assert json.loads(body)["error"]["code"] == "internal_error"


def test_a_connection_is_kept_alive_between_requests() -> None:
    handler = Recorder({"statusCode": 200, "body": "ok"})
    with ApiServer(handler) as server:
        connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=10)
        for _ in range(2):
            connection.request("GET", "/a")
            response = connection.getresponse()
            assert response.read() == b"ok"
        connection.close()
    assert len(handler.calls) == 2


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_only_loopback_can_be_bound(host: str) -> None:
    with pytest.raises(UsageError, match="loopback"):
        ApiServer(Recorder(), host=host)


def test_localhost_binds_to_127_0_0_1_on_the_port_asked() -> None:
    port = free_port()
    with ApiServer(Recorder(), host="localhost", port=port) as server:
        assert server.url == f"http://127.0.0.1:{port}"


def test_a_stopped_server_no_longer_answers() -> None:
    server = ApiServer(Recorder())
    url = server.start()
    assert send(f"{url}/")[0] == 204
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/", timeout=5)


def test_logs_name_method_path_and_status_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ingestcli.local.api_server")
    with ApiServer(Recorder()) as server:
        send(
            f"{server.url}/uploads?mrn=PATIENT-42",
            "POST",
            b'{"filename": "PATIENT-42.csv"}',
            Authorization=f"Bearer {TOKEN}",
        )
    assert "POST /uploads 204" in caplog.text
    assert TOKEN not in caplog.text
    assert "PATIENT-42" not in caplog.text
