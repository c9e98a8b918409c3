"""Human output of `ingest deploy`, `destroy` and `status`, with rich: logical ids, ARNs and
URLs are ids, shown whole at any width (a table becomes blocks, a value its own line)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.markup import escape

from ingestcli.cli.render.fit import ID, Column, print_rows
from ingestcli.cli.render.output import stdout
from ingestcli.deploy.artifact import UploadArtifact
from ingestcli.deploy.models import ChangeSet, DeployPlan, DestroyPlan
from ingestcli.deploy.stack import StackEvent
from ingestcli.deploy.status import StackStatus

_ACTION_STYLE = {"Add": "green", "Modify": "yellow", "Remove": "red"}


def render_plan(plan: DeployPlan) -> None:
    for note in plan.notes:
        stdout.print(f"[dim]note:[/] {escape(note)}")
    for step in plan.steps:
        if isinstance(step, UploadArtifact):
            where = f"s3://{step.bucket}/{step.key}"
            verb = "already uploaded" if step.exists else "uploading"
            stdout.print(f"Lambda code: {verb} {escape(where)}")


def render_change_set(change_set: ChangeSet) -> None:
    if not change_set.changes:
        stdout.print(f"[bold]No changes:[/] stack {change_set.stack_name} is up to date.")
        return
    columns = [
        Column("Action", ID),
        Column("Logical id", ID),
        Column("Type", ID),
        Column("Replacement", ID),
    ]
    rows = [
        [
            f"[{_ACTION_STYLE[change.action]}]{change.action}[/]"
            if change.action in _ACTION_STYLE
            else escape(change.action),
            escape(change.logical_id),
            escape(change.resource_type),
            escape(change.replacement or ""),
        ]
        for change in change_set.changes
    ]
    kind = "create" if change_set.change_set_type == "CREATE" else "update"
    stdout.print(f"Change set to {kind} stack [bold]{escape(change_set.stack_name)}[/]:")
    print_rows(stdout, columns, rows, boxed=False, title="CHANGE")


def render_event(event: StackEvent) -> None:
    """One line per stack event, as it happens."""
    colour = "red" if event.failed else "green" if event.status.endswith("COMPLETE") else "cyan"
    reason = f"  {escape(event.reason)}" if event.reason else ""
    stdout.print(
        f"{event.timestamp:%H:%M:%S}  [{colour}]{event.status:<24}[/] "
        f"{escape(event.logical_id)} [dim]{event.resource_type}[/]{reason}"
    )


def render_outputs(outputs: dict[str, str], title: str = "Outputs") -> None:
    """Each output's name and value (a name, an ARN, a URL: an id, never cut or folded):
    the value beside its name when it fits the console, else whole on the next line, where
    the terminal wraps it only if it is wider than the whole console."""
    if not outputs:
        return
    stdout.print(title)
    names = max(cell_len(key) for key in outputs)
    room = stdout.width - names - 3
    for key, value in sorted(outputs.items()):
        if cell_len(value) <= room:
            line = f" [bold]{escape(key)}[/]{' ' * (names - cell_len(key))}  {escape(value)}"
            stdout.print(line, soft_wrap=True)
        else:
            stdout.print(f" [bold]{escape(key)}[/]", soft_wrap=True)
            stdout.print(escape(value), soft_wrap=True)  # from column 1, for the widest


def render_destroy_plan(plan: DestroyPlan, *, dry_run: bool = False) -> None:
    """What goes and what stays, before the prompt (or instead of acting, on a dry run)."""
    if dry_run:
        heading = (
            f"Deleting stack [bold]{plan.stack_name}[/] would remove {len(plan.deleted)} "
            f"resources; {len(plan.kept)} would keep their data:"
        )
    else:
        heading = (
            f"Deleting stack [bold]{plan.stack_name}[/]: {len(plan.deleted)} resources go, "
            f"{len(plan.kept)} keep their data:"
        )
    stdout.print(heading)
    for kept in plan.kept:
        resource = kept.resource
        stdout.print(f"  kept: {resource.resource_type} {escape(resource.physical_id)}")


def render_kept(plan: DestroyPlan) -> None:
    if not plan.kept:
        return
    stdout.print("\nKept, with their data. To remove them by hand (this cannot be undone):")
    for kept in plan.kept:
        resource = kept.resource
        stdout.print(f"\n[bold]{resource.resource_type}[/] {escape(resource.physical_id)}")
        for command in kept.commands:
            stdout.print(f"  {escape(command)}")


def render_status(status: StackStatus) -> None:
    healthy = status.status.endswith("_COMPLETE") and "ROLLBACK" not in status.status
    colour = "green" if healthy else "red"
    stdout.print(
        f"Stack [bold]{status.name}[/]: [{colour}]{status.status}[/] "
        f"(last updated {status.last_updated:%Y-%m-%d %H:%M:%S %Z})"
    )
    if status.reason:
        stdout.print(f"  {escape(status.reason)}")
    render_outputs(status.outputs)
    for queue in status.queues:
        line = (
            f"{queue.name}: {queue.visible:,} waiting, {queue.in_flight:,} in flight, "
            f"{queue.delayed:,} delayed"
        )
        if queue.name == "dead-letter queue" and queue.visible + queue.in_flight:
            stdout.print(
                f"[bold yellow]warning:[/] {line}: files failed repeatedly; "
                "see their reports, then redrive or delete the messages"
            )
        else:
            stdout.print(line)
