"""`ingest check` as data: its links, the plan it runs (every name from the stack) and the
verdicts it reaches. `plan_check` turns the stack's description into a CheckPlan, or breaks
the first link (a stack not settled, an output missing, no API URL); the runner is check.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ingestcli.core.layout import PROVIDER_ID
from ingestcli.deploy.planner import UPDATABLE
from ingestcli.deploy.stack import outputs_of
from ingestcli.services.check_verdicts import Broken
from ingestcli.services.providers import CANARY_PREFIX

HOLDS, BROKEN, NOT_RUN = "holds", "broken", "not run"
CLEANED, LEFT = "cleaned", "left"
LINKS = ("stack", "provider", "api", "upload", "report", "records", "parts")
NEEDED_OUTPUTS = (
    "UploadsBucket",
    "RecordsTable",
    "ProvidersTable",
    "UploadsTable",
    "QueueUrl",
    "DeadLetterQueueUrl",
)
DEFAULT_TIMEOUT = 120.0
# The canary's rows: offsets given (it has no time zone), no patient data.
ROWS = tuple((f"canary-{n}", f"2000-01-01T00:00:0{n}Z") for n in (1, 2, 3))
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class Verdict:
    link: str
    state: str  # HOLDS, BROKEN, NOT_RUN; for a clean-up step CLEANED or LEFT
    detail: str
    look_at: str = ""

    @property
    def cause(self) -> str:
        """What broke, in a few words: the detail up to its first ": "."""
        return self.detail.split(": ", 1)[0]

    def as_dict(self) -> dict[str, str]:
        return asdict(self) | ({"cause": self.cause} if self.state in (BROKEN, LEFT) else {})


@dataclass(frozen=True)
class CheckPlan:
    """What the check will do, against what: every name comes from the stack."""

    stack_name: str
    canary: str
    api_url: str
    api_url_source: str
    outputs: Mapping[str, str]
    timeout: float

    def places(self) -> dict[str, str]:
        """What a verdict points an operator at."""
        named = {
            "api_logs": "ApiLogGroup",
            "ingest_logs": "IngestLogGroup",
            "signer_role": "SignerRoleArn",
        }
        places = {
            key: f"the log group {self.outputs[output]}"
            if key.endswith("_logs")
            else self.outputs[output]
            for key, output in named.items()
            if output in self.outputs
        }
        return places | {
            "api_url": self.api_url,
            "api_url_source": self.api_url_source,
            "bucket": self.outputs["UploadsBucket"],
            "dlq_url": self.outputs["DeadLetterQueueUrl"],
        }


@dataclass
class CheckOutcome:
    stack_name: str
    links: list[Verdict] = field(default_factory=list)
    cleanup: list[Verdict] = field(default_factory=list)
    canary: str | None = None
    upload_id: str | None = None

    @property
    def ok(self) -> bool:
        return all(v.state == HOLDS for v in self.links) and all(
            v.state == CLEANED for v in self.cleanup
        )

    @property
    def broken(self) -> Verdict | None:
        return next((v for v in [*self.links, *self.cleanup] if v.state in (BROKEN, LEFT)), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stack": self.stack_name,
            "canary": self.canary,
            "upload_id": self.upload_id,
            "links": [v.as_dict() for v in self.links],
            "cleanup": [v.as_dict() for v in self.cleanup],
        }


def canary_id() -> str:
    """A provider id no operator picks: the reserved prefix and 16 random characters."""
    found = CANARY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))
    assert PROVIDER_ID.fullmatch(found)
    return found


def plan_check(
    stack: Mapping[str, Any],
    *,
    api_url: tuple[str, str] | None,
    fallback_api_url: tuple[str, str] | None,
    timeout: float,
    canary: str | None = None,
) -> CheckPlan:
    """The plan for a described stack; Broken (the stack link) when the stack is not
    settled, lacks an output, or no API URL is known. `api_url` (given as an option) beats
    the stack's ApiUrl output, which beats `fallback_api_url` (environment or profile; the
    local stack saves its own there); each is (url, where it came from)."""
    name, status = stack.get("StackName", "?"), stack.get("StackStatus", "?")
    if status not in UPDATABLE:
        raise Broken(
            f"stack {name} is {status}",
            "its events (`ingest status`, the CloudFormation console); then `ingest deploy`",
        )
    outputs = outputs_of(dict(stack))
    missing = [output for output in NEEDED_OUTPUTS if output not in outputs]
    if missing:
        raise Broken(
            f"stack {name} lacks the outputs {', '.join(missing)}",
            "the stack's template: `ingest deploy` updates it to the bundled one",
        )
    if "ApiUrl" in outputs:
        stack_url: tuple[str, str] | None = (outputs["ApiUrl"], "the stack's ApiUrl output")
    else:
        stack_url = None
    chosen = api_url or stack_url or fallback_api_url
    if chosen is None:
        raise Broken(
            f"stack {name} has no ApiUrl output (deployed with CreateFunctionUrl=false) and "
            "no API URL is set",
            "pass --api-url with the URL that serves the API",
        )
    return CheckPlan(name, canary or canary_id(), chosen[0], chosen[1], outputs, timeout)
