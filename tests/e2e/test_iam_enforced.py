"""The IAM-enforced tier: the bundled template deployed into a moto server that enforces
IAM (support.iam_moto, with its documented patches), each function run in-process under
its own role (support.iam_enforced), once for the default deploy and once with KMS on.

moto checks each call's action and resource against the caller's identity policies; what
it skips (conditions, session policies, KMS key policies, the ListBucket behind a 404) is
checked by support.policy_check on every recorded call. A full ingest with continuations,
every API route and the support policy's commands run; then every role statement (and each
statement of the signer's session policy and of the support policy) is taken out in turn:
the recorded calls are evaluated again without it, and the call it allowed must be refused.
That re-evaluation, rather than a re-run of the flow per statement, keeps the tier to one
run per deploy; that the evaluator and moto agree where moto checks is shown by the full
run passing both.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from ingestcli.core.ledger import UploadLedger
from ingestcli.services.providers import ProviderRegistry
from support.api_calls import declare, event
from support.iam_calls import Call, Where, denied
from support.iam_enforced import Enforced, Function, poll_queue
from support.iam_enforced import deploy as deploy_stack
from support.iam_moto import ADMIN_REQUESTS, spawn, stop
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


def api_call(api: Function, method: str, path: str, token: str, **parts: Any) -> tuple[int, Any]:
    answer = api.invoke(event(method, path, token, **parts))
    return answer["statusCode"], json.loads(answer["body"])


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
    assert {u["status"] for u in listed["uploads"]} == {"partial", "abandoned", "expired"}


@pytest.mark.parametrize("deploy", DEPLOYS)
def test_the_support_policy_runs_the_support_commands(
    tiers: Callable[[str], Tier], deploy: str
) -> None:
    tier = tiers(deploy)
    found = tier.answers["support"]
    assert found["records"] == 1
    assert found["report"]["written"] == GOOD_ROWS
    assert {u["status"] for u in found["uploads"]} == {"partial", "abandoned", "expired"}
    assert [c for c in tier.calls if c.access_key == found["key"] and c.status >= 400] == []


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
    refused = [r for r in refusals(tier, tier.stack.principals) if r[2] == who]
    assert [f"{call} needs {request}" for call, request, _ in refused] == []


@pytest.mark.parametrize(("deploy", "case"), statement_cases())
def test_removing_a_statement_refuses_the_call_it_allows(
    tiers: Callable[[str], Tier], deploy: str, case: str
) -> None:
    tier = tiers(deploy)
    stack = tier.stack
    who, sid = case.split(":", 1)
    principals, statement = without_statement(stack, who, sid)
    before = refusals(tier, stack.principals)
    refused = [found for found in refusals(tier, principals) if found not in before]
    assert refused, f"nothing the tier does needs {case}"
    call, request, caller = refused[0]
    actions = actions_of(statement)
    assert request.action in actions, f"{case}: {caller} refused {request} ({call})"
