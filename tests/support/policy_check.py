"""A minimal, strict IAM evaluator for what moto does not evaluate: conditions, session
policies and KMS key policies.

No maintained library evaluates a request against policies offline: iam-ape computes an
entity's effective permissions from an account's authorization details and carries
conditions along unevaluated; policyuniverse parses and summarises policies; parliament and
cloudsplaining lint them. So this module implements the part of AWS's evaluation logic the
stack uses, and refuses (raises Unsupported) whatever it does not implement rather than
guess:
- an explicit Deny in any policy wins; otherwise the identity policies must allow, and so
  must the session policy when the session has one (they intersect);
- KMS: the key policy must allow, either the principal itself or the account (its root),
  which delegates to the identity policies (and the session policy);
- Action/NotAction match case-insensitively with * and ?; Resource/NotResource
  case-sensitively; a condition key missing from the request fails its condition (no
  ...IfExists is used here); an unknown condition operator raises.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from typing import Any


class Unsupported(Exception):
    """A policy uses something this evaluator does not implement: extend it, never guess."""


@dataclass(frozen=True)
class Request:
    """One IAM authorisation: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


@dataclass(frozen=True)
class Principal:
    """Who calls: their ARN, identity policies, the session policy if any, and account."""

    name: str
    arn: str
    account: str
    policies: tuple[dict[str, Any], ...]
    session_policy: dict[str, Any] | None = None


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str | dict) else list(value or [])


@functools.cache  # the IAM tier evaluates some 250 calls against a few dozen patterns, often
def _pattern(text: str, *, case: bool) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(text), 0 if case else re.IGNORECASE)


def _matches(patterns: Any, value: str, *, case: bool) -> bool:
    return any(_pattern(p, case=case).match(value) for p in _listed(patterns))


def _string_like(expected: str, actual: str) -> bool:
    return bool(_pattern(expected, case=True).match(actual))


_OPERATORS = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringLike": _string_like,
    "ArnEquals": lambda expected, actual: expected == actual,
    "ArnLike": _string_like,
    "Bool": lambda expected, actual: str(expected).lower() == actual.lower(),
}


def conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    """Every operator's every key holds (any of its values); a missing key fails."""
    for operator, tests in conditions.items():
        compare = _OPERATORS.get(operator)
        if compare is None:
            raise Unsupported(f"condition operator {operator}")
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None or not any(compare(value, actual) for value in _listed(expected)):
                return False
    return True


def _as_arn(name: str) -> str:
    """A principal as an ARN: a bare account id is that account's root."""
    return f"arn:aws:iam::{name}:root" if re.fullmatch(r"\d{12}", name) else name


def _applies(statement: dict[str, Any], request: Request, principal: str | None) -> bool:
    if "Action" in statement:
        if not _matches(statement["Action"], request.action, case=False):
            return False
    elif _matches(statement["NotAction"], request.action, case=False):
        return False
    if "Resource" in statement:
        if not _matches(statement["Resource"], request.resource, case=True):
            return False
    elif "NotResource" in statement and _matches(
        statement["NotResource"], request.resource, case=True
    ):
        return False
    if principal is not None:  # a resource policy: the statement must name the caller
        named = statement.get("Principal", {})
        aws = "*" if named == "*" else _listed(named.get("AWS", []))
        aws = aws if aws == "*" else [_as_arn(name) for name in aws]
        if aws != "*" and "*" not in aws and principal not in aws:
            return False
    return conditions_hold(statement.get("Condition", {}), request.context)


def decide(policy: dict[str, Any], request: Request, principal: str | None = None) -> str:
    """'deny', 'allow' or 'none' (neither: an implicit deny)."""
    verdicts = {
        statement["Effect"]
        for statement in _listed(policy["Statement"])
        if _applies(statement, request, principal)
    }
    return "deny" if "Deny" in verdicts else "allow" if "Allow" in verdicts else "none"


def _by_identity(who: Principal, request: Request) -> str:
    verdicts = [decide(policy, request) for policy in who.policies]
    if "deny" in verdicts:
        return "deny"
    allowed = "allow" in verdicts
    if who.session_policy is not None:
        session = decide(who.session_policy, request)
        if session == "deny":
            return "deny"
        allowed = allowed and session == "allow"
    return "allow" if allowed else "none"


def allowed(who: Principal, request: Request, key_policy: dict[str, Any] | None = None) -> bool:
    """Whether AWS would allow `request` to `who`; a KMS request needs `key_policy`."""
    identity = _by_identity(who, request)
    if not request.action.lower().startswith("kms:"):
        return identity == "allow"
    if key_policy is None:
        raise Unsupported(f"{request}: no key policy given")
    if identity == "deny":
        return False
    root = f"arn:aws:iam::{who.account}:root"
    if decide(key_policy, request, who.arn) == "allow" and (
        who.session_policy is None or decide(who.session_policy, request) == "allow"
    ):
        return True
    return decide(key_policy, request, root) == "allow" and identity == "allow"


def without(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    """The policy less its statement `sid`."""
    kept = [s for s in _listed(policy["Statement"]) if s.get("Sid") != sid]
    assert len(kept) < len(_listed(policy["Statement"])), sid
    return policy | {"Statement": kept}
