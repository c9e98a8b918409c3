"""support.policy_check, the strict evaluator of the IAM-enforced tier, against AWS's
documented rules on small policies: intersections, conditions, key policies, strictness."""

from __future__ import annotations

import pytest

from support.policy_check import Principal, Request, Unsupported, allowed, without

ACCOUNT = "123456789012"
BUCKET = "arn:aws:s3:::b"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str, resource: str, **extra: object) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def role(*policies: dict, session: dict | None = None) -> Principal:
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"
    return Principal("r", arn, ACCOUNT, policies, session)


def test_actions_match_without_case_resources_with_case_and_wildcards() -> None:
    who = role(policy(allow("s3:Get*", f"{BUCKET}/*/reports/*")))
    assert allowed(who, Request("S3:GETOBJECT", f"{BUCKET}/acme/reports/u.json"))
    assert not allowed(who, Request("s3:GetObject", f"{BUCKET}/acme/Reports/u.json"))
    assert not allowed(who, Request("s3:PutObject", f"{BUCKET}/acme/reports/u.json"))


def test_an_explicit_deny_wins_and_a_removed_statement_no_longer_allows() -> None:
    granting = policy(allow("s3:*", "*", Sid="All"))
    denying = policy({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
    assert not allowed(role(granting, denying), Request("s3:DeleteObject", f"{BUCKET}/k"))
    assert allowed(role(granting), Request("s3:DeleteObject", f"{BUCKET}/k"))
    assert not allowed(role(without(granting, "All")), Request("s3:DeleteObject", f"{BUCKET}/k"))


def test_a_session_policy_intersects_with_the_roles() -> None:
    broad = policy(allow("s3:PutObject", f"{BUCKET}/*/uploads/*"))
    one_key = policy(allow("s3:PutObject", f"{BUCKET}/a/uploads/1.csv"))
    who = role(broad, session=one_key)
    assert allowed(who, Request("s3:PutObject", f"{BUCKET}/a/uploads/1.csv"))
    assert not allowed(who, Request("s3:PutObject", f"{BUCKET}/a/uploads/2.csv"))
    assert not allowed(
        role(policy(), session=one_key), Request("s3:PutObject", f"{BUCKET}/a/uploads/1.csv")
    )


def test_a_condition_key_missing_from_the_request_fails_the_condition() -> None:
    listing = allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "*/reports/*"}})
    who = role(policy(listing))
    assert allowed(who, Request("s3:ListBucket", BUCKET, {"s3:prefix": "a/reports/u.json"}))
    assert not allowed(who, Request("s3:ListBucket", BUCKET, {"s3:prefix": "a/uploads/u.csv"}))
    assert not allowed(who, Request("s3:ListBucket", BUCKET))


def test_an_operator_it_does_not_implement_raises_rather_than_guess() -> None:
    odd = allow("s3:ListBucket", BUCKET, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    with pytest.raises(Unsupported):
        allowed(role(policy(odd)), Request("s3:ListBucket", BUCKET))


def test_kms_needs_the_key_policy_and_the_account_root_delegates_to_iam() -> None:
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*", "Resource": "*"}  # fmt: skip
    decrypt = Request("kms:Decrypt", KEY)
    granted = role(policy(allow("kms:Decrypt", KEY)))
    assert allowed(granted, decrypt, policy(root))
    assert not allowed(role(policy()), decrypt, policy(root))
    assert not allowed(granted, decrypt, policy())  # a key policy that names nobody
    with pytest.raises(Unsupported):
        allowed(granted, decrypt)
