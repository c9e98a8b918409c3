"""docs/support-policy.json, the least privilege of support staff, read as IAM reads it."""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cache
from typing import Any

from support.paths import SUPPORT_POLICY

PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackName"}
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@cache
def policy() -> dict[str, Any]:
    return json.loads(SUPPORT_POLICY.read_text("utf-8"))


def statements() -> list[dict[str, Any]]:
    return policy()["Statement"]


def statements_for(values: dict[str, str]) -> list[dict[str, Any]]:
    """The statements that apply to a stack with these outputs: one naming an output the
    stack lacks (KmsKeyArn, on a stack without a KMS key) is left out, as the README says."""
    return [
        statement
        for statement in statements()
        if all(
            name in values
            for resource in as_list(statement["Resource"])
            for name in PLACEHOLDER.findall(resource)
        )
    ]


def filled_policy(values: dict[str, str]) -> dict[str, Any]:
    """The policy as support staff apply it to one stack: its statements, filled."""
    document = dict(policy(), Statement=statements_for(values))
    return json.loads(filled(json.dumps(document), values))


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def conditions_hold(statement: dict[str, Any], params: dict[str, Any]) -> bool:
    """The statement's conditions, for the one kind it uses: StringLike on s3:prefix."""
    context = {"s3:prefix": params.get("Prefix")}
    for operator, tests in statement.get("Condition", {}).items():
        assert operator == "StringLike"
        for key, patterns in tests.items():
            value = context[key]
            if value is None or not any(
                fnmatch.fnmatchcase(value, pattern) for pattern in as_list(patterns)
            ):
                return False
    return True


def filled(resource: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], resource)
