"""The API's multipart routes on moto: open an upload in parts, get a URL per part with its
checksum pinned, list what S3 holds, complete only a whole file, and show an upload S3 has
aborted (the bucket's AbortIncompleteMultipartUpload rule) as abandoned."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests

from ingestcli.core.multipart import MIN_PART_BYTES
from ingestcli.lambdas.api.signer import session_policy
from support.api_calls import api_stack, call, declare
from support.names import BUCKET

PART = MIN_PART_BYTES
BODY = b"medical_record_number,date_time\r\n" + b"A1,2024-03-01T14:30:00Z\r\n" * (
    (2 * PART + 1000) // 25
)


def part_bytes(number: int) -> bytes:
    return BODY[(number - 1) * PART : number * PART]


def part_sha(number: int) -> str:
    return hashlib.sha256(part_bytes(number)).hexdigest()


@pytest.fixture
def stack(clients) -> dict[str, Any]:
    return api_stack(clients)


def open_upload(stack: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    status, body, _ = call(
        stack["api"],
        "POST",
        "/uploads",
        token or stack["alpha"],
        body=declare(BODY, part_size=PART),
    )
    assert status == 201, body
    return body


def send_parts(stack: dict[str, Any], upload_id: str, numbers: list[int]) -> None:
    asked = {"parts": [{"part_number": n, "sha256": part_sha(n)} for n in numbers]}
    status, body, _ = call(
        stack["api"], "POST", f"/uploads/{upload_id}/parts", stack["alpha"], body=asked
    )
    assert status == 200, body
    for part in body["parts"]:
        sent = requests.put(
            part["url"], data=part_bytes(part["part_number"]), headers=part["headers"], timeout=10
        )
        assert sent.status_code == 200, sent.text


def test_a_file_sent_in_parts_becomes_one_object_at_the_key_the_server_chose(stack, clients):
    opened = open_upload(stack)
    assert opened["parts"] == 3 and opened["part_size"] == PART
    assert opened["key"].startswith("alpha/uploads/")
    send_parts(stack, opened["upload_id"], [1, 2, 3])
    status, body, _ = call(
        stack["api"], "POST", f"/uploads/{opened['upload_id']}/complete", stack["alpha"]
    )
    assert (status, body["status"]) == (200, "pending"), body
    head = clients.s3.head_object(Bucket=BUCKET, Key=opened["key"])
    assert head["ETag"].endswith('-3"')
    assert head["ContentType"] == "text/csv"
    assert head["Metadata"]["sha256"] == hashlib.sha256(BODY).hexdigest()
    tags = clients.s3.get_object_tagging(Bucket=BUCKET, Key=opened["key"])["TagSet"]
    assert tags == [{"Key": "ingest-kind", "Value": "upload"}]
    stored = clients.s3.get_object(Bucket=BUCKET, Key=opened["key"])["Body"].read()
    assert stored == BODY
    # A retry of the completion (its answer lost) is answered alike.
    again = call(stack["api"], "POST", f"/uploads/{opened['upload_id']}/complete", stack["alpha"])
    assert again[0] == 200


def test_part_urls_pin_each_parts_checksum_and_the_session_names_one_key(stack):
    opened = open_upload(stack)
    asked = {"parts": [{"part_number": 2, "sha256": part_sha(2)}]}
    status, body, _ = call(
        stack["api"], "POST", f"/uploads/{opened['upload_id']}/parts", stack["alpha"], body=asked
    )
    assert status == 200
    (part,) = body["parts"]
    assert "x-amz-checksum-sha256" in part["headers"]
    assert "partNumber=2" in part["url"]
    request, _ = stack["sts"].calls[-1]
    policy = json.loads(request["Policy"])
    assert policy == session_policy(request["RoleArn"], BUCKET, opened["key"], multipart=True)


def test_stored_parts_are_listed_and_completion_waits_for_every_one(stack):
    opened = open_upload(stack)
    upload_id = opened["upload_id"]
    send_parts(stack, upload_id, [1, 3])
    status, body, _ = call(stack["api"], "GET", f"/uploads/{upload_id}/parts", stack["alpha"])
    assert status == 200 and body["open"] is True and body["status"] == "pending"
    assert [(p["part_number"], p["size"]) for p in body["parts"]] == [
        (1, PART),
        (3, len(BODY) - 2 * PART),
    ]
    status, body, _ = call(stack["api"], "POST", f"/uploads/{upload_id}/complete", stack["alpha"])
    assert (status, body["error"]["code"]) == (409, "parts_missing")
    assert "1 of 3 parts" in body["error"]["message"]


def test_another_provider_cannot_see_or_complete_an_upload(stack):
    opened = open_upload(stack)
    for method, route in (("GET", "parts"), ("POST", "complete")):
        status, body, _ = call(
            stack["api"], method, f"/uploads/{opened['upload_id']}/{route}", stack["bravo"]
        )
        assert (status, body["error"]["code"]) == (404, "upload_not_found")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"part_size": PART - 1}, "invalid_part_size"),
        ({"part_size": "5MB"}, "invalid_part_size"),
        ({"part_size": True}, "invalid_part_size"),
        ({"size": 10_001 * PART, "part_size": PART}, "invalid_part_size"),
    ],
)
def test_a_plan_s3_would_refuse_is_refused_before_anything_opens(stack, changes, code):
    status, body, _ = call(
        stack["api"], "POST", "/uploads", stack["alpha"], body=declare(BODY) | changes
    )
    assert (status, body["error"]["code"]) == (400, code)


@pytest.mark.parametrize(
    "parts",
    [[], [{"part_number": 4, "sha256": "0" * 64}], [{"part_number": 1, "sha256": "xyz"}], "1", [1]],
)
def test_bad_part_requests_are_refused(stack, parts):
    opened = open_upload(stack)
    status, body, _ = call(
        stack["api"],
        "POST",
        f"/uploads/{opened['upload_id']}/parts",
        stack["alpha"],
        body={"parts": parts},
    )
    assert (status, body["error"]["code"]) == (400, "invalid_parts")


def test_an_upload_s3_aborted_shows_as_abandoned_and_takes_no_more_parts(stack, clients):
    opened = open_upload(stack)
    upload_id = opened["upload_id"]
    send_parts(stack, upload_id, [1])
    item = stack["ledger"].get("alpha", upload_id)
    clients.s3.abort_multipart_upload(
        Bucket=BUCKET, Key=opened["key"], UploadId=item["multipart_id"]
    )
    status, body, _ = call(stack["api"], "GET", f"/uploads/{upload_id}", stack["alpha"])
    assert body["status"] == "abandoned"
    status, body, _ = call(stack["api"], "GET", f"/uploads/{upload_id}/parts", stack["alpha"])
    assert (status, body["open"], body["status"], body["parts"]) == (200, False, "abandoned", [])
    status, body, _ = call(stack["api"], "POST", f"/uploads/{upload_id}/complete", stack["alpha"])
    assert (status, body["error"]["code"]) == (409, "upload_not_open")
    listed = call(stack["api"], "GET", "/uploads", stack["alpha"])[1]["uploads"]
    assert listed[0]["status"] == "abandoned"


def test_a_single_put_upload_has_no_parts(stack):
    status, ticket, _ = call(stack["api"], "POST", "/uploads", stack["alpha"], body=declare())
    status, body, _ = call(
        stack["api"], "GET", f"/uploads/{ticket['upload_id']}/parts", stack["alpha"]
    )
    assert (status, body["error"]["code"]) == (409, "not_multipart")
