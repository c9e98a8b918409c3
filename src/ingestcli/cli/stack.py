"""Operator commands for the stack: deploy, destroy, status."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from ingestcli.cli.exits import EXIT_OK, EXIT_PROBLEMS, reports_errors
from ingestcli.cli.options import (
    AwsProfileOption,
    EndpointOption,
    FormatOption,
    OutputFormat,
    ProfileOption,
    RegionOption,
    StackOption,
    YesOption,
    clients_for,
    confirm,
    settings_for,
)


@reports_errors
def deploy(
    stack_name: StackOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY=VALUE", help="A template parameter; repeat for more."),
    ] = None,
    yes: YesOption = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the change set, then delete it.")
    ] = False,
) -> None:
    """Create or update the stack: show its change set, then apply it."""
    from ingestcli.cli.render.output import stdout
    from ingestcli.cli.render.stack import (
        render_change_set,
        render_event,
        render_outputs,
        render_plan,
    )
    from ingestcli.deploy.executor import DeployExecutor
    from ingestcli.deploy.planner import DeployPlanner, parse_parameters
    from ingestcli.deploy.stack import stack_outputs
    from ingestcli.services import config
    from ingestcli.services import session as aws

    settings = settings_for(
        profile,
        allow_new=True,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    cfn, s3, sts = clients_for(settings, "cloudformation", "s3", "sts")
    endpoint = aws.endpoint_in_use(aws.AwsTarget.from_settings(settings))
    plan = DeployPlanner(cfn, s3, sts).plan(
        settings.stack_name,
        parse_parameters(parameter or []),
        endpoint_url=endpoint,
        dry_run=dry_run,
    )
    render_plan(plan)
    executor = DeployExecutor(cfn, s3)
    change_set = executor.prepare(plan)
    render_change_set(change_set)
    if dry_run:
        stdout.print("Dry run: the change set was deleted and nothing changed.")
    if not change_set.executable:
        raise typer.Exit(EXIT_OK)
    if not yes and not confirm(f"Apply these changes to stack {settings.stack_name}?"):
        executor.discard(change_set)
        stdout.print("Cancelled: the change set was deleted and nothing changed.")
        raise typer.Exit(EXIT_PROBLEMS)
    for event in executor.execute(change_set):
        render_event(event)
    outputs = stack_outputs(cfn, settings.stack_name)
    # An endpoint is saved only when given as an option: one from the environment stays there.
    endpoint_option = {"endpoint_url": endpoint_url} if endpoint_url else {}
    path = config.save_outputs(
        settings.profile,
        outputs,
        stack_name=settings.stack_name,
        region=cfn.meta.region_name,
        **endpoint_option,
    )
    render_outputs(outputs)
    stdout.print(f"Saved as profile '{settings.profile}' in {path}.")


@reports_errors
def destroy(
    stack_name: StackOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
    yes: YesOption = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go and what stays, then stop.")
    ] = False,
) -> None:
    """Delete the stack; the bucket and tables keep their data and are listed."""
    from ingestcli.cli.render.output import stdout
    from ingestcli.cli.render.stack import render_destroy_plan, render_event, render_kept
    from ingestcli.deploy.executor import DestroyExecutor
    from ingestcli.deploy.planner import DestroyPlanner
    from ingestcli.services import config

    settings = settings_for(
        profile,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    (cfn,) = clients_for(settings, "cloudformation")
    plan = DestroyPlanner(cfn).plan(settings.stack_name)
    render_destroy_plan(plan, dry_run=dry_run)
    if dry_run:
        stdout.print("Dry run: nothing was deleted.")
        raise typer.Exit(EXIT_OK)
    if not yes and not confirm(f"Delete stack {settings.stack_name}?"):
        stdout.print("Cancelled: nothing was deleted.")
        raise typer.Exit(EXIT_PROBLEMS)
    for event in DestroyExecutor(cfn).execute(plan):
        render_event(event)
    config.save_outputs(settings.profile, {})
    render_kept(plan)


@reports_errors
def status(
    stack_name: StackOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
    output_format: FormatOption = OutputFormat.text,
) -> None:
    """Show the stack's state, its outputs and the depth of its queues."""
    from ingestcli.cli.render import output
    from ingestcli.deploy.status import read_status

    settings = settings_for(
        profile,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    cfn, sqs = clients_for(settings, "cloudformation", "sqs")
    state = read_status(cfn, sqs, settings.stack_name)
    if output_format is OutputFormat.json:
        document = dataclasses.asdict(state)
        document["last_updated"] = state.last_updated.isoformat()
        output.print_json(document)
    else:
        from ingestcli.cli.render.stack import render_status

        render_status(state)
