"""The shipped CloudFormation template, read once, and tables keyed as it keys them."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import yaml

from support.paths import TEMPLATE

# The resources the template keeps when the stack is deleted (DeletionPolicy: Retain).
RETAINED = {
    "AccessLogsBucket": "AWS::S3::Bucket",
    "UploadsBucket": "AWS::S3::Bucket",
    "RecordsTable": "AWS::DynamoDB::Table",
    "ProvidersTable": "AWS::DynamoDB::Table",
    "UploadsTable": "AWS::DynamoDB::Table",
}


class _TaggedLoader(yaml.SafeLoader):
    """Reads !Ref X as {"Ref": X} and !Fn X as {"Fn::Fn": X}, keeping what they point at."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_TaggedLoader.add_multi_constructor("!", _tagged)


@cache
def _parsed() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text("utf-8"), Loader=_TaggedLoader)


def template() -> dict[str, Any]:
    """The shipped CloudFormation template, intrinsics kept as their long forms: a copy of
    its one parse, so a test that edits what it gets cannot change what the next one reads."""
    return copy.deepcopy(_parsed())


def table_keys(logical_id: str) -> dict[str, Any]:
    """KeySchema and AttributeDefinitions of a table, as the template declares them."""
    properties = template()["Resources"][logical_id]["Properties"]
    return {name: properties[name] for name in ("KeySchema", "AttributeDefinitions")}


def make_table(dynamodb: Any, name: str, logical_id: str) -> str:
    """A table keyed as the shipped template keys `logical_id`."""
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **table_keys(logical_id))
    return name
