"""An upload's progress while the ingest Lambda works on it, as the provider sees it through
the API (GET /uploads/<id>: {"upload_id", "status", "progress": {"rows", "bytes", "size"}}):
noted every few seconds of a run and at each checkpoint, by the run holding the lease only,
counts and never a value. Also: the time zone GET /provider gives is the one the Lambda
reads files in.
"""

from __future__ import annotations

import json

import pytest

from ingestcli.core.layout import parse_upload_key
from ingestcli.core.ledger import LeaseLost
from ingestcli.core.upload_view import upload_progress
from ingestcli.lambdas.ingest.checkpoints import CheckpointStore
from support.harness import ingest_once
from support.ingest_events import FakeContext, lambda_event, s3_event_body, sqs_record
from support.names import BUCKET
from support.upload_world import World, csv_of

ROWS = 40


@pytest.fixture
def world(clients) -> World:
    return World(clients)


class Watching(FakeContext):
    """A Lambda context that, each time the run asks how much time is left, also asks the
    API for the upload's status: what a provider polling `ingest upload --wait` sees."""

    def __init__(self, world: World, upload_id: str) -> None:
        super().__init__()
        self.world, self.path, self.seen = world, f"/uploads/{upload_id}", []

    def get_remaining_time_in_millis(self) -> int:
        self.seen.append(self.world.get(self.path)[1])
        return super().get_remaining_time_in_millis()


def test_progress_is_visible_while_a_file_is_ingested(world: World) -> None:
    body = csv_of(ROWS)
    ticket = world.create(body)
    world.land(ticket["key"], body)
    ingestor = world.env.ingestor(time_check_every_rows=4, progress_every_seconds=0)
    watching = Watching(world, ticket["upload_id"])
    event = lambda_event(sqs_record(s3_event_body(ticket["key"])))
    assert ingestor.handle_batch(event, watching) == {"batchItemFailures": []}
    first, *during = watching.seen  # asked once before the run takes the upload
    assert first == {"upload_id": ticket["upload_id"], "status": "pending", "progress": None}
    assert [seen["status"] for seen in during] == ["processing"] * (ROWS // 4)
    progress = [seen["progress"] for seen in during]
    assert [p["rows"] for p in progress] == list(range(4, ROWS + 1, 4))
    read = [p["bytes"] for p in progress]
    assert read == sorted(read) and read[0] > 0 and read[-1] == len(body)
    assert {p["size"] for p in progress} == {len(body)}
    assert all(set(p) == {"rows", "bytes", "size"} for p in progress)
    assert "LC00" not in json.dumps(watching.seen)  # counts only, never a value
    report = world.get(f"/uploads/{ticket['upload_id']}")[1]
    assert report["status"] == "succeeded" and "progress" not in report


def test_a_checkpoint_notes_the_progress_the_next_run_starts_from(world: World) -> None:
    body = csv_of(ROWS)
    ticket = world.create(body)
    world.land(ticket["key"], body)
    changes = {"time_check_every_rows": 5, "progress_every_seconds": 3600}  # no timed note
    event = lambda_event(sqs_record(s3_event_body(ticket["key"])))
    answer = world.env.ingestor(**changes).handle_batch(event, FakeContext(2))
    assert answer == {"batchItemFailures": []}
    ref = parse_upload_key(BUCKET, ticket["key"])
    saved = CheckpointStore(world.clients.s3).load(ref)
    assert saved is not None and 0 < saved.rows < ROWS
    status, seen = world.get(f"/uploads/{ticket['upload_id']}")
    assert (status, seen["status"]) == (200, "processing")
    assert seen["progress"] == {"rows": saved.rows, "bytes": saved.next_offset, "size": len(body)}
    world.env.drain(world.env.ingestor(**changes))  # the continuation finishes it
    report = world.get(f"/uploads/{ticket['upload_id']}")[1]
    assert (report["status"], report["rows"], report["written"]) == ("succeeded", ROWS, ROWS)


def test_only_the_run_holding_the_lease_notes_progress(world: World) -> None:
    upload_id = world.create(csv_of(1))["upload_id"]
    ledger = world.ledger
    with pytest.raises(LeaseLost):  # pending: nobody holds it
        ledger.note_progress("alpha", upload_id, "run-1", rows=1, read=10, size=20)
    assert ledger.acquire("alpha", upload_id, "run-1", now_ms=1, until_ms=2)
    with pytest.raises(LeaseLost):
        ledger.note_progress("alpha", upload_id, "run-2", rows=1, read=10, size=20)
    ledger.note_progress("alpha", upload_id, "run-1", rows=3, read=30, size=40)
    item = ledger.get("alpha", upload_id)
    assert upload_progress(item) == {"rows": 3, "bytes": 30, "size": 40}
    finished = {"status": "succeeded", "finished_at": "2026-01-01T00:00:00Z"}
    counts = {"rows": 3, "written": 3, "rejected": 0, "duplicates": 0}
    ledger.finish("alpha", upload_id, "run-1", finished | counts)
    assert upload_progress(ledger.get("alpha", upload_id)) is None


def test_the_zone_get_provider_gives_is_the_one_the_ingest_lambda_reads_in(world: World) -> None:
    _, token = world.registry.add("chicago", "America/Chicago")
    assert world.get("/provider", token) == (
        200,
        {"provider": "chicago", "timezone": "America/Chicago"},
    )
    body = b"medical_record_number,date_time\r\nTZ1,2024-03-01T08:00:00\r\n"  # no offset
    ticket = world.create(body, token)
    world.land(ticket["key"], body)
    assert ingest_once(world.env, ticket["key"]) == {"batchItemFailures": []}
    [record] = world.records_of("chicago")
    assert record["date_time"]["S"] == "2024-03-01T14:00:00.000000Z"  # CST is UTC-6
