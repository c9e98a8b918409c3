"""The IAM-enforced tier: the bundled template deployed into a moto server that enforces
IAM (support.iam_moto, with its documented patches), each function run in-process under
its own role (support.iam_enforced), once for the default deploy and once with KMS on.

moto checks each call's action and resource against the caller's identity policies; what
it skips (conditions, session policies, KMS key policies, the ListBucket behind a 404) is
checked by support.policy_check on every recorded call. A full ingest with continuations,
every API route, a file sent in parts (support.iam_multipart: opened, parts PUT to their
presigned URLs, listed, completed and ingested; another opened and aborted, shown as
abandoned) and the support policy's commands run; then every role statement (and each
statement of the signer's session policy and of the support policy) is taken out in turn:
the recorded calls are evaluated again without it, and the call it allowed must be refused.
That re-evaluation, rather than a re-run of the flow per statement, keeps the tier to one
run per deploy; that the evaluator and moto agree where moto checks is shown by the full
run passing both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from ingestcli.core.ledger import UploadLedger
from ingestcli.services.providers import ProviderRegistry
from support import iam_multipart
from support.api_calls import declare
from support.iam_calls import Call, Where, denied
from support.iam_enforced import Enforced, Function, poll_queue
from support.iam_enforced import deploy as deploy_stack
from support.iam_moto import ADMIN_REQUESTS, spawn, stop
from support.iam_multipart import ACTIONS, api_call
from support.iam_statements import DEPLOYS, actions_of, statement_cases, without_statement
from support.iam_support import run_support
from support.ingest_events import FakeContext, csv_bytes
from support.names import UPLOAD_ID
from support.policy_check import Principal, Request

pytestmark = pytest.mark.xdist_group("iam_enforced")

PROVIDER = "acme"
GOOD_ROWS = 1_200  # three runs: each stops at its first time check (every 500 rows)
ROWS = [
    [f"M{n:05d}", f"2024-03-01T{n // 60 % 24:02d}:{n % 60:02d}:00Z", "x"] for n in range(GOOD_ROWS)
]
BODY = csv_bytes([*ROWS, ["BAD#1", "2024-03-01T10:00:00Z", "x"], ["M99999", "not-a-date", "y"]])
EXPIRED = UPLOAD_ID
OTHER = csv_bytes([["M00001", "2024-03-02T10:00:00Z", "z"]])
# Listed: the file ingested in three runs, the upload abandoned through the API and the one
# in parts the bucket aborted, the URL that ran out, and the file sent in parts.
STATUSES = {"partial", "abandoned", "expired", "succeeded"}


@dataclass
class Tier:
    """One deploy's run, kept once its server is stopped: the stack, what each step got,
    and what the evaluator needs (the ARNs' parts and the KMS key's policy)."""

    stack: Enforced
    answers: dict[str, Any]
    where: Where
    key_policy: dict[str, Any] | None

    @property
    def calls(self) -> list[Call]:
        return self.stack.recorder.calls

    @functools.cached_property
    def refused(self) -> list[tuple[Call, Request, str]]:
        """What the evaluator refuses of the stack as deployed (nothing, when it holds)."""
        return refusals(self, self.stack.principals)


def short_runs() -> Iterator[FakeContext]:
    """Each run's context: plenty of time at its start, too little at its first check."""
    while True:
        yield FakeContext(answers_before_low=1)


def run_flow(stack: Enforced, ingest: Function, api: Function, token: str) -> dict[str, Any]:
    got: dict[str, Any] = {}
    got["provider"] = api_call(api, "GET", "/provider", token)
    # An upload whose URL ran out with nothing sent (registered as the API would have).
    UploadLedger(stack.client("dynamodb"), stack.outputs["UploadsTable"]).register(
        PROVIDER,
        EXPIRED,
        key=f"{PROVIDER}/uploads/2024/03/01/{EXPIRED}.csv",
        expires_at="2024-03-01T00:05:00.000Z",
    )
    got["expired"] = api_call(api, "GET", f"/uploads/{EXPIRED}", token)
    got["post"] = api_call(api, "POST", "/uploads", token, body=declare(BODY, "visits.csv"))
    upload_id = got["post"][1]["upload_id"]
    got["pending"] = api_call(api, "GET", f"/uploads/{upload_id}", token)
    got["post_other"] = api_call(api, "POST", "/uploads", token, body=declare(OTHER, "b.csv"))
    other = got["post_other"][1]["upload_id"]
    got["abandon"] = api_call(api, "POST", f"/uploads/{other}/abandon", token)
    url, headers = got["post"][1]["url"], got["post"][1]["headers"]
    sent = requests.put(url, data=BODY, headers=headers, timeout=30)
    stack.recorder.presigned_put(url, headers, sent.status_code)
    got["put"] = sent.status_code
    got["in_parts"] = iam_multipart.send_in_parts(stack, api, token)
    got["aborted"] = iam_multipart.abort_one(stack, api, token)
    got["runs"] = poll_queue(ingest, short_runs())
    got["report"] = api_call(api, "GET", f"/uploads/{upload_id}", token)
    got["list"] = api_call(api, "GET", "/uploads", token)
    got["upload_id"] = upload_id
    return got


def build(deploy: str) -> Tier:
    """Deploy, run the flow and the support commands, and stop the server."""
    server, endpoint = spawn(ADMIN_REQUESTS)
    try:
        stack = deploy_stack(endpoint, None, kms=deploy == "kms")
        credentials = stack.assume_execution_roles()
        ingest = Function(stack, "ingest", credentials["ingest"])
        api = Function(stack, "api", credentials["api"])
        registry = ProviderRegistry(stack.client("dynamodb"), stack.outputs["ProvidersTable"])
        token = registry.add(PROVIDER)[1]
        answers = run_flow(stack, ingest, api, token)
        answers["support"] = run_support(stack, PROVIDER, answers["upload_id"], "M00007")
        stack.signer_sessions()
        return Tier(stack, answers, stack.where(), stack.key_policy())
    finally:
        stop(server)


@pytest.fixture(scope="module")
def tiers() -> Callable[[str], Tier]:
    """Each deploy's run, made once for the module whatever order its tests run in."""
    return functools.cache(build)


@pytest.mark.parametrize("deploy", DEPLOYS)
def test_a_full_ingest_continues_across_runs_under_the_ingest_role(
    tiers: Callable[[str], Tier], deploy: str
) -> None:
    tier = tiers(deploy)
    runs = tier.answers["runs"]
    assert tier.answers["put"] == 200
    assert all(run == {"batchItemFailures": []} for run in runs)
    assert len(runs) >= 4, runs  # S3's test event, then the file in three runs
    status, report = tier.answers["report"]
    assert status == 200, report
    assert (report["status"], report["rows"], report["written"], report["rejected"]) == (
        "partial",
        GOOD_ROWS + 2,
        GOOD_ROWS,
        2,
    )
    operations = {(c.service, c.operation) for c in tier.calls}
    assert ("sqs", "SendMessage") in operations  # the continuations
    checkpoints = [c for c in tier.calls if "/checkpoints/" in c.params.get("Key", "")]
    assert {c.operation for c in checkpoints} >= {"PutObject", "GetObject", "DeleteObject"}
    refused = [str(c) for c in tier.calls if c.status in (401, 403) or c.status >= 500]
    assert refused == []


@pytest.mark.parametrize("deploy", DEPLOYS)
def test_every_api_route_answers_under_the_api_role(
    tiers: Callable[[str], Tier], deploy: str
) -> None:
    got = tiers(deploy).answers
    assert got["provider"][0] == 200
    assert got["provider"][1] == {"provider": PROVIDER, "timezone": None}
    assert got["expired"][0] == 200 and got["expired"][1]["status"] == "expired"
    assert got["post"][0] == 201 and got["post_other"][0] == 201
    assert got["pending"][0] == 200 and got["pending"][1]["status"] == "pending"
    assert got["abandon"][0] == 200 and got["abandon"][1]["status"] == "abandoned"
    status, listed = got["list"]
    assert status == 200
    assert {u["status"] for u in listed["uploads"]} == STATUSES


@pytest.mark.parametrize("deploy", DEPLOYS)
def test_a_file_sent_in_parts_is_opened_sent_completed_and_ingested(
    tiers: Callable[[str], Tier], deploy: str
) -> None:
    tier = tiers(deploy)
    got = tier.answers["in_parts"]
    assert got["open"][0] == 201 and got["open"][1]["parts"] == 2
    assert got["urls"][0] == 200 and got["sent"] == [200, 200]
    status, listed = got["listed"]
    assert (status, listed["status"], listed["open"]) == (200, "pending", True)
    sizes = [(p["part_number"], p["size"]) for p in listed["parts"]]
    assert sizes == [(n, len(part)) for n, part in enumerate(iam_multipart.PARTS, 1)]
    completed = {"upload_id": got["upload_id"], "key": got["key"], "status": "pending"}
    assert got["complete"] == (200, completed)
    uploads = tier.answers["list"][1]["uploads"]
    (listed,) = [u for u in uploads if u["upload_id"] == got["upload_id"]]
    rows = iam_multipart.ROWS
    assert listed["status"] == "succeeded"
    assert listed["counts"] == {"rows": rows, "written": rows, "rejected": 0, "duplicates": 0}
    by = {
        (c.operation, tier.stack.principals[c.access_key].name, c.status)
        for c in tier.calls
        if c.params.get("Key") == got["key"] and c.service == "s3"
    }
    assert by >= {
        ("CreateMultipartUpload", "signer", 200),
        ("UploadPart", "signer", 200),
        ("ListParts", "api", 200),
        ("CompleteMultipartUpload", "signer", 200),
        ("GetObject", "ingest", 200),
    }, by


@pytest.mark.parametrize("deploy", DEPLOYS)
def test_an_upload_in_parts_the_bucket_aborted_shows_as_abandoned(
    tiers: Callable[[str], Tier], deploy: str
) -> None:
    answers = tiers(deploy).answers
    got = answers["aborted"]
    assert got["open"][0] == 201
    status, parts = got["parts"]
    assert (status, parts["status"], parts["open"], parts["parts"]) == (200, "abandoned", False, [])
    for listed in (answers["list"][1]["uploads"], answers["support"]["uploads"]):
        assert {u["upload_id"]: u["status"] for u in listed}[got["upload_id"]] == "abandoned"


@pytest.mark.parametrize("deploy", DEPLOYS)
def test_the_support_policy_runs_the_support_commands(
    tiers: Callable[[str], Tier], deploy: str
) -> None:
    tier = tiers(deploy)
    found = tier.answers["support"]
    assert found["records"] == 1
    assert found["report"]["written"] == GOOD_ROWS
    assert {u["status"] for u in found["uploads"]} == STATUSES
    mine = [c for c in tier.calls if c.access_key == found["key"]]
    failed = [(c.operation, c.status) for c in mine if c.status >= 400]
    assert failed == [("ListParts", 404)]  # NoSuchUpload: the aborted one, shown abandoned


def refusals(tier: Tier, principals: dict[str, Principal]) -> list[tuple[Call, Request, str]]:
    return denied(tier.calls, principals, tier.where, tier.key_policy)


CALLERS = [
    pytest.param(deploy, who, id=f"{deploy}-{who}")
    for deploy in DEPLOYS
    for who in ("ingest", "api", "signer", "support")
]


@pytest.mark.parametrize(("deploy", "who"), CALLERS)
def test_every_call_is_allowed_by_the_rules_moto_skips(
    tiers: Callable[[str], Tier], deploy: str, who: str
) -> None:
    """Conditions, session policies and KMS key policies, on every call `who` made."""
    tier = tiers(deploy)
    assert any(p.name == who for p in tier.stack.principals.values())
    refused = [r for r in tier.refused if r[2] == who]
    assert [f"{call} needs {request}" for call, request, _ in refused] == []


@pytest.mark.parametrize(("deploy", "case"), statement_cases())
def test_removing_a_statement_refuses_the_call_it_allows(
    tiers: Callable[[str], Tier], deploy: str, case: str
) -> None:
    tier = tiers(deploy)
    stack = tier.stack
    who, sid = case.split(":", 1)
    principals, statement = without_statement(stack, who, sid)
    refused = [found for found in refusals(tier, principals) if found not in tier.refused]
    assert refused, f"nothing the tier does needs {case}"
    call, request, caller = refused[0]
    actions = actions_of(statement)
    assert request.action in actions, f"{case}: {caller} refused {request} ({call})"


@pytest.mark.parametrize(
    ("deploy", "case", "action", "operations"),
    [pytest.param(*found, id=f"{found[0]}-{found[1]}-{found[2]}") for found in ACTIONS],
)
def test_removing_one_action_refuses_each_multipart_call_that_needs_it(
    tiers: Callable[[str], Tier], deploy: str, case: str, action: str, operations: set[str]
) -> None:
    """A statement's one action taken out: every call refused then asks for that action,
    and among them is each operation AWS authorises with it (s3:PutObject: one PUT, and
    opening, sending parts to and completing a multipart upload)."""
    tier = tiers(deploy)
    who, sid = case.split(":", 1)
    principals, _ = without_statement(tier.stack, who, sid, action)
    refused = [found for found in refusals(tier, principals) if found not in tier.refused]
    assert {request.action for _, request, _ in refused} == {action}
    assert {call.operation for call, _, _ in refused} >= operations
