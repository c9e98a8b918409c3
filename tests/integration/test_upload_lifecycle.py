"""An upload's life after its URL is handed out, on moto, through the real API and the real
ingest Lambda: abandoned (POST /uploads/<id>/abandon) and expired (derived, never stored).
What must never happen: a file that arrived is lost (an abandoned upload still ingests it),
or an upload whose file landed is called expired. (Progress while a run ingests a file:
tests/integration/test_upload_progress.py.)
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from ingestcli.core.status import NEVER_ARRIVED, UploadStatus
from ingestcli.core.upload_view import shown_status
from support.api_calls import call
from support.harness import ingest_once
from support.upload_world import World, csv_of


@pytest.fixture
def world(clients: Any) -> World:
    return World(clients)


# --------------------------------------------------------------------------- abandon


def test_abandoning_a_pending_upload_answers_its_summary(world: World) -> None:
    ticket = world.create(csv_of(3))
    upload_id = ticket["upload_id"]
    status, summary = world.abandon(upload_id)
    assert status == 200
    assert summary == world.listed()[upload_id]
    assert summary["status"] == "abandoned" and summary["key"] == ticket["key"]
    assert summary["counts"] is None
    assert world.abandon(upload_id) == (200, summary)  # a retried request answers alike
    assert world.ledger.get("alpha", upload_id)["status"] == "abandoned"
    assert world.get(f"/uploads/{upload_id}") == (
        200,
        {"upload_id": upload_id, "status": "abandoned", "progress": None},
    )


def test_an_upload_whose_file_arrived_cannot_be_abandoned(world: World) -> None:
    body = csv_of(3)
    taken = world.create(body)["upload_id"]
    assert world.ledger.acquire("alpha", taken, "run-1", now_ms=1, until_ms=2)
    status, answer = world.abandon(taken)
    assert (status, answer["error"]["code"]) == (409, "upload_not_pending")
    assert world.ledger.get("alpha", taken)["status"] == "processing"

    ticket = world.create(body)
    world.land(ticket["key"], body)
    assert ingest_once(world.env, ticket["key"]) == {"batchItemFailures": []}
    status, answer = world.abandon(ticket["upload_id"])
    assert (status, answer["error"]["code"]) == (409, "upload_not_pending")
    assert world.listed()[ticket["upload_id"]]["status"] == "succeeded"


def test_another_providers_upload_is_unknown_and_untouched(world: World) -> None:
    theirs = world.create(csv_of(3), world.bravo)["upload_id"]
    status, answer = world.abandon(theirs)  # alpha's token
    assert (status, answer["error"]["code"]) == (404, "upload_not_found")
    assert world.ledger.get("bravo", theirs)["status"] == "pending"
    assert world.ledger.get("alpha", theirs) is None
    unknown = "20260101T000000000Z-abcdefghij"
    assert world.abandon(unknown)[0] == 404
    assert world.ledger.get("alpha", unknown) is None  # the update made no item
    status, answer = world.abandon("not-an-id!")
    assert (status, answer["error"]["code"]) == (400, "invalid_upload_id")
    status, _, response = call(world.api, "GET", f"/uploads/{theirs}/abandon", world.bravo)
    assert (status, response["headers"]["allow"]) == (405, "POST")
    for token in (None, world.alpha[:-1] + "x"):
        assert call(world.api, "POST", f"/uploads/{theirs}/abandon", token)[0] == 401
    assert world.ledger.get("bravo", theirs)["status"] == "pending"


def test_a_file_that_reaches_an_abandoned_upload_is_still_ingested(world: World) -> None:
    """The interrupt may come after S3 stored the file: it is never lost."""
    body = csv_of(5)
    ticket = world.create(body)
    assert world.abandon(ticket["upload_id"])[1]["status"] == "abandoned"
    world.land(ticket["key"], body)
    assert ingest_once(world.env, ticket["key"]) == {"batchItemFailures": []}
    status, report = world.get(f"/uploads/{ticket['upload_id']}")
    assert (status, report["status"], report["written"]) == (200, "succeeded", 5)
    assert len(world.records_of("alpha")) == 5
    listed = world.listed()[ticket["upload_id"]]
    assert listed["status"] == "succeeded"
    assert listed["counts"] == {"rows": 5, "written": 5, "rejected": 0, "duplicates": 0}


# --------------------------------------------------------------------------- expired


def record_s3(world: World) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    world.clients.s3.meta.events.register(
        "before-parameter-build.s3",
        lambda params, model, **_: calls.append((model.name, dict(params))),
    )
    return calls


def test_expired_only_once_the_url_ran_out_with_no_file_at_its_key(world: World) -> None:
    body = csv_of(4)
    ticket = world.create(body)
    upload_id, key, path = ticket["upload_id"], ticket["key"], f"/uploads/{ticket['upload_id']}"
    assert world.get(path)[1]["status"] == "pending"
    world.now = datetime.fromisoformat(ticket["expires_at"]) + timedelta(seconds=1)
    calls = record_s3(world)
    assert world.get(path)[1] == {"upload_id": upload_id, "status": "expired", "progress": None}
    assert world.listed()[upload_id]["status"] == "expired"
    # The file is looked for by listing its one key: never read, never HEAD.
    on_uploads = [(name, params) for name, params in calls if "/uploads/" in json.dumps(params)]
    assert on_uploads and all(
        (name, params.get("Prefix"), params.get("MaxKeys")) == ("ListObjectsV2", key, 1)
        for name, params in on_uploads
    )
    world.land(key + ".bak", b"a neighbour, not the upload's file")
    assert world.get(path)[1]["status"] == "expired"

    world.land(key, body)  # it landed before the URL ran out, and waits in the queue
    assert world.get(path)[1]["status"] == "pending"
    assert world.listed()[upload_id]["status"] == "pending"
    assert world.ledger.get("alpha", upload_id)["status"] == "pending"  # nothing was stored
    assert ingest_once(world.env, key) == {"batchItemFailures": []}
    assert world.get(path)[1]["status"] == "succeeded"


def test_an_expired_upload_can_be_abandoned_and_then_shows_so(world: World) -> None:
    ticket = world.create(csv_of(2))
    world.now = datetime.fromisoformat(ticket["expires_at"]) + timedelta(minutes=5)
    assert world.listed()[ticket["upload_id"]]["status"] == "expired"
    assert world.abandon(ticket["upload_id"]) == (200, world.listed()[ticket["upload_id"]])
    assert world.listed()[ticket["upload_id"]]["status"] == "abandoned"
    assert {UploadStatus.ABANDONED, UploadStatus.EXPIRED} == NEVER_ARRIVED


def test_the_derivation_asks_about_the_key_only_when_it_could_matter() -> None:
    now = datetime.fromisoformat("2026-01-01T12:00:00Z")
    asked: list[str] = []

    def nothing_there(key: str) -> bool:
        asked.append(key)
        return False

    item = {"status": "pending", "key": "a/uploads/k.csv", "expires_at": "2026-01-01T11:59:59Z"}
    assert shown_status(item, now, nothing_there) == "expired"
    assert shown_status(item, now, lambda key: True) == "pending"
    later = item | {"expires_at": "2026-01-01T12:00:01Z"}
    for unexpired in (later, item | {"status": "processing"}, item | {"status": "abandoned"}):
        asked.clear()
        assert shown_status(unexpired, now, nothing_there) == unexpired["status"]
        assert asked == []
    assert shown_status(item | {"expires_at": "soon"}, now, nothing_there) == "pending"
