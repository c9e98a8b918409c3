"""Tenant isolation through the provider API, as a matrix: every cell is one attempt by one
tenant (or by someone holding a forged or stale token) at something that is not theirs.

Two providers, alpha and bravo, share one stack on moto (the in-process `Api` handler, as in
test_api.py). Each has a finished upload with a report (and a rejects file) and a pending
upload. Reports carry a marker string of their owner, so a body that shows another tenant's
report, upload id, key prefix or marker is caught whatever the status code says.

All cells share one world (a moto account costs about half a second to set up): a cell
that adds an upload records it, one that revokes or rotates has the providers put back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ingestcli.core.layout import parse_upload_key
from ingestcli.lambdas.api.auth import UNAUTHORIZED
from support.api_calls import altered, call, declare
from support.moto_account import moto_account
from support.names import BUCKET, PROVIDERS
from support.tenants import Tenant, World, make_world

REFUSED = {"error": {"code": "unauthorized", "message": UNAUTHORIZED}}


@pytest.fixture(scope="module")
def shared() -> Iterator[World]:
    """One world for the module, in its own moto account."""
    with pytest.MonkeyPatch.context() as environment:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            environment.delenv(name, raising=False)
        with moto_account() as clients:
            yield make_world(clients)


@pytest.fixture
def quiet(shared: World) -> Iterator[World]:
    """The shared world, with no STS call recorded yet."""
    shared.sts.calls.clear()
    yield shared


@pytest.fixture
def world(quiet: World) -> Iterator[World]:
    """The shared world for a test that revokes or rotates: the providers are put back after."""
    dynamodb = quiet.clients.dynamodb
    saved = dynamodb.scan(TableName=PROVIDERS, ConsistentRead=True)["Items"]
    yield quiet
    for item in saved:
        dynamodb.put_item(TableName=PROVIDERS, Item=item)


def assert_nothing_of(other: Tenant, body: Any) -> None:
    """The body names none of the other tenant's uploads, keys, reports or token."""
    text = json.dumps(body)
    for secret in (other.marker, other.finished, other.pending, f"{other.name}/", other.secret):
        assert secret not in text


# --------------------------------------------------------------------------- forged tokens

ROUTES: dict[str, Callable[[World], tuple[str, str]]] = {
    "POST /uploads": lambda w: ("POST", "/uploads"),
    "GET /uploads": lambda w: ("GET", "/uploads"),
    "GET alpha's upload": lambda w: ("GET", f"/uploads/{w['alpha'].finished}"),
    "GET bravo's upload": lambda w: ("GET", f"/uploads/{w['bravo'].finished}"),
}


def _secret_swapped_to_fullwidth(token: str) -> str:
    prefix, secret = token.rsplit(".", 1)
    return f"{prefix}.{chr(0xFF21)}{secret[1:]}"  # FULLWIDTH LATIN CAPITAL LETTER A


# Each value is the Authorization header a caller sends (None: no header at all). None of
# them is alpha's or bravo's current token, however close.
FORGED: dict[str, Callable[[World], str | None]] = {
    "no header": lambda w: None,
    "empty header": lambda w: "",
    "scheme only": lambda w: "Bearer",
    "empty token": lambda w: "Bearer ",
    "bravo's id with alpha's secret": lambda w: f"Bearer ingest.bravo.{w['alpha'].secret}",
    "alpha's id with bravo's secret": lambda w: f"Bearer ingest.alpha.{w['bravo'].secret}",
    "unknown id with alpha's secret": lambda w: f"Bearer ingest.zulu.{w['alpha'].secret}",
    "last character changed": lambda w: f"Bearer {altered(w['alpha'].token)}",
    "secret truncated": lambda w: f"Bearer {w['alpha'].token[:-1]}",
    "secret padded": lambda w: f"Bearer {w['alpha'].token}=",
    "extra dot inside": lambda w: f"Bearer ingest.alpha.x.{w['alpha'].secret}",
    "extra dot at the end": lambda w: f"Bearer {w['alpha'].token}.",
    "extra dot at the start": lambda w: f"Bearer .{w['alpha'].token}",
    "dots doubled": lambda w: f"Bearer {w['alpha'].token.replace('.', '..')}",
    "token lowercased": lambda w: f"Bearer {w['alpha'].token.lower()}",
    "token uppercased": lambda w: f"Bearer {w['alpha'].token.upper()}",
    "other prefix": lambda w: f"Bearer token.alpha.{w['alpha'].secret}",
    "two tokens": lambda w: f"Bearer {w['alpha'].token} {w['bravo'].token}",
    "token without scheme": lambda w: w["alpha"].token,
    "basic scheme": lambda w: f"Basic {w['alpha'].token}",
    "token scheme": lambda w: f"Token {w['alpha'].token}",
    "NUL after the token": lambda w: f"Bearer {w['alpha'].token}\x00",
    "look-alike character": lambda w: f"Bearer {_secret_swapped_to_fullwidth(w['alpha'].token)}",
    "very long secret": lambda w: f"Bearer {w['alpha'].token}{'A' * 65_536}",
    "very long header": lambda w: "Bearer " + "A" * 1_000_000,
    "the stored hash": lambda w: (
        "Bearer "
        + w.clients.dynamodb.get_item(TableName=PROVIDERS, Key={"providerId": {"S": "alpha"}})[
            "Item"
        ]["token_sha256"]["S"]
    ),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("forged", FORGED)
def test_a_forged_or_tampered_token_gets_the_same_401(quiet: World, forged: str, route: str):
    world = quiet
    header = FORGED[forged](world)
    headers = {} if header is None else {"authorization": header}
    method, path = ROUTES[route](world)
    before = world.stored_uploads()
    status, body, _ = call(world.api, method, path, headers=headers, body=declare())
    assert (status, body) == (401, REFUSED)
    assert world.sts.calls == []  # nothing was signed
    assert world.stored_uploads() == before  # nothing was registered


@pytest.mark.parametrize("spelling", ["bearer {}", "BEARER {}", "  Bearer   {}  "])
def test_the_scheme_is_case_insensitive_and_never_changes_the_tenant(
    quiet: World, spelling: str
) -> None:
    """RFC 7235: the scheme name is case-insensitive (test_api.py pins this too). A spelling
    of it is the same credential: alpha's token, alpha's uploads, never bravo's."""
    world = quiet
    headers = {"authorization": spelling.format(world["alpha"].token)}
    status, body, _ = call(world.api, "GET", "/uploads", headers=headers)
    assert status == 200
    assert {upload["upload_id"] for upload in body["uploads"]} == world["alpha"].uploads
    assert_nothing_of(world["bravo"], body)


# --------------------------------------------------------------------------- reads across

DIRECTIONS = {"alpha at bravo": ("alpha", "bravo"), "bravo at alpha": ("bravo", "alpha")}


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    status: int
    code: str | None = None  # the error code, when status is not 200
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def _plant(world: World, me: Tenant, other: Tenant) -> Attempt:
    """A report under my prefix named after the other tenant's upload id: still not mine."""
    world.clients.s3.put_object(
        Bucket=BUCKET, Key=f"{me.name}/reports/{other.finished}.json", Body=b'{"planted": 1}'
    )
    return Attempt("GET", f"/uploads/{other.finished}", 404, "upload_not_found")


READS: dict[str, Callable[[World, Tenant, Tenant], Attempt]] = {
    "its finished upload": lambda w, me, other: Attempt(
        "GET", f"/uploads/{other.finished}", 404, "upload_not_found"
    ),
    "its pending upload": lambda w, me, other: Attempt(
        "GET", f"/uploads/{other.pending}", 404, "upload_not_found"
    ),
    "its upload, trailing slash": lambda w, me, other: Attempt(
        "GET", f"/uploads/{other.finished}/", 404, "upload_not_found"
    ),
    "its upload, provider in the query": lambda w, me, other: Attempt(
        "GET",
        f"/uploads/{other.finished}",
        404,
        "upload_not_found",
        query=f"provider={other.name}&providerId={other.name}",
    ),
    "its upload, provider in a header": lambda w, me, other: Attempt(
        "GET",
        f"/uploads/{other.finished}",
        404,
        "upload_not_found",
        headers={"x-provider-id": other.name, "x-amz-meta-provider": other.name},
    ),
    "its upload, with a report planted under my prefix": _plant,
    "its upload, provider in the path": lambda w, me, other: Attempt(
        "GET", f"/uploads/{other.name}/{other.finished}", 404, "not_found"
    ),
    "its report key as the path": lambda w, me, other: Attempt(
        "GET", f"/{other.name}/reports/{other.finished}.json", 404, "not_found"
    ),
    "its report, dot-dot path": lambda w, me, other: Attempt(
        "GET", f"/uploads/../{other.name}/reports/{other.finished}", 404, "not_found"
    ),
    "its upload, encoded slash": lambda w, me, other: Attempt(
        "GET", f"/uploads/{other.name}%2F{other.finished}", 400, "invalid_upload_id"
    ),
    "the list": lambda w, me, other: Attempt("GET", "/uploads", 200),
    "the list, at its largest": lambda w, me, other: Attempt(
        "GET", "/uploads", 200, query="limit=100"
    ),
    "the list, provider in the query": lambda w, me, other: Attempt(
        "GET", "/uploads", 200, query=f"provider={other.name}&providerId={other.name}"
    ),
    "the list, provider in a header": lambda w, me, other: Attempt(
        "GET", "/uploads", 200, headers={"x-provider-id": other.name}
    ),
}


@pytest.mark.parametrize("attempt", READS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_token_never_reads_another_tenants_uploads(
    quiet: World, direction: str, attempt: str
) -> None:
    world = quiet
    me, other = (world[name] for name in DIRECTIONS[direction])
    planned = READS[attempt](world, me, other)
    status, body, _ = call(
        world.api,
        planned.method,
        planned.path,
        me.token,
        query=planned.query,
        headers=planned.headers,
    )
    assert status == planned.status, body
    if status == 200:
        assert {upload["upload_id"] for upload in body["uploads"]} == me.uploads
        assert all(upload["key"].startswith(f"{me.name}/uploads/") for upload in body["uploads"])
    else:
        assert body["error"]["code"] == planned.code
    assert_nothing_of(other, body)
    assert world.ledger.get(me.name, other.finished) is None


# --------------------------------------------------------------------------- writes across

WRITES: dict[str, Callable[[Tenant], dict[str, Any]]] = {
    "a plain request": lambda other: {"body": declare()},
    "provider fields in the body": lambda other: {
        "body": declare(provider=other.name, providerId=other.name, provider_id=other.name)
    },
    "key and upload id in the body": lambda other: {
        "body": declare(key=f"{other.name}/uploads/2024/01/01/x.csv", upload_id=other.finished)
    },
    "traversal in the file name": lambda other: {
        "body": declare(filename=f"../../{other.name}/uploads/x.csv")
    },
    "a key as the file name": lambda other: {
        "body": declare(filename=f"/{other.name}/uploads/2024/01/01/x.csv")
    },
    "backslashes in the file name": lambda other: {
        "body": declare(filename=f"..\\..\\{other.name}\\uploads\\x.csv")
    },
    "provider in the query": lambda other: {"body": declare(), "query": f"provider={other.name}"},
    "provider in a header": lambda other: {
        "body": declare(),
        "headers": {"x-provider-id": other.name, "x-amz-meta-provider": other.name},
    },
}


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_new_upload_is_always_under_the_callers_own_prefix(
    quiet: World, direction: str, write: str
) -> None:
    world = quiet
    me, other = (world[name] for name in DIRECTIONS[direction])
    others_before = world.ledger.recent(other.name, 100)
    status, body, _ = call(world.api, "POST", "/uploads", me.token, **WRITES[write](other))
    assert status == 201, body
    key, upload_id = body["key"], body["upload_id"]
    me.uploads.add(upload_id)
    assert key.startswith(f"{me.name}/uploads/") and key.endswith(f"/{upload_id}.csv")
    ref = parse_upload_key(BUCKET, key)
    assert ref is not None and (ref.provider, ref.upload_id) == (me.name, upload_id)
    assert f"/{key}" in body["url"] and f"/{other.name}/" not in body["url"]
    [(request, _)] = world.sts.calls
    assert request["RoleSessionName"] == me.name
    [statement] = json.loads(request["Policy"])["Statement"]
    assert statement["Resource"] == f"arn:aws:s3:::{BUCKET}/{key}"
    assert world.ledger.get(me.name, upload_id)["key"] == key
    assert world.ledger.get(other.name, upload_id) is None
    assert world.ledger.recent(other.name, 100) == others_before
    assert_nothing_of(other, body)


# --------------------------------------------------------------------------- revoke, rotate

OWN_ROUTES: dict[str, Callable[[Tenant], tuple[str, str, int]]] = {
    "POST /uploads": lambda t: ("POST", "/uploads", 201),
    "GET /uploads": lambda t: ("GET", "/uploads", 200),
    "GET its own upload": lambda t: ("GET", f"/uploads/{t.finished}", 200),
}


@pytest.mark.parametrize("route", OWN_ROUTES)
@pytest.mark.parametrize("change", ["revoke alpha", "rotate alpha"])
def test_a_revoked_or_rotated_out_token_stops_while_the_other_tenant_works(
    world: World, change: str, route: str
) -> None:
    alpha, bravo = world["alpha"], world["bravo"]
    new = None
    if change == "revoke alpha":
        world.registry.revoke("alpha")
    else:
        new = world.registry.rotate("alpha")
    method, path, ok = OWN_ROUTES[route](alpha)
    status, body, _ = call(world.api, method, path, alpha.token, body=declare())
    assert (status, body) == (401, REFUSED)
    assert world.sts.calls == []
    if new is not None:  # the new token is alpha's, with alpha's uploads
        status, body, _ = call(world.api, method, path, new, body=declare())
        assert status == ok, body
        assert_nothing_of(bravo, body)
    method, path, ok = OWN_ROUTES[route](bravo)
    status, body, _ = call(world.api, method, path, bravo.token, body=declare())
    assert status == ok, body
    if route == "GET its own upload":
        assert body["errors"][0]["message"] == bravo.marker
    assert_nothing_of(alpha, body)
