"""The CloudFormation template `ingest deploy` ships, read for its shape only.

Deploy needs the template's parameter names (to refuse a typo before any AWS call) and
destroy needs to know which resources it retains (to list them, and how to remove them by
hand). Both read the same parsed Template, from the package or from the deployed stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from ingestcli.errors import DeployError

CODE_PARAMETERS = ("ArtifactBucket", "ArtifactKey")  # set by deploy, never by the user


class _TemplateLoader(yaml.SafeLoader):
    """Reads short-form intrinsics (!Ref, !Sub...) as plain values: only the shape matters."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_TemplateLoader.add_multi_constructor("!", _untagged)


@dataclass(frozen=True)
class Template:
    """A stack template: its text, its parameter names, the resources it retains."""

    body: str = field(repr=False)
    parameters: tuple[str, ...]
    retained: dict[str, str]  # logical id -> resource type, for DeletionPolicy: Retain

    @classmethod
    def parse(cls, body: str) -> Template:
        """YAML or JSON (JSON is YAML); a SafeLoader, so no objects are ever built."""
        document = yaml.load(body, Loader=_TemplateLoader)
        return cls(
            body=body,
            parameters=tuple(document.get("Parameters", {})),
            retained={
                logical_id: resource["Type"]
                for logical_id, resource in document.get("Resources", {}).items()
                if resource.get("DeletionPolicy") == "Retain"
            },
        )

    def check_parameters(self, parameters: Mapping[str, str]) -> None:
        """Refuse keys the template does not have, and the keys deploy sets itself."""
        settable = [name for name in self.parameters if name not in CODE_PARAMETERS]
        for key in parameters:
            if key in CODE_PARAMETERS:
                raise DeployError(f"parameter {key} is set by ingest deploy itself")
            if key not in self.parameters:
                raise DeployError(f"unknown parameter {key}: valid ones are {', '.join(settable)}")


@cache
def bundled_template() -> Template:
    """The template inside the package (templates/ingest.yaml; the wheel holds a copy)."""
    return Template.parse((files("ingestcli") / "templates" / "ingest.yaml").read_text("utf-8"))
