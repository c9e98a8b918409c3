"""The `ingest` command line: parse options, call the core, render the result.

Exit codes: 0 success; 1 the work found problems (invalid rows, a refused header) or AWS
refused; 2 the command cannot be carried out as given (bad option, unreadable file).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import tzinfo
from enum import StrEnum
from typing import Annotated, TypeVar

import typer

from . import __version__
from .errors import EXIT_OK, EXIT_PROBLEMS, IngestError

app = typer.Typer(
    name="ingest",
    help="Upload patient-record CSV files into a validated, multi-tenant AWS pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Command = TypeVar("Command", bound=Callable[..., None])


def reports_errors(command: Command) -> Command:
    """Turn the core's named errors into one line on stderr and their exit code."""

    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        from .output import print_error

        try:
            command(*args, **kwargs)
        except IngestError as error:
            print_error(str(error))
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(130) from None

    return run  # type: ignore[return-value]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _version(show: bool) -> None:
    if show:
        typer.echo(f"ingest {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Upload patient-record CSV files into a validated, multi-tenant AWS pipeline."""


def _time_zone(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    from .contract import resolve_time_zone

    try:
        return resolve_time_zone(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
@reports_errors
def validate(
    file: Annotated[str, typer.Argument(help="The CSV file to check, or - for standard input.")],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
    ] = OutputFormat.text,
    max_errors: Annotated[
        int, typer.Option(min=0, help="Show at most this many problems (counts stay complete).")
    ] = 100,
    assume_tz: Annotated[
        str | None,
        typer.Option(
            metavar="TZ",
            help="Read date_time values that have no UTC offset in this IANA time zone, "
            "such as America/New_York.",
        ),
    ] = None,
) -> None:
    """Check a CSV file against the contract before it leaves this machine."""
    from . import files, output
    from .validate import summarize

    zone = _time_zone(assume_tz)
    name = files.display_name(file)
    with (
        files.open_binary(file) as stream,
        output.byte_progress(f"Checking {name}", files.size_of(file)) as on_progress,
    ):
        summary = summarize(stream, zone, max_errors, on_progress)
    if output_format is OutputFormat.json:
        output.print_json({"file": name, **summary.as_dict()})
    else:
        from .render import render_summary

        render_summary(summary, name)
    raise typer.Exit(EXIT_OK if summary.ok else EXIT_PROBLEMS)


ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", help="Profile in ~/.config/ingest/config.toml [env: INGEST_PROFILE]."
    ),
]
StackOption = Annotated[
    str | None,
    typer.Option("--stack-name", help="CloudFormation stack [env: INGEST_STACK_NAME; ingest]."),
]
RegionOption = Annotated[str | None, typer.Option(help="AWS region [env: AWS_REGION].")]
EndpointOption = Annotated[
    str | None,
    typer.Option(help="Send every AWS call here, e.g. a local moto [env: AWS_ENDPOINT_URL]."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _settings(profile: str | None, *, allow_new: bool = False, **options: str | None):
    from . import config

    return config.resolve(profile, allow_new=allow_new, **options)


def _clients(settings, *services: str) -> list:
    """boto3 clients for the settings' AWS profile, region and endpoint."""
    from . import aws

    target = aws.AwsTarget.from_settings(settings)
    session = aws.session(target)
    return [aws.client(session, service, target) for service in services]


def _confirm(question: str) -> bool:
    import click

    try:
        return typer.confirm(question, default=False, err=True)
    except click.exceptions.Abort:  # no answer on standard input
        return False


@app.command()
@reports_errors
def deploy(
    stack_name: StackOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
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
    from . import aws, config
    from .deploy import DeployExecutor, DeployPlanner, parse_parameters
    from .output import stdout
    from .render_stack import render_change_set, render_event, render_outputs, render_plan
    from .stack import stack_outputs

    settings = _settings(
        profile, allow_new=True, stack_name=stack_name, region=region, endpoint_url=endpoint_url
    )
    cfn, s3, sts = _clients(settings, "cloudformation", "s3", "sts")
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
    if not yes and not _confirm(f"Apply these changes to stack {settings.stack_name}?"):
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


@app.command()
@reports_errors
def destroy(
    stack_name: StackOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    yes: YesOption = False,
) -> None:
    """Delete the stack; the bucket and tables keep their data and are listed."""
    from . import config
    from .output import stdout
    from .render_stack import render_destroy_plan, render_event, render_kept
    from .stack import destroy as destroy_stack
    from .stack import plan_destroy

    settings = _settings(profile, stack_name=stack_name, region=region, endpoint_url=endpoint_url)
    (cfn,) = _clients(settings, "cloudformation")
    plan = plan_destroy(cfn, settings.stack_name)
    render_destroy_plan(plan)
    if not yes and not _confirm(f"Delete stack {settings.stack_name}?"):
        stdout.print("Cancelled: nothing was deleted.")
        raise typer.Exit(EXIT_PROBLEMS)
    for event in destroy_stack(cfn, plan):
        render_event(event)
    config.save_outputs(settings.profile, {})
    render_kept(plan)


@app.command()
@reports_errors
def status(
    stack_name: StackOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
    ] = OutputFormat.text,
) -> None:
    """Show the stack's state, its outputs and the depth of its queues."""
    from . import output
    from .stack import read_status

    settings = _settings(profile, stack_name=stack_name, region=region, endpoint_url=endpoint_url)
    cfn, sqs = _clients(settings, "cloudformation", "sqs")
    state = read_status(cfn, sqs, settings.stack_name)
    if output_format is OutputFormat.json:
        document = dataclasses.asdict(state)
        document["last_updated"] = state.last_updated.isoformat()
        output.print_json(document)
    else:
        from .render_stack import render_status

        render_status(state)


def main() -> None:
    """Console-script entry point: no traceback ever reaches the user."""
    try:
        app()
    except Exception as error:  # a bug of ours: say so in one line, without any data
        from .output import print_error

        print_error(
            f"unexpected internal error ({type(error).__name__}); please report it "
            "with the command you ran"
        )
        raise SystemExit(EXIT_PROBLEMS) from None
