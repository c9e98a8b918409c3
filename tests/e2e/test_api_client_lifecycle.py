"""The provider's API client over real HTTP on loopback, against the real API handler (served
by local.api_server.ApiServer, its AWS calls on moto in-process): the provider's settings,
abandoning an upload, messages that name where the API URL came from, and the one DEBUG
line per request that `ingest --debug` shows."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from ingestcli.errors import IngestError, NotFound, UsageError
from ingestcli.local.api_server import ApiServer
from ingestcli.local.moto_server import free_port
from ingestcli.services.api_client import ApiClient, ApiUnavailable, UploadNotPending
from support.api_calls import CSV, api_stack


@pytest.fixture
def served(clients: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """The API of two providers (alpha; bravo in Europe/Paris) at a loopback URL."""
    stack = api_stack(clients)
    with ApiServer(stack["api"].handler) as server:
        yield stack, server.url


def client_of(served: tuple[dict[str, Any], str], who: str = "alpha", **options: Any):
    stack, url = served
    return ApiClient(url, stack[who], sleep=lambda _: None, **options)


def test_the_provider_settings_name_the_provider_and_its_zone(served) -> None:
    assert client_of(served).provider_settings() == {"provider": "alpha", "timezone": None}
    assert client_of(served, "bravo").provider_settings() == {
        "provider": "bravo",
        "timezone": "Europe/Paris",
    }


def test_an_upload_whose_file_never_left_is_abandoned(served) -> None:
    client = client_of(served)
    upload_id = client.create_upload("visits.csv", len(CSV), "ab" * 32)["upload_id"]
    summary = client.abandon_upload(upload_id)
    assert summary["upload_id"] == upload_id and summary["status"] == "abandoned"
    assert summary == client.recent_uploads(1)[0]
    assert client.upload_status(upload_id) == {
        "upload_id": upload_id,
        "status": "abandoned",
        "progress": None,
    }


def test_abandoning_is_refused_once_the_file_arrived_and_unknown_elsewhere(served) -> None:
    stack, _ = served
    client = client_of(served)
    upload_id = client.create_upload("visits.csv", len(CSV), "ab" * 32)["upload_id"]
    assert stack["ledger"].acquire("alpha", upload_id, "run-1", now_ms=1, until_ms=2)
    with pytest.raises(UploadNotPending) as raised:
        client.abandon_upload(upload_id)
    assert str(raised.value) == (
        f"the file of upload {upload_id} has arrived, so it is ingested as usual"
    )
    assert isinstance(raised.value, IngestError)
    with pytest.raises(NotFound, match=f"no upload {upload_id} for this token"):
        client_of(served, "bravo").abandon_upload(upload_id)
    with pytest.raises(UsageError, match="give an upload id"):
        client.abandon_upload("")


@pytest.mark.parametrize("source", ["INGEST_API_URL", "--api-url", "api_url in profile acme"])
def test_messages_name_where_the_api_url_came_from(source: str, served) -> None:
    port = free_port()
    closed = ApiClient(
        f"http://127.0.0.1:{port}", "t" * 40, sleep=lambda _: None, url_source=source
    )
    with pytest.raises(ApiUnavailable) as raised:
        closed.provider_settings()
    assert str(raised.value) == (
        f"the ingest API at 127.0.0.1:{port} cannot be reached (Connection refused) after "
        f"4 attempts: check {source} and the network, then try again"
    )
    with pytest.raises(UsageError) as refused:
        ApiClient("ftp://example.com", "t" * 40, url_source=source)
    assert str(refused.value) == f"{source} is not an https:// URL"
    with (
        ApiServer(lambda event, context: {"statusCode": 200, "body": "[]"}) as other,
        pytest.raises(IngestError) as odd,
    ):
        ApiClient(other.url, "t" * 40, url_source=source).provider_settings()
    assert str(odd.value).endswith(f"(it did not answer with a JSON object): check {source}")


def test_the_default_source_is_the_api_url() -> None:
    with pytest.raises(UsageError) as raised:
        ApiClient("http://example.com", "t" * 40)
    assert str(raised.value) == (
        "the API URL must start with https:// (http is for 127.0.0.1 only)"
    )


def test_debug_logs_one_line_per_request_without_secrets(served, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="ingestcli.api_client")
    stack, _ = served
    client = client_of(served)
    secret_name = "Jane Doe MRN 12345.csv"
    ticket = client.create_upload(secret_name, len(CSV), "ab" * 32)
    client.recent_uploads(7)
    client.abandon_upload(ticket["upload_id"])
    with pytest.raises(NotFound):
        client.upload_status("20260101T000000000Z-abcdefghij")
    records = [r for r in caplog.records if r.name == "ingestcli.api_client"]
    assert {r.levelno for r in records} == {logging.DEBUG}
    lines = [r.getMessage() for r in records]
    shapes = [re.sub(r"in \d+ ms$", "in N ms", line) for line in lines]
    upload_id = ticket["upload_id"]
    assert shapes == [
        "POST /uploads -> 201 in N ms",
        "GET /uploads -> 200 in N ms",  # the query (limit=7) is left out
        f"POST /uploads/{upload_id}/abandon -> 200 in N ms",
        "GET /uploads/20260101T000000000Z-abcdefghij -> 404 in N ms",
    ]
    text = "\n".join(lines)
    for secret in (stack["alpha"], stack["alpha"].split(".")[-1], "Jane", "12345", "limit"):
        assert secret not in text
    assert ticket["url"] not in text and "X-Amz" not in text


def test_debug_logs_each_attempt_of_a_retried_request(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="ingestcli.api_client")
    answers = [503, 200]

    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        status = answers.pop(0)
        return {"statusCode": status, "body": '{"provider": "acme", "timezone": null}'}

    with ApiServer(flaky) as server:
        client = ApiClient(server.url, "t" * 40, sleep=lambda _: None)
        assert client.provider_settings() == {"provider": "acme", "timezone": None}
    lines = [
        re.sub(r"\d+ ms$", "N ms", r.getMessage())
        for r in caplog.records
        if r.name == "ingestcli.api_client"
    ]
    assert lines == ["GET /provider -> 503 in N ms", "GET /provider -> 200 in N ms"]
