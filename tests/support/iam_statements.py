"""The statements the IAM-enforced tier takes out one at a time: every statement of each
role in the bundled template (a Kms statement only with KMS on), of the signer's session
policy as the API builds it (a multipart session's, which holds the one-PUT session's
statements and more), and of docs/support-policy.json; and single actions of them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ingestcli.lambdas.api.signer import session_policy
from support.iam_policy import statements as support_statements
from support.policy_check import Principal
from support.template import template

ROLES = {"ingest": "IngestFunctionRole", "api": "ApiFunctionRole", "signer": "UploadSignerRole"}
DEPLOYS = ("default", "kms")


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str | dict) else list(value)


def statement_id(statement: dict[str, Any]) -> str:
    """Its Sid, or its actions for a statement without one."""
    return statement.get("Sid") or "+".join(_listed(statement["Action"]))


def actions_of(statement: dict[str, Any]) -> list[str]:
    return _listed(statement["Action"])


def _resolved(entries: list[Any], kms: bool) -> list[dict[str, Any]]:
    """Statements as deployed: a `!If [UseKms, statement, NoValue]` kept only with KMS on."""
    kept = []
    for entry in entries:
        if "Fn::If" in entry:
            condition, when_true, _ = entry["Fn::If"]
            assert condition == "UseKms", condition
            if kms:
                kept.append(when_true)
        else:
            kept.append(entry)
    return kept


def role_statements(who: str, kms: bool) -> list[dict[str, Any]]:
    """The template's statements of a role, its separate AWS::IAM::Policy ones included."""
    resources = template()["Resources"]
    logical = ROLES[who]
    documents = [p["PolicyDocument"] for p in resources[logical]["Properties"]["Policies"]]
    documents += [
        r["Properties"]["PolicyDocument"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": logical} in r["Properties"]["Roles"]
    ]
    return [s for d in documents for s in _resolved(d["Statement"], kms)]


def session_statements(kms: bool) -> list[dict[str, Any]]:
    key = "arn:aws:kms:us-east-1:123456789012:key/k" if kms else ""
    role = "arn:aws:iam::123456789012:role/signer"
    return session_policy(role, "bucket", "a/uploads/k.csv", key, multipart=True)["Statement"]


def statements_of(who: str, kms: bool) -> list[dict[str, Any]]:
    if who == "signer-session":
        return session_statements(kms)
    if who == "support":  # the KMS statement names an output only a KMS stack has
        return [s for s in support_statements() if kms or "KmsKeyArn" not in str(s)]
    return role_statements(who, kms)


def statement_cases() -> list[Any]:
    """(deploy, "who:statement") for every statement of every deploy."""
    cases = []
    for deploy in DEPLOYS:
        for who in (*ROLES, "signer-session", "support"):
            for statement in statements_of(who, deploy == "kms"):
                case = f"{who}:{statement_id(statement)}"
                cases.append(pytest.param(deploy, case, id=f"{deploy}-{case}"))
    return cases


def _cut(policy: dict[str, Any], sid: str, action: str | None = None) -> dict[str, Any]:
    """The policy less statement `sid`, or with `action` only taken out of that statement."""
    kept = []
    for statement in _listed(policy["Statement"]):
        if statement_id(statement) != sid:
            kept.append(statement)
        elif action is not None:
            actions = [a for a in actions_of(statement) if a.lower() != action.lower()]
            kept += [statement | {"Action": actions}] if actions else []
    return policy | {"Statement": kept}


def without_statement(
    stack: Any, who: str, sid: str, action: str | None = None
) -> tuple[dict[str, Principal], dict]:
    """The stack's principals with statement `sid` (or only its `action`) taken out of
    `who`'s policies (of every session of that role), and the statement as the template or
    the code has it."""
    kms = bool(stack.kms_key)
    (statement,) = [s for s in statements_of(who, kms) if statement_id(s) == sid]
    name = "signer" if who == "signer-session" else who
    changed = {}
    found = 0
    for key, principal in stack.principals.items():
        if principal.name != name:
            changed[key] = principal
            continue
        if who == "signer-session":
            before = principal.session_policy
            after = dataclasses.replace(principal, session_policy=_cut(before, sid, action))
        else:
            policies = tuple(_cut(p, sid, action) for p in principal.policies)
            after = dataclasses.replace(principal, policies=policies)
        found += 1
        changed[key] = after
    assert found, f"no session of {who} in the tier"
    return changed, statement
