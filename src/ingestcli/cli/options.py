"""What every command shares: the common options, and the settings and boto3 clients a
command works with (named errors become exit codes in exits.py)."""

from __future__ import annotations

import re
from datetime import tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ingestcli.core.multipart import MAX_PART_JOBS

if TYPE_CHECKING:
    from ingestcli.services.config import Settings


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def time_zone(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    from ingestcli.core.date_time import resolve_time_zone

    try:
        return resolve_time_zone(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="ingest profile in ~/.config/ingest/config.toml [env: INGEST_PROFILE]; for an "
        "AWS profile use --aws-profile.",
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
AwsProfileOption = Annotated[
    str | None,
    typer.Option(
        "--aws-profile",
        metavar="NAME",
        help="AWS profile for credentials, as in ~/.aws/config [env: AWS_PROFILE]; --profile "
        "names an ingest profile.",
    ),
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


def stack_output(settings: Settings, name: str) -> str:
    """A resource name from the profile's saved stack outputs, or else from the stack itself
    (so a support engineer's `ingest query` works without a deploy on their machine)."""
    from ingestcli.deploy.stack import output_value

    return output_value(
        name,
        saved=settings.outputs,
        stack_name=settings.stack_name,
        cfn=lambda: clients_for(settings, "cloudformation")[0],
    )


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
]


_SIZE = re.compile(r"([0-9]{1,15})\s*(B|KB|KIB|K|MB|MIB|M|GB|GIB|G)?", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def byte_size(text: str | int) -> int:
    """A size such as 64MB, 5MiB, 1G or 1048576; K, M and G are binary (MB = MiB), as the
    AWS CLI reads its multipart settings."""
    if isinstance(text, int):
        return text
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise typer.BadParameter("give a size such as 64MB, 16MiB or 1GB (MB = MiB)")
    return int(match[1]) * _UNITS[(match[2] or "").upper()[:1]]


def _size_option(envvar: str, default: str, help: str, *names: str) -> Any:
    """An option that takes a size (byte_size), also read from `envvar`."""
    return typer.Option(
        *names, parser=byte_size, metavar="SIZE", envvar=envvar, show_default=default, help=help
    )


ThresholdOption = Annotated[
    int,
    _size_option(
        "INGEST_MULTIPART_THRESHOLD",
        "64MB",
        "Send files larger than this in parts, resumably (MB = MiB).",
        "--multipart-threshold",
    ),
]
PartSizeOption = Annotated[
    int, _size_option("INGEST_PART_SIZE", "16MB", "The size of each part, 5MB to 5GB.")
]
PartJobsOption = Annotated[
    int,
    typer.Option(
        min=1, max=MAX_PART_JOBS, metavar="N", help="How many parts of a file to send at once."
    ),
]
