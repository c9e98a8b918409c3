"""`ingest destroy` at the CLI layer, its planner and executor replaced by fakes: no AWS.

What is checked is the command's own logic: a dry run shows the plan and stops (exit 0, no
prompt, no executor, the saved outputs kept); without it, the prompt and `--yes` decide as
before. The planner and executor themselves: test_destroy_offline.py and, on moto,
tests/integration/test_destroy_moto.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.deploy import executor as executor_module
from ingestcli.deploy import planner as planner_module
from ingestcli.deploy.models import DestroyPlan, KeptResource, StackResource
from ingestcli.services import config
from support.names import REGION

STACK = "ops-offline"
STACK_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/0f00"
BUCKET = StackResource("UploadsBucket", "AWS::S3::Bucket", "ops-offline-uploads")
PLAN = DestroyPlan(
    stack_name=STACK,
    stack_id=STACK_ID,
    deleted=(StackResource("UploadsQueue", "AWS::SQS::Queue", "https://queue"),) * 3,
    kept=(KeptResource(BUCKET, ("aws s3api delete-bucket --bucket ops-offline-uploads",)),),
)


class Calls:
    """What the command asked of the deploy layer, in order."""

    def __init__(self) -> None:
        self.made: list[tuple[str, Any]] = []


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wide_console: int) -> Calls:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    seen = Calls()

    class FakePlanner:
        def __init__(self, cfn: Any) -> None:
            seen.made.append(("planner", cfn.meta.service_model.service_name))

        def plan(self, stack_name: str) -> DestroyPlan:
            seen.made.append(("plan", stack_name))
            return PLAN

    class FakeExecutor:
        def __init__(self, cfn: Any, **_options: Any) -> None:
            seen.made.append(("executor", cfn.meta.service_model.service_name))

        def execute(self, plan: DestroyPlan) -> Any:
            seen.made.append(("execute", plan.stack_id))
            return iter(())

    monkeypatch.setattr(planner_module, "DestroyPlanner", FakePlanner)
    monkeypatch.setattr(executor_module, "DestroyExecutor", FakeExecutor)
    return seen


def destroy(*arguments: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, ["destroy", "--stack-name", STACK, *arguments], input=stdin)


def save_outputs() -> None:
    config.save_outputs("default", {"UploadsBucket": BUCKET.physical_id}, stack_name=STACK)


def saved_outputs() -> dict[str, str]:
    return dict(config.resolve(None).outputs)


@pytest.mark.parametrize("yes", [[], ["--yes"]], ids=["asks-otherwise", "with-yes"])
def test_a_dry_run_shows_the_plan_and_changes_nothing(calls: Calls, yes: list[str]) -> None:
    save_outputs()
    result = destroy("--dry-run", *yes, stdin="y\n")  # an answer it must not read

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"Deleting stack {STACK} would remove 3 resources; 1 would keep their data:",
        f"  kept: AWS::S3::Bucket {BUCKET.physical_id}",
        "Dry run: nothing was deleted.",
    ]
    assert "Delete stack" not in result.output  # no prompt
    assert result.stderr == ""
    assert calls.made == [("planner", "cloudformation"), ("plan", STACK)]
    assert saved_outputs() == {"UploadsBucket": BUCKET.physical_id}


def test_declining_the_prompt_deletes_nothing(calls: Calls) -> None:
    save_outputs()
    result = destroy(stdin="n\n")

    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"Deleting stack {STACK}: 3 resources go, 1 keep their data:"
    )
    assert result.stdout.splitlines()[-1] == "Cancelled: nothing was deleted."
    assert f"Delete stack {STACK}? [y/N]" in result.stderr
    assert [name for name, _ in calls.made] == ["planner", "plan"]
    assert saved_outputs() == {"UploadsBucket": BUCKET.physical_id}


def test_no_answer_on_standard_input_is_a_no(calls: Calls) -> None:
    result = destroy()
    assert result.exit_code == 1
    assert "Cancelled: nothing was deleted." in result.stdout
    assert [name for name, _ in calls.made] == ["planner", "plan"]


@pytest.mark.parametrize(("arguments", "stdin"), [(["--yes"], None), ([], "y\n")])
def test_yes_or_a_y_deletes_and_forgets_the_outputs(
    calls: Calls, arguments: list[str], stdin: str | None
) -> None:
    save_outputs()
    result = destroy(*arguments, stdin=stdin)

    assert result.exit_code == 0, result.output
    assert calls.made == [
        ("planner", "cloudformation"),
        ("plan", STACK),
        ("executor", "cloudformation"),
        ("execute", STACK_ID),
    ]
    assert "Kept, with their data. To remove them by hand" in result.stdout
    assert "aws s3api delete-bucket --bucket ops-offline-uploads" in result.stdout
    assert saved_outputs() == {}
