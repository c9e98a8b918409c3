"""docs/support-policy.json on its own: named actions on named resources, placeholders that
name the template's resources and outputs, reports readable and nothing else of the bucket.
(That it allows exactly the calls the support commands make, on a stack deployed into moto:
tests/integration/test_support_policy.py.)"""

from __future__ import annotations

import fnmatch

from ingestcli.core.layout import report_key
from support.iam_policy import PLACEHOLDER, PSEUDO, as_list, conditions_hold, policy, statements
from support.template import template

ARN_SERVICE_TYPES = {"dynamodb": "AWS::DynamoDB::Table", "s3": "AWS::S3::Bucket"}


def test_the_policy_only_allows_named_actions_on_named_resources() -> None:
    assert policy()["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in statements()]
    assert len(set(sids)) == len(sids)
    for statement in statements():
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert all("*" not in action for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"]):  # an ARN, or an output that is one
            assert resource.startswith("arn:") or PLACEHOLDER.fullmatch(resource), resource


def test_placeholders_name_the_templates_resources_and_outputs() -> None:
    resources, outputs = template()["Resources"], template()["Outputs"]
    parameters = template()["Parameters"]
    for statement in statements():
        for resource in as_list(statement["Resource"]):
            for name in PLACEHOLDER.findall(resource):
                if name in PSEUDO:
                    continue
                if name in parameters:  # an ARN given to the stack (KmsKeyArn), as an output
                    assert outputs[name]["Value"] == {"Ref": name}, name
                    continue
                service = PLACEHOLDER.sub("x", resource).split(":")[2]
                # Filled from `ingest status` (an output), or by !Sub inside the template.
                assert resources[name]["Type"] == ARN_SERVICE_TYPES[service], resource
                assert outputs[name]["Value"] == {"Ref": name}, name


def test_reports_are_readable_and_listable_but_never_uploads_or_rejects() -> None:
    readable = [
        resource
        for statement in statements()
        if "s3:GetObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    api_grants = template()["Resources"]["ApiFunctionRole"]["Properties"]["Policies"][0]
    api_reports = next(
        grant
        for grant in api_grants["PolicyDocument"]["Statement"]
        if grant.get("Sid") == "ReadReports"
    )
    assert api_reports["Resource"] == {"Fn::Sub": "${UploadsBucket.Arn}/*/reports/*"}
    assert readable == ["arn:${AWS::Partition}:s3:::${UploadsBucket}/*/reports/*"]
    bucket = "arn:${AWS::Partition}:s3:::${UploadsBucket}/"
    for provider in ("acme", "reports"):
        assert fnmatch.fnmatchcase(bucket + report_key(provider, "u1"), readable[0])
        for kind in ("uploads/2024/03/01", "rejects", "checkpoints"):
            assert not fnmatch.fnmatchcase(f"{bucket}{provider}/{kind}/u1.csv", readable[0])
    (listing,) = [s for s in statements() if "s3:ListBucket" in as_list(s["Action"])]
    assert conditions_hold(listing, {"Prefix": report_key("acme", "u1")})
    # an upload's own key, to tell an expired URL from a file the queue has yet to deliver
    assert conditions_hold(listing, {"Prefix": "acme/uploads/2024/03/01/u1.csv"})
    for prefix in (None, "", "acme/", "acme/rejects/u1.csv", "acme/checkpoints/u1/1.json"):
        assert not conditions_hold(listing, {"Prefix": prefix}), prefix


def test_the_providers_table_is_read_one_item_at_a_time_and_no_other_way() -> None:
    table = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
    on_providers = [
        action
        for statement in statements()
        if any(r.startswith(table + "${ProvidersTable}") for r in as_list(statement["Resource"]))
        for action in as_list(statement["Action"])
    ]
    # GetItem, to check that --provider names an active provider: never a Scan or Query,
    # which would list every provider, and never a write.
    assert on_providers == ["dynamodb:GetItem"]
    for statement in statements():
        for resource in as_list(statement["Resource"]):
            assert not resource.startswith(table) or not resource.endswith("*"), resource


def test_the_stacks_key_decrypts_only_through_s3_and_dynamodb() -> None:
    (grant,) = [s for s in statements() if "kms:Decrypt" in as_list(s["Action"])]
    assert as_list(grant["Action"]) == ["kms:Decrypt"] and grant["Resource"] == "${KmsKeyArn}"
    assert grant["Condition"] == {
        "StringEquals": {
            "kms:ViaService": [
                "s3.${AWS::Region}.amazonaws.com",
                "dynamodb.${AWS::Region}.amazonaws.com",
            ]
        }
    }
    assert template()["Outputs"]["KmsKeyArn"]["Condition"] == "UseKms"
