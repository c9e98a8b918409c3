"""Human output of `ingest deploy`, `destroy` and `status`, with rich."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

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
    table = Table(header_style="bold")
    table.add_column("Action", no_wrap=True)
    table.add_column("Logical id", overflow="fold")
    table.add_column("Type", overflow="fold")
    table.add_column("Replacement")
    for change in change_set.changes:
        style = _ACTION_STYLE.get(change.action, "")
        table.add_row(
            f"[{style}]{change.action}[/]" if style else change.action,
            escape(change.logical_id),
            change.resource_type,
            change.replacement or "",
        )
    kind = "create" if change_set.change_set_type == "CREATE" else "update"
    stdout.print(f"Change set to {kind} stack [bold]{change_set.stack_name}[/]:")
    stdout.print(table)


def render_event(event: StackEvent) -> None:
    """One line per stack event, as it happens."""
    colour = "red" if event.failed else "green" if event.status.endswith("COMPLETE") else "cyan"
    reason = f"  {escape(event.reason)}" if event.reason else ""
    stdout.print(
        f"{event.timestamp:%H:%M:%S}  [{colour}]{event.status:<24}[/] "
        f"{escape(event.logical_id)} [dim]{event.resource_type}[/]{reason}"
    )


def render_outputs(outputs: dict[str, str], title: str = "Outputs") -> None:
    if not outputs:
        return
    table = Table(title=title, title_justify="left", show_header=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in sorted(outputs.items()):
        table.add_row(key, escape(value))
    stdout.print(table)


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
