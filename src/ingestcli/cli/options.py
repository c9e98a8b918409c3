"""What every command shares: named errors turned into one line and an exit code, the
common options, and the settings and boto3 clients a command works with."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import tzinfo
from enum import StrEnum
from typing import Annotated, TypeVar

import typer

from ingestcli.errors import IngestError

Command = TypeVar("Command", bound=Callable[..., None])


def reports_errors(command: Command) -> Command:
    """Turn the core's named errors into one line on stderr and their exit code."""

    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        from ingestcli.cli.render.output import print_error

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


def time_zone(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    from ingestcli.core.contract import resolve_time_zone

    try:
        return resolve_time_zone(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


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


def settings_for(profile: str | None, *, allow_new: bool = False, **options: str | None):
    from ingestcli.services import config

    return config.resolve(profile, allow_new=allow_new, **options)


def clients_for(settings, *services: str) -> list:
    """boto3 clients for the settings' AWS profile, region and endpoint."""
    from ingestcli.services import session as aws

    target = aws.AwsTarget.from_settings(settings)
    session = aws.session(target)
    return [aws.client(session, service, target) for service in services]


def confirm(question: str) -> bool:
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:  # no answer on standard input
        return False


def stack_output(settings, name: str) -> str:
    """A resource name from the profile's saved stack outputs, or else from the stack itself
    (so a support engineer's `ingest query` works without a deploy on their machine)."""
    from ingestcli.errors import ConfigError

    outputs = dict(settings.outputs)
    if name not in outputs:
        from ingestcli.deploy.stack import stack_outputs
        from ingestcli.services.session import aws_errors

        (cfn,) = clients_for(settings, "cloudformation")
        with aws_errors():
            outputs = stack_outputs(cfn, settings.stack_name)
    if name not in outputs:
        raise ConfigError(
            f"stack {settings.stack_name} has no output {name}: run `ingest deploy` to update it"
        )
    return outputs[name]


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
]
