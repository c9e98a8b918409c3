"""The provider API (lambdas/api.py) in-process on moto: function-URL events in, responses out.

Two providers, alpha and bravo, share one stack. What is checked is what a provider or an
attacker holding one provider's token can do: which keys a URL can name, whose uploads and
reports a token can read, what the presigned URL binds (recomputed by hand with SigV4), and
what reaches the logs. Sending the PUT over HTTP is left to the local-stack tests.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import boto3
import pytest

from ingestcli.core.layout import parse_upload_key
from ingestcli.core.ledger import safe_filename
from ingestcli.core.multipart import MAX_PUT_BYTES
from ingestcli.lambdas.api import handler as api_handler
from ingestcli.lambdas.api.routes import Api
from support.api_calls import (
    CSV,
    SETTINGS,
    SIGNER,
    altered,
    api_stack,
    call,
    declare,
    event,
)
from support.names import BUCKET, PROVIDERS, REGION, UPLOADS

UPLOAD_ID_SHAPE = re.compile(r"\d{8}T\d{9}Z-[a-z2-7]{10}")


@pytest.fixture
def stack(clients) -> dict[str, Any]:
    return api_stack(clients)


def create(stack: dict[str, Any], who: str = "alpha", **declared: Any) -> dict[str, Any]:
    status, body, _ = call(stack["api"], "POST", "/uploads", stack[who], body=declare(**declared))
    assert status == 201, body
    return body


# --------------------------------------------------------------------------- presigning


def test_post_uploads_registers_the_upload_and_returns_a_url_for_its_key(stack) -> None:
    answer = create(stack)
    assert set(answer) == {"upload_id", "key", "url", "headers", "expires_at"}
    upload_id, key = answer["upload_id"], answer["key"]
    assert UPLOAD_ID_SHAPE.fullmatch(upload_id)
    ref = parse_upload_key(BUCKET, key)
    assert ref is not None and (ref.provider, ref.upload_id) == ("alpha", upload_id)
    assert key == f"alpha/uploads/{upload_id[:4]}/{upload_id[4:6]}/{upload_id[6:8]}/{upload_id}.csv"
    url = urlsplit(answer["url"])
    assert (url.netloc, url.path) == (f"{BUCKET}.s3.amazonaws.com", f"/{key}")
    item = stack["ledger"].get("alpha", upload_id)
    assert item["status"] == "pending" and item["key"] == key
    assert (item["size"], item["sha256"]) == (len(CSV), hashlib.sha256(CSV).hexdigest())
    assert item["filename"] == "visits.csv"
    assert item["expires_at"] == answer["expires_at"] > item["created_at"]
    assert create(stack)["upload_id"] != upload_id


def test_the_url_signs_content_type_checksum_tag_and_metadata_as_headers(stack) -> None:
    answer = create(stack)
    query = dict(parse_qsl(urlsplit(answer["url"]).query))
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "300"
    assert "X-Amz-Security-Token" in query  # signed by the assumed signer role
    signed = query["X-Amz-SignedHeaders"].split(";")
    assert {"host", "content-type", "x-amz-checksum-sha256", "x-amz-tagging"} <= set(signed)
    assert "if-none-match" in signed  # one PUT per URL: S3 refuses a second with 412
    assert not any(name.lower().startswith("x-amz-checksum") for name in query)
    digest = hashlib.sha256(CSV).digest()
    assert answer["headers"] == {
        "content-type": "text/csv",
        "x-amz-checksum-sha256": base64.b64encode(digest).decode(),
        "x-amz-tagging": "ingest-kind=upload",  # what the raw-upload lifecycle rule matches
        "x-amz-meta-sha256": digest.hex(),
        "x-amz-meta-filename": "visits.csv",
        "if-none-match": "*",
    }
    assert set(answer["headers"]) == set(signed) - {"host"}


def sigv4(secret: str, method: str, url: str, headers: dict[str, str]) -> str:
    """The SigV4 query-string signature of a request, per the spec, for S3 (unsigned payload)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    canonical_query = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in sorted(query)
        if name != "X-Amz-Signature"
    )
    signed = params["X-Amz-SignedHeaders"].split(";")
    sent = {"host": parts.netloc} | {name.lower(): value for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{' '.join(sent[name].split())}\n" for name in signed)
    signed_names = ";".join(signed)
    canonical_request = "\n".join(
        [method, parts.path, canonical_query, canonical_headers, signed_names, "UNSIGNED-PAYLOAD"]
    )
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_the_signature_binds_one_key_one_method_one_type_and_one_checksum(stack) -> None:
    answer = create(stack)
    [(_, credentials)] = stack["sts"].calls
    secret, url, headers = credentials["SecretAccessKey"], answer["url"], answer["headers"]
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["X-Amz-Credential"].startswith(credentials["AccessKeyId"] + "/")
    assert sigv4(secret, "PUT", url, headers) == query["X-Amz-Signature"]

    parts = urlsplit(url)
    other_key = urlunsplit(parts._replace(path=parts.path.replace("alpha/", "bravo/")))
    other_sum = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    variants = [
        ("PUT", other_key, headers),
        ("GET", url, headers),
        ("POST", url, headers),
        ("PUT", url, headers | {"x-amz-checksum-sha256": other_sum}),
        ("PUT", url, headers | {"content-type": "application/octet-stream"}),
        ("PUT", url, headers | {"x-amz-tagging": "ingest-kind=kept"}),
    ]
    for variant in variants:
        assert sigv4(secret, *variant) != query["X-Amz-Signature"], variant[:2]


def test_the_signer_session_may_put_only_that_one_key(stack) -> None:
    answer = create(stack, who="bravo")
    [(request, _)] = stack["sts"].calls
    assert request["RoleArn"] == SIGNER
    assert request["RoleSessionName"] == "bravo"
    assert request["DurationSeconds"] == 900
    policy = json.loads(request["Policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["s3:PutObject", "s3:PutObjectTagging"]
    assert statement["Resource"] == f"arn:aws:s3:::{BUCKET}/{answer['key']}"
    assert answer["key"].startswith("bravo/uploads/")
    assert set(statement) == {"Sid", "Effect", "Action", "Resource"}


FILENAMES = [
    ("../../bravo/x.csv", "x.csv"),
    ("..\\..\\bravo\\x.csv", "x.csv"),
    ("evil\r\nx-amz-acl: public-read\x00.csv", "evil__x-amz-acl_ public-read_.csv"),
    ("résumé 2024.csv", "r_sum_ 2024.csv"),
    ("..", "upload.csv"),
    ("", "upload.csv"),
    ("a" * 500 + ".csv", "a" * 200),
]


def test_a_file_name_is_metadata_only_and_cannot_leave_the_prefix(stack) -> None:
    for filename, kept in FILENAMES:
        assert safe_filename(filename) == kept
        answer = create(stack, filename=filename)
        assert answer["key"].startswith("alpha/uploads/")
        assert parse_upload_key(BUCKET, answer["key"]).provider == "alpha"
        assert answer["headers"]["x-amz-meta-filename"] == kept
        assert stack["ledger"].get("alpha", answer["upload_id"])["filename"] == kept


BAD_REQUESTS = [
    (declare(size=MAX_PUT_BYTES + 1), 413, "file_too_large"),
    (declare(size=0), 400, "invalid_size"),
    (declare(size=-5), 400, "invalid_size"),
    (declare(size="60"), 400, "invalid_size"),
    (declare(size=60.0), 400, "invalid_size"),
    (declare(size=True), 400, "invalid_size"),
    (declare(sha256="ab" * 31), 400, "invalid_sha256"),
    (declare(sha256="zz" * 32), 400, "invalid_sha256"),
    (declare(sha256=None), 400, "invalid_sha256"),
    (declare(filename=7), 400, "invalid_filename"),
    ({"size": 60, "sha256": "ab" * 32}, 400, "invalid_filename"),
    ("{not json", 400, "invalid_json"),
    ("[1, 2]", 400, "invalid_json"),
    ("", 400, "invalid_json"),
    (json.dumps(declare(filename="x" * 20_000)), 413, "body_too_large"),
]


def test_bad_upload_requests_are_refused_and_nothing_is_registered(stack) -> None:
    for body, status, code in BAD_REQUESTS:
        answer = call(stack["api"], "POST", "/uploads", stack["alpha"], body=body)
        assert (answer[0], set(answer[1]), answer[1]["error"]["code"]) == (status, {"error"}, code)
        assert set(answer[1]["error"]) == {"code", "message"}
    assert stack["ledger"].recent("alpha", 10) == []
    assert stack["sts"].calls == []


def test_a_base64_body_is_decoded(stack) -> None:
    encoded = base64.b64encode(json.dumps(declare()).encode()).decode()
    assert (
        call(stack["api"], "POST", "/uploads", stack["alpha"], body=encoded, base64=True)[0] == 201
    )
    bad = call(stack["api"], "POST", "/uploads", stack["alpha"], body="%%%", base64=True)
    assert bad[:2] == (
        400,
        {"error": {"code": "invalid_json", "message": bad[1]["error"]["message"]}},
    )


def test_an_uppercase_checksum_is_accepted_and_stored_in_lowercase(stack) -> None:
    digest = hashlib.sha256(CSV).hexdigest()
    answer = create(stack, sha256=digest.upper())
    assert answer["headers"]["x-amz-meta-sha256"] == digest


# --------------------------------------------------------------------------- tokens


def test_every_authentication_failure_is_the_same_401(stack) -> None:
    alpha, registry = stack["alpha"], stack["registry"]
    secret = alpha.split(".")[-1]
    cases = {
        "no header": {},
        "basic": {"authorization": f"Basic {alpha}"},
        "empty bearer": {"authorization": "Bearer "},
        "malformed": {"authorization": "Bearer ingest.alpha.short"},
        "secret of alpha, id of bravo": {"authorization": f"Bearer ingest.bravo.{secret}"},
        "unknown provider": {"authorization": f"Bearer ingest.zulu.{secret}"},
        "other secret": {"authorization": f"Bearer {altered(alpha)}"},
    }
    answers = []
    for headers in cases.values():
        for method, path in (("POST", "/uploads"), ("GET", "/uploads"), ("GET", "/uploads/x")):
            status, body, _ = call(stack["api"], method, path, headers=headers, body=declare())
            answers.append((status, json.dumps(body)))
    assert len(set(answers)) == 1
    assert answers[0][0] == 401
    assert json.loads(answers[0][1])["error"]["code"] == "unauthorized"
    lower_case = {"authorization": f"bearer  {alpha} "}
    assert call(stack["api"], "GET", "/uploads", headers=lower_case)[0] == 200
    assert registry.list_providers()[0].status == "active"
    assert stack["sts"].calls == []


def test_revoked_and_rotated_out_tokens_stop_at_once(stack) -> None:
    api, registry = stack["api"], stack["registry"]
    old = stack["alpha"]
    assert call(api, "GET", "/uploads", old)[0] == 200
    new = registry.rotate("alpha")
    assert call(api, "GET", "/uploads", old)[0] == 401
    assert call(api, "POST", "/uploads", old, body=declare())[0] == 401
    assert call(api, "GET", "/uploads", new)[0] == 200
    registry.revoke("alpha")
    assert call(api, "GET", "/uploads", new)[0] == 401
    assert call(api, "POST", "/uploads", new, body=declare())[0] == 401
    assert call(api, "GET", "/uploads", stack["bravo"])[0] == 200  # others carry on


def test_the_token_is_compared_in_constant_time(stack, monkeypatch: pytest.MonkeyPatch) -> None:
    compared = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert call(stack["api"], "GET", "/uploads", stack["alpha"])[0] == 200
    assert call(stack["api"], "GET", "/uploads", altered(stack["alpha"]))[0] == 401
    assert len(compared) == 2


# --------------------------------------------------------------------------- isolation


def test_a_token_only_reads_its_own_uploads_and_reports(stack, clients) -> None:
    api, ledger = stack["api"], stack["ledger"]
    mine = create(stack, "alpha")
    theirs = create(stack, "bravo")
    assert mine["key"].startswith("alpha/uploads/")
    assert theirs["key"].startswith("bravo/uploads/")
    report = {"upload_id": theirs["upload_id"], "provider": "bravo", "status": "succeeded"}
    clients.s3.put_object(
        Bucket=BUCKET,
        Key=f"bravo/reports/{theirs['upload_id']}.json",
        Body=json.dumps(report).encode(),
    )
    # A report under alpha's prefix with bravo's id: still no upload of alpha's.
    clients.s3.put_object(
        Bucket=BUCKET, Key=f"alpha/reports/{theirs['upload_id']}.json", Body=b"{}"
    )
    status, body, _ = call(api, "GET", f"/uploads/{theirs['upload_id']}", stack["alpha"])
    assert (status, body["error"]["code"]) == (404, "upload_not_found")
    assert call(api, "GET", f"/uploads/{theirs['upload_id']}", stack["bravo"])[1] == report
    listed = call(api, "GET", "/uploads", stack["alpha"])[1]["uploads"]
    assert [upload["upload_id"] for upload in listed] == [mine["upload_id"]]
    assert ledger.get("alpha", theirs["upload_id"]) is None


def test_an_upload_id_that_cannot_be_one_is_refused(stack) -> None:
    for path in (
        "/uploads/..",
        "/uploads/%2e%2e",
        "/uploads/a%2Fb",
        "/uploads/-x",
        "/uploads/" + "a" * 65,
    ):
        status, body, _ = call(stack["api"], "GET", path, stack["alpha"])
        assert (status, body["error"]["code"]) == (400, "invalid_upload_id"), path


def test_status_is_pending_then_processing_then_the_report(stack, clients) -> None:
    api, ledger, alpha = stack["api"], stack["ledger"], stack["alpha"]
    upload_id = create(stack)["upload_id"]
    path = f"/uploads/{upload_id}"
    pending = {"upload_id": upload_id, "status": "pending", "progress": None}
    assert call(api, "GET", path, alpha)[:2] == (200, pending)
    assert ledger.acquire("alpha", upload_id, "run-1", now_ms=1, until_ms=2)
    assert call(api, "GET", path, alpha)[1] == pending | {"status": "processing"}
    report = {"upload_id": upload_id, "provider": "alpha", "status": "partial", "rows": 2}
    key = f"alpha/reports/{upload_id}.json"
    clients.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(report).encode())
    clients.s3.put_object(Bucket=BUCKET, Key=key + ".bak", Body=b"not the report")
    assert call(api, "GET", path + "/", alpha)[:2] == (200, report)


def test_list_shows_the_newest_uploads_with_their_counts(stack) -> None:
    api, ledger, alpha = stack["api"], stack["ledger"], stack["alpha"]
    made = [create(stack, filename=f"day{n}.csv")["upload_id"] for n in range(3)]
    ledger.finish(
        "alpha",
        made[0],
        None,
        {"status": "succeeded", "finished_at": "2026-01-01T00:00:00Z"}
        | {"rows": 3, "written": 2, "rejected": 0, "duplicates": 1},
    )
    everything = call(api, "GET", "/uploads", alpha)[1]["uploads"]
    assert [upload["upload_id"] for upload in everything] == made[::-1]
    oldest = everything[-1]
    assert oldest == {
        "upload_id": made[0],
        "key": oldest["key"],
        "filename": "day0.csv",
        "size": len(CSV),
        "status": "succeeded",
        "created_at": oldest["created_at"],
        "finished_at": "2026-01-01T00:00:00Z",
        "counts": {"rows": 3, "written": 2, "rejected": 0, "duplicates": 1},
        "extra_versions": 0,  # no later file reached its URL
    }
    assert everything[0]["counts"] is None and everything[0]["status"] == "pending"
    two = call(api, "GET", "/uploads", alpha, query="limit=2")[1]["uploads"]
    assert [upload["upload_id"] for upload in two] == made[:0:-1]
    for query in ("limit=0", "limit=101", "limit=x", "limit=", "limit=%C2%B2", "limit=-1"):
        status, body, _ = call(api, "GET", "/uploads", alpha, query=query)
        assert (status, body["error"]["code"]) == (400, "invalid_limit"), query


# --------------------------------------------------------------------------- errors and logs


def test_unknown_routes_and_methods(stack) -> None:
    api, alpha = stack["api"], stack["alpha"]
    assert call(api, "GET", "/", alpha)[:2] == (
        404,
        {"error": {"code": "not_found", "message": "no such route"}},
    )
    assert call(api, "GET", "/uploads/x/y", alpha)[0] == 404
    status, body, response = call(api, "DELETE", "/uploads", alpha)
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")
    assert response["headers"]["allow"] == "GET, POST"
    status, _, response = call(api, "PUT", "/uploads/20260101T000000000Z-abcdefghij", alpha)
    assert (status, response["headers"]["allow"]) == (405, "GET")
    assert call(api, "GET", "/nothing")[0] == 401  # nothing is told before the token


def test_an_unexpected_failure_is_a_generic_500(stack, clients, caplog) -> None:
    caplog.set_level(logging.INFO, logger="ingest.api")
    broken = Api(
        clients.s3,
        clients.dynamodb,
        stack["sts"],
        dataclasses.replace(SETTINGS, uploads_table="no-such-table"),
    )
    status, body, _ = call(broken, "POST", "/uploads", stack["alpha"], body=declare())
    assert (status, body) == (
        500,
        {"error": {"code": "internal_error", "message": "internal error"}},
    )
    [line] = [json.loads(record.getMessage()) for record in caplog.records]
    assert line["status"] == 500 and line["error_type"] == "ResourceNotFoundException"
    assert "no-such-table" not in caplog.text


def test_logs_hold_ids_routes_and_statuses_never_tokens_or_names(stack, clients, caplog) -> None:
    caplog.set_level(logging.INFO, logger="ingest.api")
    api, alpha = stack["api"], stack["alpha"]
    secret_name = "Jane Doe MRN 12345.csv"
    answer = create(stack, filename=secret_name)
    call(api, "GET", f"/uploads/{answer['upload_id']}", alpha)
    call(api, "GET", "/uploads", alpha, query="limit=5")
    call(api, "GET", "/uploads", altered(alpha))
    call(api, "POST", "/uploads", alpha, body="{not json at all")
    lines = [json.loads(record.getMessage()) for record in caplog.records]
    assert [line["status"] for line in lines] == [201, 200, 200, 401, 400]
    assert lines[0]["provider"] == "alpha" and lines[0]["upload_id"] == answer["upload_id"]
    assert lines[0]["route"] == "/uploads" and lines[1]["route"] == "/uploads/{upload_id}"
    text = caplog.text
    for secret in (alpha, alpha.split(".")[-1], "Jane", "12345", "not json", answer["url"]):
        assert secret not in text
    assert "sha256" not in text and hashlib.sha256(CSV).hexdigest() not in text
    for table in (PROVIDERS, UPLOADS):  # nor is a token kept at rest, anywhere
        assert alpha.split(".")[-1] not in json.dumps(clients.dynamodb.scan(TableName=table))


# --------------------------------------------------------------------------- Lambda entry point


def test_the_handler_builds_its_clients_from_the_environment(
    stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "PROVIDERS_TABLE": PROVIDERS,
        "UPLOADS_TABLE": UPLOADS,
        "UPLOADS_BUCKET": BUCKET,
        "SIGNER_ROLE_ARN": SIGNER,
        "URL_EXPIRY_SECONDS": "600",
    }.items():
        monkeypatch.setenv(name, value)
    api_handler.api.cache_clear()  # a fresh execution environment, before and after
    try:
        response = api_handler.handler(
            event("POST", "/uploads", stack["alpha"], body=declare()), None
        )
        listed = api_handler.handler(event("GET", "/uploads", stack["alpha"]), None)
    finally:
        api_handler.api.cache_clear()
    assert response["statusCode"] == 201
    answer = json.loads(response["body"])
    assert dict(parse_qsl(urlsplit(answer["url"]).query))["X-Amz-Expires"] == "600"
    assert listed["statusCode"] == 200


@pytest.mark.parametrize(
    ("region", "endpoint", "host"),
    [
        ("eu-west-1", None, f"{BUCKET}.s3.eu-west-1.amazonaws.com"),
        (REGION, "http://127.0.0.1:5000", "127.0.0.1:5000"),
        (REGION, "http://localhost:4566", "localhost:4566"),
    ],
)
def test_the_url_points_where_the_apis_own_s3_client_points(
    stack, clients, region, endpoint, host
) -> None:
    s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint)
    api = Api(s3, clients.dynamodb, stack["sts"], SETTINGS)
    url = urlsplit(create({**stack, "api": api})["url"])
    assert url.netloc == host
    assert url.path.endswith(".csv") and BUCKET in (url.netloc + url.path)
    assert f"/{region}/s3/aws4_request" in dict(parse_qsl(url.query))["X-Amz-Credential"]
