"""The plans of `ingest deploy` and `ingest destroy`, and what CloudFormation answered.

Plain data, no clients: a planner returns a plan, the CLI shows it, and only then does an
executor act on it, so a dry run is the plan shown and nothing more. The artifact steps
(EnsureArtifactBucket, UploadArtifact) live with the code that plans them, in artifact.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingestcli.deploy.artifact import EnsureArtifactBucket, UploadArtifact


@dataclass(frozen=True)
class CreateChangeSet:
    """A deploy step: the change set to create, everything CreateChangeSet is sent."""

    stack_name: str
    change_set_name: str
    change_set_type: str  # CREATE or UPDATE
    parameters: dict[str, str]
    previous: tuple[str, ...]  # parameters that keep the stack's current value
    template_body: str = field(repr=False)


Step = EnsureArtifactBucket | UploadArtifact | CreateChangeSet


@dataclass(frozen=True)
class DeployPlan:
    """What deploy will do, in order. A dry run creates the change set only, then deletes it."""

    stack_name: str
    steps: tuple[Step, ...]
    dry_run: bool
    notes: tuple[str, ...]  # for the user, e.g. why a parameter was set for them


@dataclass(frozen=True)
class ResourceChange:
    """One row of a change set, as the user is shown it before saying yes."""

    action: str  # Add, Modify, Remove...
    logical_id: str
    resource_type: str
    replacement: str | None  # "True", "False", "Conditional" for a Modify

    @classmethod
    def from_api(cls, change: dict[str, Any]) -> ResourceChange:
        return cls(
            action=change.get("Action", ""),
            logical_id=change.get("LogicalResourceId", ""),
            resource_type=change.get("ResourceType", ""),
            replacement=change.get("Replacement"),
        )


@dataclass(frozen=True)
class ChangeSet:
    """A described change set. Not executable once deleted: no changes, or a dry run."""

    id: str | None  # None when CloudFormation refused to create one for lack of changes
    stack_id: str | None
    stack_name: str
    change_set_type: str
    changes: tuple[ResourceChange, ...]
    executable: bool


@dataclass(frozen=True)
class StackResource:
    """A resource of the stack, by the ids CloudFormation and its own service know it by."""

    logical_id: str
    resource_type: str
    physical_id: str


@dataclass(frozen=True)
class KeptResource:
    """A resource the stack retains on delete, and the commands that remove it by hand."""

    resource: StackResource
    commands: tuple[str, ...]


@dataclass(frozen=True)
class DestroyPlan:
    """What destroy deletes and what it keeps; the stack id, so it is followed to the end."""

    stack_name: str
    stack_id: str
    deleted: tuple[StackResource, ...]
    kept: tuple[KeptResource, ...]
