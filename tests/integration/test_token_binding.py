"""An upload records which token issued its URL (a fingerprint of the token's SHA-256, never
the token); once that token is rotated out or revoked, a file sent to the URL is not ingested
and its report says why. An operator's URL (`ingest presign`) is bound to no token.

The API runs in-process on moto, as in test_api.py; the PUT is played by put_object with the
headers the URL signs; the ingest Lambda gets the object's S3 event.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from ingestcli.core.layout import report_key
from ingestcli.core.ledger import TOKEN_FINGERPRINT_CHARS, UploadLedger
from ingestcli.core.status import TOKEN_ROTATED
from ingestcli.core.tokens import token_hash
from ingestcli.lambdas.api.routes import Api
from ingestcli.services.presign import presign_upload
from ingestcli.services.providers import ProviderRegistry
from support.api_calls import CSV, SETTINGS, RecordingSts, call, declare
from support.harness import Harness, ingest_once, make_harness
from support.names import BUCKET, PROVIDERS, REGION, UPLOADS


@pytest.fixture
def env(clients) -> dict[str, Any]:
    harness = make_harness(clients)
    registry = ProviderRegistry(clients.dynamodb, PROVIDERS)
    return {
        "harness": harness,
        "registry": registry,
        "token": registry.add("alpha")[1],
        "api": Api(clients.s3, clients.dynamodb, RecordingSts(clients.sts), SETTINGS),
        "ledger": UploadLedger(clients.dynamodb, UPLOADS),
    }


def ask_for_url(env: dict[str, Any], token: str) -> dict[str, Any]:
    status, answer, _ = call(env["api"], "POST", "/uploads", token, body=declare())
    assert status == 201, answer
    return answer


def put_and_ingest(harness: Harness, key: str) -> dict[str, Any]:
    harness.s3.put_object(Bucket=BUCKET, Key=key, Body=CSV, IfNoneMatch="*")
    assert ingest_once(harness, key) == {"batchItemFailures": []}
    report = harness.report(report_key("alpha", key.rsplit("/", 1)[1].removesuffix(".csv")))
    assert report is not None
    return report


def test_an_upload_records_a_fingerprint_of_its_token_never_the_token(env) -> None:
    answer = ask_for_url(env, env["token"])
    item = env["ledger"].get("alpha", answer["upload_id"])
    assert item["token_fingerprint"] == token_hash(env["token"])[:TOKEN_FINGERPRINT_CHARS]
    assert all(env["token"] not in str(value) for value in item.values())
    assert "token_fingerprint" not in env["ledger"].recent("alpha", 1)[0]  # not listed


def test_a_url_of_the_current_token_ingests(env) -> None:
    report = put_and_ingest(env["harness"], ask_for_url(env, env["token"])["key"])
    assert (report["status"], report["written"]) == ("succeeded", 1)


def test_after_a_rotate_a_url_of_the_old_token_ingests_nothing_and_says_why(env) -> None:
    old = ask_for_url(env, env["token"])
    new_token = env["registry"].rotate("alpha")
    report = put_and_ingest(env["harness"], old["key"])
    assert (report["status"], report["rows"], report["written"]) == ("failed", 0, 0)
    assert [error["code"] for error in report["errors"]] == [TOKEN_ROTATED]
    assert env["harness"].count() == 0
    assert env["ledger"].get("alpha", old["upload_id"])["status"] == "failed"
    fresh = ask_for_url(env, new_token)  # the new token's URLs work
    assert put_and_ingest(env["harness"], fresh["key"])["status"] == "succeeded"


def test_after_a_revoke_a_url_ingests_nothing(env) -> None:
    old = ask_for_url(env, env["token"])
    env["registry"].revoke("alpha")
    report = put_and_ingest(env["harness"], old["key"])
    assert report["status"] == "failed" and env["harness"].count() == 0
    assert [error["code"] for error in report["errors"]] == ["provider_inactive"]


def test_an_operator_url_is_bound_to_no_token_and_survives_a_rotate(env) -> None:
    signing = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
    answer = presign_upload(
        signing, env["harness"].dynamodb, bucket=BUCKET, uploads_table=UPLOADS, provider="alpha"
    )
    assert "token_fingerprint" not in env["ledger"].get("alpha", answer["upload_id"])
    env["registry"].rotate("alpha")
    assert put_and_ingest(env["harness"], answer["key"])["status"] == "succeeded"
